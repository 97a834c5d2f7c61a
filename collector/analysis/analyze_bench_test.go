package analysis

import (
	"fmt"
	"testing"
)

// benchTraces makes n traces of the synthetic pipeline with 2 retrieval
// shards on 2 workers: query, embed, pool, 2 jobs, 2 retrieve shards,
// rerank, synth, retry, attempt, llm = 12 spans.
func benchTraces(n int) []Trace {
	p := basePipeline(42)
	p.shards, p.workers = 2, 2
	return p.traces(n)
}

func BenchmarkAnalyze(b *testing.B) {
	for _, n := range []int{2_000, 20_000} {
		traces := benchTraces(n)
		spansPerTrace := len(traces[0].Spans)
		b.Run(fmt.Sprintf("traces=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := Analyze(traces)
				if r.Traces != n {
					b.Fatalf("analysed %d traces", r.Traces)
				}
			}
			b.ReportMetric(float64(n*spansPerTrace)*float64(b.N)/b.Elapsed().Seconds(), "spans/s")
		})
	}
}

func BenchmarkCompare(b *testing.B) {
	base, cand := benchTraces(2_000), benchTraces(2_000)
	b.ReportAllocs()
	for b.Loop() {
		Compare(base, cand)
	}
}

func BenchmarkCriticalPath(b *testing.B) {
	t := benchTraces(1)[0]
	b.ReportAllocs()
	for b.Loop() {
		if len(CriticalPath(t)) == 0 {
			b.Fatal("empty path")
		}
	}
}

// BenchmarkCriticalPathTwoThousandSpans walks one 2,000-span trace.
func BenchmarkCriticalPathTwoThousandSpans(b *testing.B) {
	t, _ := wideTrace()
	b.ReportAllocs()
	for b.Loop() {
		if len(CriticalPath(t)) != 2000 {
			b.Fatal("wrong path")
		}
	}
}

// BenchmarkAnalyzeTwoThousandSpans analyses one 2,000-span trace.
func BenchmarkAnalyzeTwoThousandSpans(b *testing.B) {
	t, _ := wideTrace()
	traces := []Trace{t}
	b.ReportAllocs()
	for b.Loop() {
		if Analyze(traces).Spans != 2000 {
			b.Fatal("wrong report")
		}
	}
}
