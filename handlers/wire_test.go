package handlers_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/stagescope/stagescope/handlers"
	"github.com/stagescope/stagescope/spans"
)

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// otlpJSON is a one-span OTLP/HTTP JSON export request.
func otlpJSON(id spans.TraceID, name string, start time.Time) string {
	nm, _ := json.Marshal(name)
	return fmt.Sprintf(`{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"live-test"}}]},`+
		`"scopeSpans":[{"scope":{"name":"test"},"spans":[{"traceId":"%s","spanId":"%s","name":%s,"kind":1,`+
		`"startTimeUnixNano":"%d","endTimeUnixNano":"%d","status":{"code":1}}]}]}]}`,
		id, spans.NewSpanID(), nm, start.UnixNano(), start.Add(25*time.Millisecond).UnixNano())
}

func httptestRecorder(srv *handlers.Server, method, path string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	var body *strings.Reader
	if method == http.MethodPost {
		body = strings.NewReader("{}")
	} else {
		body = strings.NewReader("")
	}
	req := httptest.NewRequest(method, path, body)
	req.Host = "127.0.0.1:7318" // not httptest's example.com, which the host guard refuses
	req.Header.Set("Content-Type", "application/json")
	srv.Handler().ServeHTTP(rec, req)
	return rec
}
