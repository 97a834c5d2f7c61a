package jaeger_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stagescope/stagescope/collector/jaeger"
	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/spans"
)

// BenchmarkLiveExporterSpan is the hot-path cost of one span (start and
// end) through a dispatcher with the live exporter attached, its queue full
// (the endpoint is closed): the price a pipeline pays for live export at
// saturation, drop counting included.
func BenchmarkLiveExporterSpan(b *testing.B) {
	live, err := jaeger.NewLiveExporter(context.Background(), "http://127.0.0.1:1", jaeger.WithRetry(false), jaeger.WithQueueSize(64))
	if err != nil {
		b.Fatal(err)
	}
	d := dispatcher.Get("jaegerbench.live")
	remove := d.AddSpanHandler(live)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_, s := d.Start(ctx, "retrieve", spans.StageRetrieve)
		s.End()
	}
	b.StopTimer()
	remove()
	_ = live.Shutdown(ctx)
	b.ReportMetric(float64(live.Stats().Dropped)/float64(live.Stats().Ended), "dropped/span")
}

// BenchmarkQueryDecode measures reading one 600-span answer (100 traces of
// six spans) from a query API served by httptest.
func BenchmarkQueryDecode(b *testing.B) {
	body := syntheticAnswer(100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(body) }))
	defer srv.Close()
	qc, err := jaeger.NewQueryClient(srv.URL)
	if err != nil {
		b.Fatal(err)
	}
	defer qc.Close()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		got, err := qc.FindTraces(context.Background(), jaeger.Query{Service: "bench"})
		if err != nil || len(got) != 100 {
			b.Fatal(len(got), err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/600, "ns/span")
}

// BenchmarkThriftExport measures replaying 100 six-span traces to a fake
// collector that discards the body.
func BenchmarkThriftExport(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) }))
	defer srv.Close()
	exp, err := jaeger.NewThriftExporter(srv.URL)
	if err != nil {
		b.Fatal(err)
	}
	defer exp.Shutdown(context.Background())
	traces := fixture(100, "bench")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := exp.Export(context.Background(), traces); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/600, "ns/span")
}

// BenchmarkOTLPExport is BenchmarkThriftExport over OTLP/HTTP (protobuf).
func BenchmarkOTLPExport(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
	defer srv.Close()
	exp, err := jaeger.NewOTLPExporter(context.Background(), srv.URL)
	if err != nil {
		b.Fatal(err)
	}
	defer exp.Shutdown(context.Background())
	traces := fixture(100, "bench")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := exp.Export(context.Background(), traces); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/600, "ns/span")
}

// syntheticAnswer renders traces like the fixture's as the query API's
// OTLP-JSON.
func syntheticAnswer(n int) []byte {
	type kv = map[string]any
	var spanList []any
	for _, tr := range fixture(n, "bench") {
		for _, s := range tr.Spans {
			attrs := []any{kv{"key": "stagescope.stage", "value": kv{"stringValue": s.Stage.String()}}}
			for _, a := range s.Attrs {
				attrs = append(attrs, kv{"key": a.Key, "value": kv{"stringValue": a.Value.Emit()}})
			}
			sp := kv{"traceId": s.TraceID.String(), "spanId": s.SpanID.String(), "name": s.Name,
				"startTimeUnixNano": fmt.Sprint(s.Start.UnixNano()), "endTimeUnixNano": fmt.Sprint(s.End.UnixNano()),
				"attributes": attrs, "status": kv{"code": 1}}
			if !s.ParentID.IsZero() {
				sp["parentSpanId"] = s.ParentID.String()
			}
			spanList = append(spanList, sp)
		}
	}
	b, _ := json.Marshal(kv{"result": kv{"resourceSpans": []any{kv{
		"resource":   kv{"attributes": []any{kv{"key": "service.name", "value": kv{"stringValue": "bench"}}}},
		"scopeSpans": []any{kv{"spans": spanList}},
	}}}})
	return b
}
