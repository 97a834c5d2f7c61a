package analysis

import (
	"testing"
	"time"

	"github.com/stagescope/stagescope/spans"
)

// Exact answers, worked out by hand, for the report's per-request figures
// on small constructed traces: each stage's self time in the request
// (StageStats.PerTrace), its share of the request's time, its critical-path
// time, and the predicted gain of removing it. (The critical-path segments
// of the same shapes are in criticalpath_test.go and clock_test.go.)

// stageWant is one stage's exact figures in a one-trace report.
type stageWant struct {
	self  float64 // ms: the stage's self time in the request
	share float64 // of the request's time the stage ran its own code
	path  float64 // ms charged on the critical path (0: not on it)
}

func checkStages(t *testing.T, r *Report, want map[spans.Stage]stageWant) {
	t.Helper()
	if len(r.Stages) != len(want) {
		t.Errorf("%d stages in the report, want %d", len(r.Stages), len(want))
	}
	var pathSum time.Duration
	for st, w := range want {
		ss, ok := stageStats(r, st)
		if !ok {
			t.Errorf("%s missing from the report", st)
			continue
		}
		if ss.PerTrace.P50 != msDur(w.self) || ss.PerRequest != msDur(w.self) || ss.ShareOfE2E != w.share {
			t.Errorf("%s: self %v per request (mean %v), share %v; want %vms, %v", st, ss.PerTrace.P50, ss.PerRequest, ss.ShareOfE2E, w.self, w.share)
		}
		c, on := stageCP(r, st)
		if on != (w.path > 0) || c.MeanPerTrace != msDur(w.path) {
			t.Errorf("%s: %v on the critical path (listed %v), want %vms", st, c.MeanPerTrace, on, w.path)
		}
		pathSum += c.MeanPerTrace
	}
	if pathSum != r.E2E.P50 {
		t.Errorf("critical path sums to %v, the request took %v", pathSum, r.E2E.P50)
	}
}

// removedGain returns the predicted p50 gain of taking stage st out.
func removedGain(r *Report, st spans.Stage) time.Duration {
	for _, g := range r.Gains {
		if g.Stage == st {
			return g.Removed.P50Gain
		}
	}
	return 0
}

// Sequential steps with gaps: every step is on the path, the gaps are the
// query's own time.
func TestExactSequential(t *testing.T) {
	b := newTrace()
	q := b.span(nil, "query", spans.StageQuery, 0, 100)
	b.span(q, "embed", spans.StageEmbed, 0, 10)
	b.span(q, "retrieve", spans.StageRetrieve, 10, 40)
	b.span(q, "rerank", spans.StageRerank, 45, 60)
	b.span(q, "llm", spans.StageLLM, 60, 95)
	r := Analyze([]Trace{b.trace()})
	checkStages(t, r, map[spans.Stage]stageWant{
		spans.StageQuery:    {self: 10, share: 0.1, path: 10},
		spans.StageEmbed:    {self: 10, share: 0.1, path: 10},
		spans.StageRetrieve: {self: 30, share: 0.3, path: 30},
		spans.StageRerank:   {self: 15, share: 0.15, path: 15},
		spans.StageLLM:      {self: 35, share: 0.35, path: 35},
	})
	// Each step removed saves exactly its time: the steps are in series.
	for st, ms := range map[spans.Stage]float64{spans.StageRetrieve: 30, spans.StageLLM: 35, spans.StageEmbed: 10} {
		if got := removedGain(r, st); got != msDur(ms) {
			t.Errorf("%s removed: p50 gain %v, want %vms", st, got, ms)
		}
	}
}

// Two branches side by side: only the one that bounds the request is on
// the path; the other's self time still counts, and removing it is
// predicted to gain nothing.
func TestExactParallel(t *testing.T) {
	b := newTrace()
	q := b.span(nil, "query", spans.StageQuery, 0, 100)
	b.span(q, "retrieve", spans.StageRetrieve, 0, 80)
	b.span(q, "embed", spans.StageEmbed, 0, 60)
	b.span(q, "llm", spans.StageLLM, 80, 100)
	r := Analyze([]Trace{b.trace()})
	checkStages(t, r, map[spans.Stage]stageWant{
		spans.StageRetrieve: {self: 80, share: 0.8, path: 80},
		spans.StageEmbed:    {self: 60, share: 0.6},
		spans.StageLLM:      {self: 20, share: 0.2, path: 20},
		spans.StageQuery:    {self: 0, share: 0},
	})
	// The replay keeps the path's shape (an upper bound: without retrieve,
	// embed would bound the wait at 60 ms).
	if got := removedGain(r, spans.StageRetrieve); got != msDur(80) {
		t.Errorf("retrieve removed: p50 gain %v, want 80ms", got)
	}
	if got := removedGain(r, spans.StageEmbed); got != 0 {
		t.Errorf("embed removed: p50 gain %v, want 0 (off the path)", got)
	}
}

// A child that outlives its parent in the same process (fire-and-forget):
// its overrun is not the parent's time, and the parent did not wait for it.
func TestExactLateChild(t *testing.T) {
	b := newTrace()
	q := b.span(nil, "query", spans.StageQuery, 0, 50)
	b.span(q, "retrieve", spans.StageRetrieve, 0, 20)
	b.span(q, "audit", spans.StageStorage, 40, 90)
	r := Analyze([]Trace{b.trace()})
	checkStages(t, r, map[spans.Stage]stageWant{
		// 50 − 20 (retrieve) − 10 (audit, clipped to 40–50)
		spans.StageQuery:    {self: 20, share: 0.4, path: 30},
		spans.StageRetrieve: {self: 20, share: 0.4, path: 20},
		// Its own 50 ms, of which 10 within the request.
		spans.StageStorage: {self: 50, share: 0.2},
	})
	if r.Anomalies.FireAndForget != 1 || r.Anomalies.Traces != 1 {
		t.Errorf("anomalies %+v, want the late child flagged", r.Anomalies)
	}
}

// A span whose parent never arrived hangs under the root and counts there.
func TestExactMissingParent(t *testing.T) {
	b := newTrace()
	q := b.span(nil, "query", spans.StageQuery, 0, 100)
	b.span(&spans.Span{SpanID: spans.SpanID{9, 9}}, "rerank", spans.StageRerank, 20, 70)
	b.span(q, "llm", spans.StageLLM, 70, 90)
	r := Analyze([]Trace{b.trace()})
	checkStages(t, r, map[spans.Stage]stageWant{
		spans.StageQuery:  {self: 30, share: 0.3, path: 30},
		spans.StageRerank: {self: 50, share: 0.5, path: 50},
		spans.StageLLM:    {self: 20, share: 0.2, path: 20},
	})
	if r.Anomalies.Orphans != 1 {
		t.Errorf("anomalies %+v, want 1 orphan", r.Anomalies)
	}
}

// Another service's clock runs 4 ms behind: its span starts before the
// request. It is clipped to the request for the path and the share; its own
// self time is what it measured.
func TestExactSkewedClock(t *testing.T) {
	b := newTrace()
	q := b.span(nil, "query", spans.StageQuery, 0, 100)
	q.Resource = &spans.Resource{Attrs: []spans.Attribute{spans.String(spans.KeyService, "api")}}
	ret := b.span(q, "retrieve", spans.StageRetrieve, -4, 50)
	ret.Resource = &spans.Resource{Attrs: []spans.Attribute{spans.String(spans.KeyService, "search")}}
	b.span(q, "llm", spans.StageLLM, 50, 100)
	r := Analyze([]Trace{b.trace()})
	if r.E2E.P50 != msDur(100) {
		t.Fatalf("e2e %v, want the query's 100ms", r.E2E.P50)
	}
	checkStages(t, r, map[spans.Stage]stageWant{
		spans.StageQuery:    {self: 0, share: 0},
		spans.StageRetrieve: {self: 54, share: 0.5, path: 50},
		spans.StageLLM:      {self: 50, share: 0.5, path: 50},
	})
	if r.Anomalies.ClockSkew != 1 {
		t.Errorf("anomalies %+v, want 1 clock skew", r.Anomalies)
	}
}

// The 2,000-span trace of TestCriticalPathTwoThousandSpans: 999 steps of
// 1.4 ms, each opening with a 0.5 ms model call and overlapping the next
// step by 0.4 ms (millisecond rounding), and an orphan in the last 0.5 ms.
func TestExactTwoThousandSpansSelfTime(t *testing.T) {
	tr, _ := wideTrace()
	r := Analyze([]Trace{tr})
	want := map[spans.Stage]struct {
		count int
		sum   time.Duration
	}{
		spans.StageSynth: {999, 999 * 900 * time.Microsecond}, // 1.4 ms − its 0.5 ms call
		spans.StageLLM:   {999, 999 * 500 * time.Microsecond},
		// The steps and the orphan cover all but 999.5–1000 ms.
		spans.StageQuery:  {1, 500 * time.Microsecond},
		spans.StageRerank: {1, 500 * time.Microsecond},
	}
	for st, w := range want {
		ss, ok := stageStats(r, st)
		if !ok || ss.Count != w.count || ss.SelfSum != w.sum || ss.PerTrace.P50 != w.sum {
			t.Errorf("%s: %d spans, self %v (per request %v); want %d, %v", st, ss.Count, ss.SelfSum, ss.PerTrace.P50, w.count, w.sum)
		}
	}
	if ss, _ := stageStats(r, spans.StageSynth); ss.Self.P50 != 900*time.Microsecond || ss.Self.Max != 900*time.Microsecond {
		t.Errorf("synth span self p50 %v max %v, want 0.9ms each", ss.Self.P50, ss.Self.Max)
	}
}
