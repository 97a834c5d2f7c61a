package analysis

import (
	"testing"
	"time"

	"github.com/stagescope/stagescope/spans"
)

// The OTel JS SDK stamps to the millisecond: the retriever appears to end
// half a millisecond after the model call started. Both are on the path; the
// chain's own time is nil.
func TestCriticalPathMillisecondOverlapIsSequential(t *testing.T) {
	b := newTrace()
	q := b.span(nil, "chain", spans.StageQuery, 0, 100)
	ret := b.span(q, "retrieve", spans.StageRetrieve, 0, 60.5)
	llm := b.span(q, "llm", spans.StageLLM, 60, 100)
	checkPath(t, CriticalPath(b.trace()), []segWant{
		{ret, spans.StageRetrieve, 60}, {llm, spans.StageLLM, 40},
	})
	r := Analyze([]Trace{b.trace()})
	for st, want := range map[spans.Stage]float64{spans.StageRetrieve: 60, spans.StageLLM: 40} {
		if c, _ := stageCP(r, st); c.MeanPerTrace != msDur(want) || c.OnPath != 1 {
			t.Errorf("%s on path %v (%v of traces), want %vms on every trace", st, c.MeanPerTrace, c.OnPath, want)
		}
	}
	if _, ok := stageCP(r, spans.StageQuery); ok {
		t.Error("the chain is charged path time")
	}
	if ss, _ := stageStats(r, spans.StageQuery); ss.SelfSum != 0 {
		t.Errorf("chain self %v, want 0", ss.SelfSum)
	}
	if r.Anomalies.Any() {
		t.Errorf("anomalies %+v from rounding", r.Anomalies)
	}
}

// An overlap beyond the clocks' tick is concurrency: the earlier step did
// not bound the later one.
func TestCriticalPathRealOverlapIsConcurrent(t *testing.T) {
	b := newTrace()
	q := b.span(nil, "chain", spans.StageQuery, 0, 100)
	b.span(q, "retrieve", spans.StageRetrieve, 0, 62) // 2 ms into the llm call
	llm := b.span(q, "llm", spans.StageLLM, 60, 100)
	checkPath(t, CriticalPath(b.trace()), []segWant{
		{q, spans.StageQuery, 60}, {llm, spans.StageLLM, 40},
	})

	// With nanosecond timestamps half a millisecond is no rounding either.
	b2 := newTrace()
	q2 := b2.span(nil, "chain", spans.StageQuery, 0, 100)
	r2 := b2.span(q2, "retrieve", spans.StageRetrieve, 0, 60.5)
	r2.End = r2.End.Add(3 * time.Nanosecond)
	l2 := b2.span(q2, "llm", spans.StageLLM, 60, 100)
	l2.Start = l2.Start.Add(11 * time.Nanosecond)
	path := CriticalPath(b2.trace())
	if len(path) != 2 || path[0].SpanID != q2.SpanID || path[1].SpanID != l2.SpanID {
		t.Fatalf("nanosecond clock: path %+v, want chain then llm", path)
	}
}

// Children outside their parent are clipped and counted: skew when another
// service's clock disagrees, fire-and-forget when the parent did not wait.
func TestAnomaliesInTheReport(t *testing.T) {
	svc := func(name string) *spans.Resource {
		return &spans.Resource{Attrs: []spans.Attribute{spans.String(spans.KeyService, name)}}
	}
	b := newTrace()
	q := b.span(nil, "query", spans.StageQuery, 0, 100)
	q.Resource = svc("api")
	skewed := b.span(q, "retrieve", spans.StageRetrieve, -4, 50) // its clock is 4 ms behind
	skewed.Resource = svc("search")
	b.span(q, "audit log", spans.StageStorage, 50, 400) // not awaited
	clean := newTrace()
	cq := clean.span(nil, "query", spans.StageQuery, 0, 100)
	clean.span(cq, "llm", spans.StageLLM, 0, 100)
	orphaned := newTrace()
	oq := orphaned.span(nil, "query", spans.StageQuery, 0, 100)
	ol := orphaned.span(&spans.Span{SpanID: spans.SpanID{0xee}}, "llm", spans.StageLLM, 10, 90)
	_ = oq

	r := Analyze([]Trace{b.trace(), clean.trace(), orphaned.trace()})
	an := r.Anomalies
	if an.ClockSkew != 1 || an.FireAndForget != 1 || an.Orphans != 1 || an.Unreachable != 0 || an.Traces != 2 {
		t.Fatalf("anomalies %+v", an)
	}
	if len(an.Exemplars) != 2 || an.Exemplars[0] != b.id || an.Exemplars[1] != orphaned.id {
		t.Fatalf("exemplars %v", an.Exemplars)
	}
	// The skewed retriever is clipped to the query: 0–50 on the path; the
	// audit log, after the query returned, is not; the adopted orphan is.
	checkPath(t, CriticalPath(b.trace()), []segWant{
		{skewed, spans.StageRetrieve, 50}, {q, spans.StageQuery, 50},
	})
	checkPath(t, CriticalPath(orphaned.trace()), []segWant{
		{oq, spans.StageQuery, 10}, {ol, spans.StageLLM, 80}, {oq, spans.StageQuery, 10},
	})
	// Storage's share counts only what ran within the requests: 50 of 300 ms.
	if ss, _ := stageStats(r, spans.StageStorage); ss.ShareOfE2E != 0.1667 || ss.SelfSum != msDur(350) {
		t.Fatalf("storage stats %+v", ss)
	}
}

// Shares are fractions of a whole: none exceeds 1, however parallel the
// traces.
func TestSharesDoNotExceedOne(t *testing.T) {
	p := basePipeline(9)
	p.shards, p.workers = 16, 16 // 16 retrieval shards side by side
	slow := p
	slow.extraByStage = map[spans.Stage]float64{spans.StageRerank: 40}
	traces := append(p.traces(190), slow.traces(10)...)
	r := Analyze(traces)
	check := func(what string, v float64) {
		t.Helper()
		if v > 1 || v < -1 {
			t.Errorf("%s = %v, outside [-1, 1]", what, v)
		}
	}
	for _, s := range r.Stages {
		check(s.Stage.String()+" share of e2e", s.ShareOfE2E)
	}
	for _, c := range r.CriticalPath {
		check(c.Stage.String()+" path share", c.Share)
		check(c.Stage.String()+" slow path share", c.SlowShare)
	}
	var grown float64
	for _, s := range r.Tail.Stages {
		check(s.Stage.String()+" share of gap", s.ShareOfGap)
		if s.ShareOfGap > 0 {
			grown += s.ShareOfGap
		}
	}
	if grown < 0.999 || grown > 1.001 {
		t.Errorf("growing stages' shares of the gap add up to %v, want 1", grown)
	}
	for _, f := range r.Findings {
		check("finding "+f.Title, f.Share)
	}
	// 16 parallel shards: the retrieve stage's summed self time is far
	// more than the requests' latency, its share of it is not.
	ss, _ := stageStats(r, spans.StageRetrieve)
	if float64(ss.SelfSum) < 2*float64(r.E2E.Mean)*float64(r.Traces) || ss.ShareOfE2E <= 0 {
		t.Fatalf("retrieve self sum %v over %d traces of mean %v, share %v", ss.SelfSum, r.Traces, r.E2E.Mean, ss.ShareOfE2E)
	}
}

// wideTrace is a 2,000-span trace: a query, 999 sequential steps of 1 ms
// overlapping the next by 0.4 ms (millisecond clock), each starting with a
// 0.5 ms model call, and an orphan at the end.
func wideTrace() (Trace, *traceBuilder) {
	b := newTrace()
	q := b.span(nil, "query", spans.StageQuery, 0, 1000)
	for i := range time.Duration(999) {
		step := b.span(q, "step", spans.StageSynth, 0, 0)
		step.Start = epoch.Add(i * time.Millisecond)
		step.End = step.Start.Add(1400 * time.Microsecond)
		call := b.span(step, "call", spans.StageLLM, 0, 0)
		call.Start, call.End = step.Start, step.Start.Add(500*time.Microsecond)
	}
	b.span(&spans.Span{SpanID: spans.SpanID{0xff}}, "orphan", spans.StageRerank, 999, 999.5)
	return b.trace(), b
}

func TestCriticalPathTwoThousandSpans(t *testing.T) {
	tr, _ := wideTrace()
	if len(tr.Spans) != 2000 {
		t.Fatalf("%d spans", len(tr.Spans))
	}
	path := CriticalPath(tr)
	byStage := map[spans.Stage]time.Duration{}
	var sum time.Duration
	for i, s := range path {
		byStage[s.ChargedTo] += s.Duration
		sum += s.Duration
		if i > 0 && !s.Start.Equal(path[i-1].End) {
			t.Fatalf("segment %d does not tile", i)
		}
	}
	want := map[spans.Stage]time.Duration{
		spans.StageQuery: 500 * time.Microsecond, spans.StageRerank: 500 * time.Microsecond,
		spans.StageSynth: 999 * 500 * time.Microsecond, spans.StageLLM: 999 * 500 * time.Microsecond,
	}
	for st, w := range want {
		if byStage[st] != w {
			t.Errorf("%s on path %v, want %v", st, byStage[st], w)
		}
	}
	if sum != time.Second || len(path) != 2*999+2 {
		t.Fatalf("path of %d segments sums to %v, want 2000 and 1s", len(path), sum)
	}
	r := Analyze([]Trace{tr})
	if r.Spans != 2000 || r.Anomalies.Orphans != 1 || r.E2E.P50 != time.Second {
		t.Fatalf("report: %d spans, anomalies %+v, e2e %v", r.Spans, r.Anomalies, r.E2E.P50)
	}
}
