package dispatcher_test

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/spans"
)

// discardExporter drops every batch: the baseline measures the SDK's span
// start/end and batch processor, not an exporter.
type discardExporter struct{}

func (discardExporter) ExportSpans(context.Context, []trace.ReadOnlySpan) error { return nil }
func (discardExporter) Shutdown(context.Context) error                          { return nil }

var _ trace.SpanExporter = discardExporter{}
var _ = tracetest.NewNoopExporter

// BenchmarkSpanNoHandler is the cost every instrumented call pays when
// nothing listens. Target: ≤ 25 ns, 0 allocs.
func BenchmarkSpanNoHandler(b *testing.B) {
	d := dispatcher.Get("bench.none")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_, s := d.Start(ctx, "op", spans.StageRetrieve)
		s.End()
	}
}

// BenchmarkSpanRecorder: start+end with a bounded recorder attached.
func BenchmarkSpanRecorder(b *testing.B) {
	d := dispatcher.Get("bench.recorder")
	defer d.AddSpanHandler(dispatcher.NewRecorder(0))()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_, s := d.Start(ctx, "op", spans.StageRetrieve)
		s.End()
	}
}

// BenchmarkSpanRecorderWithAttrs: the same with two attributes, as the
// engine's stages set them.
func BenchmarkSpanRecorderWithAttrs(b *testing.B) {
	d := dispatcher.Get("bench.recorder_attrs")
	defer d.AddSpanHandler(dispatcher.NewRecorder(0))()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_, s := d.Start(ctx, "op", spans.StageRetrieve, spans.Int(spans.KeyRetrievalTopK, 10))
		s.SetAttributes(spans.Int("hits", 10))
		s.End()
	}
}

// BenchmarkOTelSDKSpan is the baseline: the OpenTelemetry SDK's own span
// start+end with AlwaysSample and a batch processor in front of an exporter
// that discards.
func BenchmarkOTelSDKSpan(b *testing.B) {
	tp := trace.NewTracerProvider(trace.WithSampler(trace.AlwaysSample()), trace.WithBatcher(discardExporter{}))
	defer tp.Shutdown(context.Background())
	tr := tp.Tracer("bench")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_, s := tr.Start(ctx, "op")
		s.End()
	}
}

// BenchmarkEmitNoHandler: the guard instrumented code uses before building
// an event.
func BenchmarkEmitNoHandler(b *testing.B) {
	d := dispatcher.Get("bench.events_none")
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if d.EventsEnabled() {
			n++
		}
	}
	_ = n
}

// BenchmarkSpanRecorderVsOTelInterleaved runs the recorder case and the OTel
// SDK baseline in alternating batches of 256 spans, so that both see the
// same machine load, and reports each one's ns/span and their ratio
// (target: stagescope-with-handler ≤ 0.3× the OTel SDK span).
func BenchmarkSpanRecorderVsOTelInterleaved(b *testing.B) {
	d := dispatcher.Get("bench.interleaved")
	defer d.AddSpanHandler(dispatcher.NewRecorder(0))()
	tp := trace.NewTracerProvider(trace.WithSampler(trace.AlwaysSample()), trace.WithBatcher(discardExporter{}))
	defer tp.Shutdown(context.Background())
	tr := tp.Tracer("bench")
	ctx := context.Background()
	const batch = 256
	var ours, theirs time.Duration
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now()
		for range batch {
			_, s := d.Start(ctx, "op", spans.StageRetrieve)
			s.End()
		}
		t1 := time.Now()
		for range batch {
			_, s := tr.Start(ctx, "op")
			s.End()
		}
		t2 := time.Now()
		ours += t1.Sub(t0)
		theirs += t2.Sub(t1)
	}
	n := float64(b.N * batch)
	b.ReportMetric(float64(ours.Nanoseconds())/n, "stagescope-ns/span")
	b.ReportMetric(float64(theirs.Nanoseconds())/n, "otel-ns/span")
	b.ReportMetric(float64(ours)/float64(theirs), "ratio")
}
