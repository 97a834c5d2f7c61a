package dispatcher_test

import (
	"context"
	"testing"
	"time"

	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/dispatcher/dispatchertest"
	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/spans"
)

// traces starts n traces of a root span with one child in a child
// dispatcher, emitting an event in each child, and returns how many root
// spans reached the recorder.
func traces(d *dispatcher.Dispatcher, child *dispatcher.Dispatcher, n int) {
	for range n {
		ctx, root := d.Start(context.Background(), "query", spans.StageQuery)
		cctx, c := child.Start(ctx, "retrieve", spans.StageRetrieve)
		child.Emit(cctx, &event.RetrievalStart{})
		c.End()
		root.End()
	}
}

func TestSamplingKeepsWholeTracesInProportion(t *testing.T) {
	d, rec := dispatchertest.Isolated(t, "sampling")
	child := dispatcher.Get(d.Name() + ".retrieve")
	if f, until := child.Sampling(); f != 1 || !until.IsZero() {
		t.Fatalf("default sampling = %v until %v, want 1 for good", f, until)
	}
	d.SetSampling(0.25)
	t.Cleanup(func() { d.SetSampling(-1) })
	if f, _ := child.Sampling(); f != 0.25 {
		t.Fatalf("child inherits %v, want 0.25", f)
	}
	const n = 4000
	traces(d, child, n)
	ss := rec.Spans()
	roots, children := 0, map[spans.TraceID]int{}
	for _, s := range ss {
		if s.IsRoot() {
			roots++
		} else {
			children[s.TraceID]++
		}
	}
	// Binomial(4000, 0.25): mean 1000, sd 27; ±5 sd.
	if roots < 865 || roots > 1135 {
		t.Fatalf("%d of %d traces kept at 0.25", roots, n)
	}
	// Every kept trace is whole: its child and its event too.
	if len(children) != roots || len(rec.Events()) != roots {
		t.Fatalf("%d roots but %d traces with a child and %d events: traces were split", roots, len(children), len(rec.Events()))
	}
	for _, s := range ss {
		if s.IsRoot() && children[s.TraceID] != 1 {
			t.Fatalf("trace %s kept without its child", s.TraceID)
		}
	}
}

func TestChildrenFollowTheirParentsDecision(t *testing.T) {
	d, rec := dispatchertest.Isolated(t, "sampling_parent")
	child := dispatcher.Get(d.Name() + ".llm")
	child.SetSampling(0) // would keep nothing starting here
	traces(d, child, 10)
	if n := len(rec.Spans()); n != 20 {
		t.Fatalf("%d spans kept, want 20: a child of a sampled parent is sampled", n)
	}
	rec.Reset()
	d.SetSampling(0)
	child.SetSampling(1)
	traces(d, child, 10)
	if n := len(rec.Spans()); n != 0 {
		t.Fatalf("%d spans kept, want 0: a child of an unsampled parent is not", n)
	}
	d.SetSampling(-1)
	child.SetSampling(-1)
}

func TestSampleForReturnsToTheSettingBefore(t *testing.T) {
	d, rec := dispatchertest.Isolated(t, "sampling_for")
	d.SetSampling(0)
	t.Cleanup(func() { d.SetSampling(-1) })
	restore := d.SampleFor(1, time.Hour)
	f, until := d.Sampling()
	if f != 1 || time.Until(until) < 59*time.Minute {
		t.Fatalf("during SampleFor: %v until %v", f, until)
	}
	traces(d, d, 5)
	if n := len(rec.Spans()); n != 10 {
		t.Fatalf("raised to 1: %d spans, want 10", n)
	}
	restore()
	restore()
	if f, until := d.Sampling(); f != 0 || !until.IsZero() {
		t.Fatalf("after restore: %v until %v, want 0 for good", f, until)
	}
	traces(d, d, 5)
	if n := len(rec.Spans()); n != 10 {
		t.Fatalf("lowered again: %d spans, want still 10", n)
	}
	// A bounded raise ends by itself.
	d.SampleFor(1, time.Millisecond)
	for f, _ := d.Sampling(); f != 0; f, _ = d.Sampling() {
		time.Sleep(time.Millisecond)
	}
	// A later SampleFor replaces an earlier one, whose restore then does
	// nothing.
	first := d.SampleFor(0.5, time.Hour)
	second := d.SampleFor(1, time.Hour)
	first()
	if f, _ := d.Sampling(); f != 1 {
		t.Fatalf("the first restore ended the second SampleFor: %v", f)
	}
	second()
}

func TestUnsampledSpansAllocateOnceAndCallNoHandler(t *testing.T) {
	d, rec := dispatchertest.Isolated(t, "sampling_cost")
	d.SetSampling(0)
	t.Cleanup(func() { d.SetSampling(-1) })
	ctx := context.Background()
	n := testing.AllocsPerRun(200, func() {
		_, s := d.Start(ctx, "op", spans.StageRetrieve)
		s.End()
	})
	if n != 1 {
		t.Fatalf("an unsampled span allocates %v times, want 1 (the span that carries the IDs)", n)
	}
	if len(rec.Spans()) != 0 {
		t.Fatal("an unsampled span reached the recorder")
	}
}

func TestAllListsParentsBeforeChildren(t *testing.T) {
	d, rec := dispatchertest.Isolated(t, "introspect")
	child := dispatcher.Get(d.Name() + ".a")
	all := dispatcher.All()
	if all[0] != dispatcher.Root() {
		t.Fatal("All does not start at the root")
	}
	pos := map[*dispatcher.Dispatcher]int{}
	for i, x := range all {
		pos[x] = i
	}
	if pos[d] == 0 || pos[child] <= pos[d] {
		t.Fatalf("positions: parent %d, child %d", pos[d], pos[child])
	}
	if hs := d.SpanHandlers(); len(hs) != 1 || hs[0] != dispatcher.SpanHandler(rec) {
		t.Fatalf("span handlers = %v", hs)
	}
	if hs := d.EventHandlers(); len(hs) != 1 {
		t.Fatalf("event handlers = %v", hs)
	}
	if len(child.SpanHandlers()) != 0 {
		t.Fatal("a child lists its parent's handler as its own")
	}
}
