package analysis_test

import (
	"fmt"
	"time"

	"github.com/stagescope/stagescope/collector/analysis"
	"github.com/stagescope/stagescope/spans"
)

// Example builds two small traces by hand and prints the top finding. In a
// real program the traces come from the collector's store.
func Example() {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	mk := func(trace byte, rerankMs int) analysis.Trace {
		tid := spans.TraceID{trace}
		q := &spans.Span{TraceID: tid, SpanID: spans.SpanID{trace, 1}, Name: "query", Stage: spans.StageQuery, Start: at(0), End: at(30 + rerankMs)}
		r := &spans.Span{TraceID: tid, SpanID: spans.SpanID{trace, 2}, ParentID: q.SpanID, Name: "retrieve", Stage: spans.StageRetrieve, Start: at(0), End: at(10)}
		rr := &spans.Span{TraceID: tid, SpanID: spans.SpanID{trace, 3}, ParentID: q.SpanID, Name: "rerank", Stage: spans.StageRerank,
			Start: at(10), End: at(10 + rerankMs), Attrs: []spans.Attribute{spans.Int(spans.KeyRerankTopN, 10)}}
		l := &spans.Span{TraceID: tid, SpanID: spans.SpanID{trace, 4}, ParentID: q.SpanID, Name: "llm", Stage: spans.StageLLM, Start: at(10 + rerankMs), End: at(30 + rerankMs)}
		return analysis.Trace{Spans: []*spans.Span{q, r, rr, l}}
	}
	report := analysis.Analyze([]analysis.Trace{mk(1, 40), mk(2, 90)})
	f := report.Findings[0]
	fmt.Println(f.Severity, f.Stage, f.ScoreMs)
	fmt.Println(f.Recommendation)
	fmt.Printf("p95 %.0f ms; if rerank were 2x faster: %.0f ms\n", report.E2E.P95Ms, report.WhatIf[0].P95Ms)
	// Output:
	// critical rerank 90
	// rerank is on the critical path of 100% of slow traces and costs each 90ms (75%); lower rerank.top_n from 10 (attribute rerank.top_n of the rerank spans) to 5 (rerank fewer candidates), or use a smaller rerank model.
	// p95 120 ms; if rerank were 2x faster: 75 ms
}

// ExampleCompare flags a stage whose self time grew significantly.
func ExampleCompare() {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	mk := func(n int, llm time.Duration) []analysis.Trace {
		var out []analysis.Trace
		for i := range n {
			tid := spans.TraceID{byte(i + 1), byte(llm / time.Millisecond)}
			d := llm + time.Duration(i)*time.Millisecond
			q := &spans.Span{TraceID: tid, SpanID: spans.SpanID{1}, Name: "query", Stage: spans.StageQuery, Start: t0, End: t0.Add(d)}
			l := &spans.Span{TraceID: tid, SpanID: spans.SpanID{2}, ParentID: q.SpanID, Name: "llm", Stage: spans.StageLLM, Start: t0, End: t0.Add(d)}
			out = append(out, analysis.Trace{Spans: []*spans.Span{q, l}})
		}
		return out
	}
	c := analysis.Compare(mk(30, 100*time.Millisecond), mk(30, 150*time.Millisecond))
	fmt.Println(c.Regressions, c.Findings[0].Title)
	// Output:
	// [llm] llm regressed by +50ms self time per trace at the p50 (mean +44%)
}
