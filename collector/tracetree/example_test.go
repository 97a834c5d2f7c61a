package tracetree_test

import (
	"fmt"
	"time"

	"github.com/stagescope/stagescope/collector/tracetree"
	"github.com/stagescope/stagescope/spans"
)

// A chain traced at millisecond resolution: the retriever appears to end
// half a millisecond after the model call began, which is rounding (one
// tick), not concurrency; the chain's own time is nil.
func ExampleTree() {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	ms := func(v float64) time.Time { return t0.Add(time.Duration(v * float64(time.Millisecond))) }
	chain := &spans.Span{SpanID: spans.SpanID{1}, Name: "chain", Start: ms(0), End: ms(100)}
	retrieve := &spans.Span{SpanID: spans.SpanID{2}, ParentID: chain.SpanID, Name: "retrieve", Start: ms(0), End: ms(60.5)}
	llm := &spans.Span{SpanID: spans.SpanID{3}, ParentID: chain.SpanID, Name: "llm", Start: ms(60), End: ms(100)}
	orphan := &spans.Span{SpanID: spans.SpanID{4}, ParentID: spans.SpanID{9}, Name: "lost parent", Start: ms(10), End: ms(20)}

	tr := tracetree.New()
	tr.Build(tracetree.Trace{Spans: []*spans.Span{llm, orphan, retrieve, chain}})
	for _, v := range tr.Order {
		n := &tr.Nodes[v]
		fmt.Printf("%-11s self %v\n", n.Span.Name, time.Duration(tr.SelfTime(v)))
	}
	fmt.Printf("overlap tolerated between retrieve's end and llm's start: %v\n", time.Duration(tr.Tolerance(60500*1000, 60*1000*1000)))
	fmt.Printf("%+v\n", tr.Anomalies)
	// Output:
	// chain       self 0s
	// retrieve    self 60.5ms
	// lost parent self 10ms
	// llm         self 40ms
	// overlap tolerated between retrieve's end and llm's start: 1ms
	// {Orphans:1 ClockSkew:0 FireAndForget:0 Unreachable:0 MissingRoot:0}
}

func ExampleSelfTime() {
	// A 100 ns span with three children, two overlapping and one running
	// past its end: covered 10–60 and 90–100.
	kids := []tracetree.Interval{{Start: 10, End: 40}, {Start: 30, End: 60}, {Start: 90, End: 150}}
	fmt.Println(tracetree.SelfTime(0, 100, kids))
	// Output: 40
}
