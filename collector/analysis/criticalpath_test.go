package analysis

import (
	"testing"
	"time"

	"github.com/stagescope/stagescope/spans"
)

type segWant struct {
	span  *spans.Span // nil: virtual root
	stage spans.Stage
	ms    float64
}

func checkPath(t *testing.T, got []PathSegment, want []segWant) {
	t.Helper()
	if len(got) != len(want) {
		for _, s := range got {
			t.Logf("  %s %s %v (charged %s)", s.Name, s.Stage, s.Duration, s.ChargedTo)
		}
		t.Fatalf("critical path has %d segments, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		var id spans.SpanID
		if w.span != nil {
			id = w.span.SpanID
		}
		if g.SpanID != id || g.ChargedTo != w.stage || g.Duration != msDur(w.ms) || g.DurationMs != w.ms {
			t.Errorf("segment %d = %s/%s charged %s %v, want span %s charged %s %vms", i, g.Name, g.SpanID, g.ChargedTo, g.Duration, id, w.stage, w.ms)
		}
		if i > 0 && !g.Start.Equal(got[i-1].End) {
			t.Errorf("segment %d starts at %v, previous ends at %v: path does not tile", i, g.Start, got[i-1].End)
		}
	}
}

func TestCriticalPathConcurrentFanOut(t *testing.T) {
	b := newTrace()
	q := b.span(nil, "query", spans.StageQuery, 0, 100)
	a := b.span(q, "retrieve shard A", spans.StageRetrieve, 10, 50)
	bb := b.span(q, "retrieve shard B", spans.StageRetrieve, 10, 80)
	llm := b.span(bb, "embed in B", spans.StageEmbed, 20, 60)
	rr := b.span(q, "rerank", spans.StageRerank, 80, 95)
	_ = a
	// Walking back from 100: query 95–100, rerank 80–95, B (ends last
	// before 80) 60–80, its child 20–60, B 10–20, query 0–10. Shard A runs
	// concurrently with B and is not on the path.
	checkPath(t, CriticalPath(b.trace()), []segWant{
		{q, spans.StageQuery, 10},
		{bb, spans.StageRetrieve, 10},
		{llm, spans.StageEmbed, 40},
		{bb, spans.StageRetrieve, 20},
		{rr, spans.StageRerank, 15},
		{q, spans.StageQuery, 5},
	})
	r := Analyze([]Trace{b.trace()})
	want := map[spans.Stage]time.Duration{spans.StageQuery: msDur(15), spans.StageRetrieve: msDur(30), spans.StageEmbed: msDur(40), spans.StageRerank: msDur(15)}
	var sum time.Duration
	for _, c := range r.CriticalPath {
		if c.MeanPerTrace != want[c.Stage] {
			t.Errorf("%s on path %v, want %v", c.Stage, c.MeanPerTrace, want[c.Stage])
		}
		sum += c.MeanPerTrace
	}
	if sum != msDur(100) || r.E2E.P50 != msDur(100) {
		t.Fatalf("path sums to %v, e2e %v; want 100ms both", sum, r.E2E.P50)
	}
	if r.CriticalPath[0].Stage != spans.StageEmbed || r.CriticalPath[0].Share != 0.4 {
		t.Fatalf("largest path stage = %+v, want embed with share 0.4", r.CriticalPath[0])
	}
	// Self time of the retrieve stage counts both shards: A 40 + B 30; but
	// a retrieve span ran its own code during 10–50 and 60–80 only: 60% of
	// the request.
	if ss, _ := stageStats(r, spans.StageRetrieve); ss.SelfSum != msDur(70) || ss.Count != 2 || ss.ShareOfE2E != 0.6 {
		t.Fatalf("retrieve stats = %+v", ss)
	}
}

func TestCriticalPathChildrenOutsideParent(t *testing.T) {
	b := newTrace()
	q := b.span(nil, "query", spans.StageQuery, 0, 50)
	// Outlives the query by 40 ms in the same process: fire-and-forget,
	// the query did not wait for it.
	b.span(q, "late llm", spans.StageLLM, 30, 90)
	early := b.span(q, "early", spans.StageRetrieve, -20, 10) // clock skew: clipped to 0–10
	checkPath(t, CriticalPath(b.trace()), []segWant{
		{early, spans.StageRetrieve, 10},
		{q, spans.StageQuery, 40},
	})

	// Another service's child ending 5 ms late is clock skew: clipped,
	// and on the path.
	b2 := newTrace()
	q2 := b2.span(nil, "query", spans.StageQuery, 0, 50)
	q2.Resource = &spans.Resource{Attrs: []spans.Attribute{spans.String(spans.KeyService, "api")}}
	l2 := b2.span(q2, "remote llm", spans.StageLLM, 30, 55)
	l2.Resource = &spans.Resource{Attrs: []spans.Attribute{spans.String(spans.KeyService, "llm")}}
	checkPath(t, CriticalPath(b2.trace()), []segWant{
		{q2, spans.StageQuery, 30},
		{l2, spans.StageLLM, 20},
	})
}

func TestCriticalPathOrphansAndMissingRoot(t *testing.T) {
	// One root: an orphan (its parent never arrived) hangs under it.
	b := newTrace()
	q := b.span(nil, "query", spans.StageQuery, 0, 100)
	ghost := &spans.Span{SpanID: spans.SpanID{9, 9}}
	o := b.span(ghost, "orphan rerank", spans.StageRerank, 20, 70)
	checkPath(t, CriticalPath(b.trace()), []segWant{
		{q, spans.StageQuery, 20}, {o, spans.StageRerank, 50}, {q, spans.StageQuery, 30},
	})

	// No root at all: a virtual root covers the two orphans and charges
	// the gap between them to other.
	b2 := newTrace()
	x := b2.span(ghost, "retrieve", spans.StageRetrieve, 0, 30)
	y := b2.span(ghost, "llm", spans.StageLLM, 40, 100)
	checkPath(t, CriticalPath(b2.trace()), []segWant{
		{x, spans.StageRetrieve, 30}, {nil, spans.StageOther, 10}, {y, spans.StageLLM, 60},
	})
	r := Analyze([]Trace{b2.trace()})
	if r.E2E.P50 != msDur(100) || r.Spans != 2 {
		t.Fatalf("e2e %v spans %d, want 100ms and 2", r.E2E.P50, r.Spans)
	}
}

func TestCriticalPathFailedAttemptsChargedToRetry(t *testing.T) {
	b := newTrace()
	q := b.span(nil, "query", spans.StageQuery, 0, 100)
	call := b.span(q, "retry llm", spans.StageRetry, 0, 100, spans.String(spans.KeyRetryOp, "llm.complete"))
	a1 := b.span(call, "attempt", spans.StageRetry, 0, 30, spans.Int(spans.KeyRetryAttempt, 1))
	a1.Status = spans.StatusError
	l1 := b.span(a1, "llm", spans.StageLLM, 0, 30)
	a2 := b.span(call, "attempt", spans.StageRetry, 50, 100, spans.Int(spans.KeyRetryAttempt, 2))
	l2 := b.span(a2, "llm", spans.StageLLM, 50, 100)
	checkPath(t, CriticalPath(b.trace()), []segWant{
		{l1, spans.StageRetry, 30}, {call, spans.StageRetry, 20}, {l2, spans.StageLLM, 50},
	})
}

func TestCriticalPathParentCycleIgnored(t *testing.T) {
	b := newTrace()
	q := b.span(nil, "query", spans.StageQuery, 0, 10)
	x := b.span(q, "x", spans.StageLLM, 0, 5)
	y := b.span(x, "y", spans.StageLLM, 0, 5)
	x.ParentID = y.SpanID // x ↔ y: unreachable from the root
	self := b.span(nil, "self", spans.StageLLM, 0, 5)
	self.ParentID = self.SpanID // its own parent: an orphan, hung under the root
	tr := b.trace()
	tr.Spans = append(tr.Spans, nil)
	checkPath(t, CriticalPath(tr), []segWant{{self, spans.StageLLM, 5}, {q, spans.StageQuery, 5}})
	r := Analyze([]Trace{tr})
	if r.Spans != 2 {
		t.Fatalf("spans analysed = %d, want 2 (the cycle is unreachable)", r.Spans)
	}
}
