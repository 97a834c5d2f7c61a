package analysis

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stagescope/stagescope/spans"
)

// injectedTrace: a query (0–100 ms) with a rerank span 0–50 ms whose planted
// fault ran 0–45 ms, a second rerank span 50–60 ms and an llm span 60–100.
func injectedTrace(fault float64) Trace {
	b := newTrace()
	q := b.span(nil, "query", spans.StageQuery, 0, 100)
	r := b.span(q, "rerank", spans.StageRerank, 0, 5+fault)
	if fault > 0 {
		b.span(r, "fault", spans.StageRerank, 0, fault, spans.Bool(spans.KeyFaultInjected, true))
	}
	b.span(q, "rerank", spans.StageRerank, 5+fault, 15+fault)
	b.span(q, "llm", spans.StageLLM, 15+fault, 100)
	return b.trace()
}

func TestPerRequestFiguresFirstAndInjectedApart(t *testing.T) {
	var traces []Trace
	for range 10 {
		traces = append(traces, injectedTrace(45))
	}
	for range 10 {
		traces = append(traces, injectedTrace(0))
	}
	r := Analyze(traces)
	rr, ok := stageStats(r, spans.StageRerank)
	if !ok {
		t.Fatal("no rerank stats")
	}
	// Per request: 60 ms (5 + 45 injected + 10) in half the traces, 15 ms
	// in the other half; the mean over all requests is 37.5 ms.
	if rr.Traces != 20 || rr.PerTrace.Count != 20 || rr.PerTrace.P50 != msDur(15) || rr.PerTrace.P95 != msDur(60) || rr.PerTrace.Max != msDur(60) ||
		rr.PerTrace.Mean != msDur(37.5) || rr.PerRequest != msDur(37.5) {
		t.Errorf("rerank per trace %+v, per request %v", rr.PerTrace, rr.PerRequest)
	}
	// Per span: the 40 rerank spans of the stage's own code (5 or 10 ms
	// self), the 10 fault spans apart.
	if rr.Count != 40 || rr.Self.P50 != msDur(5) || rr.Self.P95 != msDur(10) || rr.Self.Mean != msDur(7.5) || rr.SelfSum != msDur(300) ||
		rr.Injected != 10 || rr.InjectedSelf.Count != 10 || rr.InjectedSelf.P50 != msDur(45) || rr.Total.Max != msDur(50) {
		t.Errorf("rerank per span %+v", rr)
	}
	// The union of rerank's self time is 60 of 100 ms or 15 of 100: a
	// share of (10·60 + 10·15) / 2000 = 37.5%.
	if rr.ShareOfE2E != 0.375 {
		t.Errorf("rerank share of e2e %v", rr.ShareOfE2E)
	}
	var f Finding
	for _, x := range r.Findings {
		if x.Stage == spans.StageRerank {
			f = x
		}
	}
	if !strings.Contains(f.Detail, "It costs a request 15ms at p50 and 60ms at p95 (its self time summed per trace, over the 20 traces that have it); per span, its 40 spans take 5ms self time at p50 and 10ms at p95. 10 injected spans planted faults ran in are counted apart (45ms self time at p50).") {
		t.Errorf("rerank finding detail %q", f.Detail)
	}
	// 450 ms of the stage's 750 ms is in the planted fault's spans: the
	// advice says so instead of tuning rerank.
	if !strings.Contains(f.Recommendation, "60% of rerank's time is in 10 spans of a planted fault (attribute fault.injected), not in its own work") {
		t.Errorf("rerank advice %q", f.Recommendation)
	}
	// A small plant (50 ms of 350) leaves the stage's own advice.
	traces = traces[:0]
	for range 10 {
		traces = append(traces, injectedTrace(5), injectedTrace(0))
	}
	own := 0
	for _, x := range Analyze(traces).Findings {
		if x.Stage == spans.StageRerank {
			if strings.Contains(x.Recommendation, "planted fault") || !strings.Contains(x.Recommendation, "rerank") {
				t.Errorf("a small plant took over the advice: %q", x.Recommendation)
			}
			own++
		}
	}
	if own == 0 {
		t.Error("no rerank finding with a small plant")
	}
}

// Every share in a report is a fraction of a whole: within [−1, 1] even
// when spans run concurrently, outlive their parent or start before it.
func TestEveryShareIsAFraction(t *testing.T) {
	var traces []Trace
	for i := range 40 {
		b := newTrace()
		q := b.span(nil, "query", spans.StageQuery, 0, 100)
		for j := range 6 { // six concurrent retrieve spans
			b.span(q, "retrieve", spans.StageRetrieve, float64(j), 90)
		}
		b.span(q, "late", spans.StageRerank, 80, 300)        // outlives the root
		b.span(q, "early", spans.StageEmbed, -20, 10)        // starts before it
		b.span(q, "llm", spans.StageLLM, 90, 100+float64(i)) // and a growing tail
		traces = append(traces, b.trace())
	}
	r := Analyze(traces)
	check := func(what string, v float64) {
		t.Helper()
		if v < -1 || v > 1 {
			t.Errorf("%s = %v", what, v)
		}
	}
	for _, s := range r.Stages {
		check(s.Stage.String()+" share of e2e", s.ShareOfE2E)
	}
	for _, c := range r.CriticalPath {
		check(c.Stage.String()+" path share", c.Share)
		check(c.Stage.String()+" slow path share", c.SlowShare)
		check(c.Stage.String()+" on path", c.OnPath)
	}
	for _, s := range r.Tail.Stages {
		check(s.Stage.String()+" share of gap", s.ShareOfGap)
	}
	for _, g := range r.Gains {
		check(g.Stage.String()+" floor share", g.FloorShare)
		check(g.Stage.String()+" tail share", g.TailShare)
	}
	for _, f := range r.Findings {
		check(f.Title+" share", f.Share)
		for _, w := range strings.Fields(f.Title + " " + f.Detail + " " + f.Recommendation) {
			w = strings.Trim(w, "(),.;")
			if v, ok := strings.CutSuffix(w, "%"); ok {
				if p, err := strconv.ParseFloat(v, 64); err != nil || p > 100 || p < -100 {
					t.Errorf("percentage %q in %q", w, f.Title+" "+f.Detail)
				}
			}
		}
	}
}
