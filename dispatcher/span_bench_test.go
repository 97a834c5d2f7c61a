package dispatcher_test

import (
	"context"
	"testing"

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
	defer d.AddSpanHandler(dispatcher.NewRecorder(1 << 16))()
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
	defer d.AddSpanHandler(dispatcher.NewRecorder(1 << 16))()
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
