package jaeger_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/collector/analysis"
	"github.com/stagescope/stagescope/collector/jaeger"
	"github.com/stagescope/stagescope/collector/jaeger/jaegertest"
)

// BenchmarkSourceReport is the dashboard's /api/report over a Jaeger v2
// (in memory) holding n three-span traces of one service in a 30-minute
// window: a cold fetch (no cache) of the window in time slices, the
// sampling policy (2,000 by hash plus the slow ones) and the analysis. cap
// is the source's trace cap: with 20,000 traces the default cap reads
// 5,000 of them.
func BenchmarkSourceReport(b *testing.B) {
	j := jaegertest.Need(b, backend, backendErr)
	qc, err := jaeger.NewQueryClient(j.QueryURL)
	if err != nil {
		b.Fatal(err)
	}
	defer qc.Close()
	for _, c := range []struct{ traces, cap int }{{2_000, jaeger.DefaultSourceMaxTraces}, {20_000, jaeger.DefaultSourceMaxTraces}, {20_000, 20_000}} {
		b.Run(fmt.Sprintf("traces=%d/cap=%d", c.traces, c.cap), func(b *testing.B) {
			svc := jaegertest.UniqueService("bench-report")
			from := time.Now().Add(-2 * time.Hour).Truncate(time.Minute)
			gap := 30 * time.Minute / time.Duration(c.traces)
			fill(b, j, pipelineTraces(c.traces, svc, from, gap))
			q := collector.TraceQuery{From: from, To: from.Add(30 * time.Minute), Service: svc}
			ready := jaeger.NewSource(qc, jaeger.WithSourceMaxTraces(c.traces))
			for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
				_, info, err := ready.SampleTraces(context.Background(), q, 1)
				if err == nil && info.Examined == int64(c.traces) {
					break
				}
				if time.Now().After(deadline) {
					b.Fatalf("Jaeger holds %d of %d traces (%v)", info.Examined, c.traces, err)
				}
				ready.Close()
				ready = jaeger.NewSource(qc, jaeger.WithSourceMaxTraces(c.traces))
			}
			ready.Close()
			var read, analysed int
			b.ReportAllocs()
			for b.Loop() {
				src := jaeger.NewSource(qc, jaeger.WithSourceMaxTraces(c.cap))
				ts, info, err := src.SampleTraces(context.Background(), q, collector.DefaultSampleBudget)
				if err != nil {
					b.Fatal(err)
				}
				at := make([]analysis.Trace, len(ts))
				for i, t := range ts {
					at[i] = t.Trace
				}
				rep := analysis.Analyze(at, analysis.WithSample(info.SlowThreshold, info.HashRate))
				if rep.Traces != len(ts) {
					b.Fatalf("report of %d traces from %d", rep.Traces, len(ts))
				}
				read, analysed = int(info.Examined), len(ts)
				src.Close()
			}
			b.ReportMetric(float64(read), "traces-read")
			b.ReportMetric(float64(analysed), "traces-analysed")
		})
	}
}

// fill sends traces to Jaeger in batches of 1,000.
func fill(b *testing.B, j *jaegertest.Instance, traces []jaeger.Trace) {
	b.Helper()
	exp, err := jaeger.NewOTLPExporter(context.Background(), j.OTLPURL)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < len(traces); i += 1000 {
		if _, err := exp.Export(context.Background(), traces[i:min(i+1000, len(traces))]); err != nil {
			b.Fatal(err)
		}
	}
	if err := exp.Shutdown(context.Background()); err != nil {
		b.Fatal(err)
	}
}
