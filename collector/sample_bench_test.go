package collector

import (
	"context"
	"testing"
	"time"
)

// BenchmarkSampleTraces draws the default sample from the whole synthetic
// database (STAGESCOPE_BENCH_TRACES traces over a day; 200000 or 1000000
// for the figures in BENCHMARKS.md): the frame read along the start index,
// the hash and slow selection, and the traces read whole. Its cost must not
// grow with the window beyond SampleFrameBudget examined traces.
func BenchmarkSampleTraces(b *testing.B) {
	s := syntheticDB(b)
	ctx := context.Background()
	q := TraceQuery{From: time.Now().Add(-30 * 24 * time.Hour)}
	for _, bc := range []struct {
		name   string
		q      TraceQuery
		budget int
	}{
		{"window/budget=2000", q, 2000},
		{"window/budget=100", q, 100},
		{"stage=retry/budget=2000", TraceQuery{From: q.From, Stage: "retry"}, 2000},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			var info SampleInfo
			for b.Loop() {
				var err error
				var ts []*Trace
				ts, info, err = s.SampleTraces(ctx, bc.q, bc.budget)
				if err != nil || len(ts) < bc.budget {
					b.Fatalf("%d traces, %v", len(ts), err)
				}
			}
			b.ReportMetric(float64(info.Examined), "examined")
			b.ReportMetric(float64(info.TracesAnalysed), "analysed")
		})
	}
}

// BenchmarkSampleFrame is the bounded part alone: reading the frame of the
// whole database along the start index, without reading traces whole.
func BenchmarkSampleFrame(b *testing.B) {
	s := syntheticDB(b)
	ctx := context.Background()
	f, err := s.traceFilter(ctx, TraceQuery{})
	if err != nil {
		b.Fatal(err)
	}
	lo, hi := time.Now().Add(-30*24*time.Hour).UnixNano(), time.Now().UnixNano()
	b.ReportAllocs()
	for b.Loop() {
		frame, _, _, err := s.sampleFrame(ctx, f, lo, hi, true)
		if err != nil || len(frame) == 0 {
			b.Fatal(err)
		}
	}
}
