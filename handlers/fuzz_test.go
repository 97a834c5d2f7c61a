package handlers_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/handlers"
)

// Whatever the query string, the trace search answers 200 or 400 with a
// JSON body, never a server error, and never more traces than exist.
func FuzzTraceSearch(f *testing.F) {
	for _, q := range []string{
		"stage=rerank", "status=error&min_duration=250ms", "name=%27%20OR%201%3D1%20--", "attr=k%3Dv",
		"from=now-15m&to=now", "cursor=1-00112233445566778899aabbccddeeff", "limit=1000", "from=2025-01-02T15:04:05Z",
		"run=%22%3B%20DROP%20TABLE%20spans%3B%20--", "min_duration=1e308", "to=-1", "%zz",
	} {
		f.Add(q)
	}
	store, err := collector.OpenSQLite(filepath.Join(f.TempDir(), "fuzz.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { store.Close() })
	const traces = 30
	if _, err := collector.GenerateSynthetic(f.Context(), store, traces, 7); err != nil {
		f.Fatal(err)
	}
	srv := handlers.New(store, nil)
	f.Cleanup(func() { srv.Close() })
	f.Fuzz(func(t *testing.T, query string) {
		if strings.ContainsAny(query, " #\r\n\t") {
			return // not a query string a client can send
		}
		req := httptest.NewRequest(http.MethodGet, "/api/traces", nil)
		req.Host = "127.0.0.1:7318" // not httptest's example.com, which the host guard refuses
		req.URL.RawQuery = query
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK:
			var l handlers.TraceList
			if err := json.Unmarshal(rec.Body.Bytes(), &l); err != nil || len(l.Traces) > traces {
				t.Fatalf("?%s: %d traces, %v", query, len(l.Traces), err)
			}
		case http.StatusBadRequest:
			var e handlers.ErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" {
				t.Fatalf("?%s: 400 without a JSON message: %s", query, rec.Body)
			}
		default:
			t.Fatalf("?%s: status %d %s", query, rec.Code, rec.Body)
		}
	})
}
