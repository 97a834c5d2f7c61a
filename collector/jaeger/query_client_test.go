package jaeger_test

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stagescope/stagescope/collector/jaeger"
	"github.com/stagescope/stagescope/spans"
)

// fakeQueryAPI answers every request with status and body, and remembers
// the last request's URL.
func fakeQueryAPI(t *testing.T, status int, body string) (*jaeger.QueryClient, *url.URL) {
	t.Helper()
	var last url.URL
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		last = *r.URL
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	qc, err := jaeger.NewQueryClient(srv.URL + "/prefix/")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(qc.Close)
	return qc, &last
}

const traceHex = "4bf92f3577b34da6a3ce929d0e0e4736"

func TestQueryClientErrors(t *testing.T) {
	ctx := context.Background()
	id, _ := spans.ParseTraceID(traceHex)
	t.Run("404 from Jaeger is not found", func(t *testing.T) {
		qc, _ := fakeQueryAPI(t, 404, `{"error":{"httpCode":404,"message":"No traces found"}}`)
		if _, err := qc.GetTrace(ctx, id); !errors.Is(err, jaeger.ErrTraceNotFound) {
			t.Fatalf("GetTrace: %v, want ErrTraceNotFound", err)
		}
		got, err := qc.FindTraces(ctx, jaeger.Query{Service: "svc"})
		if err != nil || len(got) != 0 {
			t.Fatalf("FindTraces: %v, %v; want no traces and no error", got, err)
		}
	})
	t.Run("404 from something else is an error", func(t *testing.T) {
		qc, _ := fakeQueryAPI(t, 404, "404 page not found")
		_, err := qc.GetTrace(ctx, id)
		var se *jaeger.StatusError
		if errors.Is(err, jaeger.ErrTraceNotFound) || !errors.As(err, &se) || se.Code != 404 || se.Message != "404 page not found" {
			t.Fatalf("GetTrace: %v, want a 404 StatusError", err)
		}
		if _, err := qc.FindTraces(ctx, jaeger.Query{Service: "svc"}); !errors.As(err, &se) {
			t.Fatalf("FindTraces: %v, want a StatusError", err)
		}
	})
	t.Run("500", func(t *testing.T) {
		qc, _ := fakeQueryAPI(t, 500, `{"error":{"httpCode":500,"message":"search depth must be greater than 0"}}`)
		_, err := qc.Services(ctx)
		var se *jaeger.StatusError
		if !errors.As(err, &se) || se.Code != 500 || se.Message != "search depth must be greater than 0" {
			t.Fatalf("Services: %v, want a 500 StatusError with Jaeger's message", err)
		}
		if !strings.Contains(err.Error(), "/prefix/api/v3/services") {
			t.Fatalf("error %q does not name the URL", err)
		}
	})
	t.Run("malformed JSON", func(t *testing.T) {
		for name, body := range map[string]string{
			"truncated":   `{"result":{"resourceSpans":[`,
			"not json":    `<html>`,
			"no result":   `{}`,
			"bad span id": `{"result":{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"` + traceHex + `","spanId":"xyz"}]}]}]}}`,
			"bad time":    `{"result":{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"` + traceHex + `","spanId":"00f067aa0ba902b7","startTimeUnixNano":"soon"}]}]}]}}`,
		} {
			qc, _ := fakeQueryAPI(t, 200, body)
			if _, err := qc.GetTrace(ctx, id); !errors.Is(err, jaeger.ErrMalformedAnswer) {
				t.Errorf("%s: GetTrace: %v, want ErrMalformedAnswer", name, err)
			}
		}
		qc, _ := fakeQueryAPI(t, 200, `{"services":"one"}`)
		if _, err := qc.Services(ctx); !errors.Is(err, jaeger.ErrMalformedAnswer) {
			t.Errorf("Services: %v, want ErrMalformedAnswer", err)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		qc, err := jaeger.NewQueryClient(closedAddr(t))
		if err != nil {
			t.Fatal(err)
		}
		defer qc.Close()
		if _, err := qc.Services(ctx); err == nil || !strings.Contains(err.Error(), "unreachable") {
			t.Fatalf("Services: %v, want an unreachable error", err)
		}
	})
	t.Run("bad queries", func(t *testing.T) {
		qc, _ := fakeQueryAPI(t, 200, `{}`)
		if _, err := qc.FindTraces(ctx, jaeger.Query{}); err == nil {
			t.Error("query without service accepted")
		}
		now := time.Now()
		if _, err := qc.FindTraces(ctx, jaeger.Query{Service: "s", From: now, To: now.Add(-time.Second)}); err == nil {
			t.Error("reversed window accepted")
		}
		if _, err := qc.GetTrace(ctx, spans.TraceID{}); !errors.Is(err, spans.ErrInvalidID) {
			t.Errorf("zero trace id: %v", err)
		}
	})
}

func TestQueryClientSendsJaegerParameters(t *testing.T) {
	qc, last := fakeQueryAPI(t, 404, `{"error":{"httpCode":404,"message":"No traces found"}}`)
	from := time.Date(2026, 1, 2, 3, 4, 5, 600, time.FixedZone("x", 3600))
	to := from.Add(time.Hour)
	if _, err := qc.FindTraces(context.Background(), jaeger.Query{Service: "rag", Operation: "llm.chat", From: from, To: to, Limit: 7, MinDuration: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	q := last.Query()
	want := map[string]string{
		"query.service_name": "rag", "query.operation_name": "llm.chat", "query.num_traces": "7", "query.duration_min": "1ms",
		"query.start_time_min": "2026-01-02T02:04:05.0000006Z", "query.start_time_max": "2026-01-02T03:04:05.0000006Z",
	}
	for k, v := range want {
		if q.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, q.Get(k), v)
		}
	}
	if last.Path != "/prefix/api/v3/traces" {
		t.Errorf("path %q", last.Path)
	}
	if _, err := qc.FindTraces(context.Background(), jaeger.Query{Service: "rag"}); err != nil {
		t.Fatal(err)
	}
	if got := last.Query().Get("query.num_traces"); got != "100" {
		t.Errorf("default limit %q", got)
	}
	tmin, _ := time.Parse(time.RFC3339Nano, last.Query().Get("query.start_time_min"))
	tmax, _ := time.Parse(time.RFC3339Nano, last.Query().Get("query.start_time_max"))
	if tmax.Sub(tmin) != jaeger.DefaultLookback {
		t.Errorf("default window %v", tmax.Sub(tmin))
	}
}

// otherWriterAnswer is OTLP-JSON as other writers produce it: base64 IDs,
// integers as numbers, enum names, special doubles, mixed arrays, maps,
// an OpenInference span kind and a GenAI operation instead of a stage.
const otherWriterAnswer = `{"result":{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"py-rag"}}]},
"scopeSpans":[{"spans":[
 {"traceId":"S/kvNXezTaajzpKdDg5HNg==","spanId":"APBnqgupArc=","name":"ChatOpenAI","startTimeUnixNano":1000,"endTimeUnixNano":"5000",
  "status":{"code":"STATUS_CODE_ERROR","message":"boom"},
  "attributes":[{"key":"openinference.span.kind","value":{"stringValue":"LLM"}},{"key":"n","value":{"intValue":3}},
   {"key":"nan","value":{"doubleValue":"NaN"}},{"key":"mixed","value":{"arrayValue":{"values":[{"intValue":"1"},{"doubleValue":2.5}]}}},
   {"key":"any","value":{"arrayValue":{"values":[{"intValue":"1"},{"stringValue":"x"}]}}},
   {"key":"m","value":{"kvlistValue":{"values":[{"key":"a","value":{"boolValue":true}}]}}}],
  "events":[{"timeUnixNano":"2000","name":"token","attributes":[{"key":"i","value":{"intValue":"1"}}]}]},
 {"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"00f067aa0ba902b8","parentSpanId":"00f067aa0ba902b7","name":"search",
  "startTimeUnixNano":"1500","endTimeUnixNano":"2500","status":{"code":1},
  "attributes":[{"key":"gen_ai.operation.name","value":{"stringValue":"retrieval"}}]}
]}]}]}}`

func TestQueryClientDecodesOtherOTLPWriters(t *testing.T) {
	qc, _ := fakeQueryAPI(t, 200, otherWriterAnswer)
	id, _ := spans.ParseTraceID(traceHex)
	tr, err := qc.GetTrace(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Spans) != 2 || len(tr.Events) != 1 {
		t.Fatalf("%d spans, %d events", len(tr.Spans), len(tr.Events))
	}
	llm, search := tr.Spans[0], tr.Spans[1]
	if llm.SpanID.String() != "00f067aa0ba902b7" || search.ParentID != llm.SpanID {
		t.Fatalf("ids: llm %s, search parent %s", llm.SpanID, search.ParentID)
	}
	if llm.Stage != spans.StageLLM || search.Stage != spans.StageRetrieve {
		t.Errorf("stages %v %v", llm.Stage, search.Stage)
	}
	if llm.Status != spans.StatusError || llm.Err != "boom" || search.Status != spans.StatusOK {
		t.Errorf("status %v %q / %v", llm.Status, llm.Err, search.Status)
	}
	if llm.Duration() != 4000 || llm.Start.UnixNano() != 1000 {
		t.Errorf("times %v %v", llm.Start.UnixNano(), llm.Duration())
	}
	checks := map[string]func(v spans.Value) bool{
		"n":   func(v spans.Value) bool { return v.Kind() == spans.KindInt64 && v.AsInt64() == 3 },
		"nan": func(v spans.Value) bool { return math.IsNaN(v.AsFloat64()) },
		// Mixed arrays and maps read as their JSON text, exactly as OTLP
		// ingest reads them (one translation, otlpconv).
		"mixed": func(v spans.Value) bool { return v.AsString() == `[1,2.5]` },
		"any":   func(v spans.Value) bool { return v.AsString() == `[1,"x"]` },
		"m":     func(v spans.Value) bool { return v.AsString() == `{"a":true}` },
	}
	if llm.Service() != "py-rag" || llm.Resource == nil {
		t.Errorf("service %q from resource %v", llm.Service(), llm.Resource)
	}
	for k, ok := range checks {
		if v, found := llm.Attr(k); !found || !ok(v) {
			t.Errorf("attribute %s = %v (%v)", k, v.Emit(), v.Kind())
		}
	}
	if e := tr.Events[0]; e.Name != "token" || e.SpanID != llm.SpanID || e.Stage != spans.StageLLM || e.Time.UnixNano() != 2000 {
		t.Errorf("event %+v", e)
	}
}
