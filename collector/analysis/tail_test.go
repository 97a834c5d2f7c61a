package analysis

import (
	"math/rand/v2"
	"testing"

	"github.com/stagescope/stagescope/spans"
)

// simpleTrace: retrieve then llm, back to back, in a query span.
func simpleTrace(retrieve, llm float64) Trace {
	b := newTrace()
	q := b.span(nil, "query", spans.StageQuery, 0, retrieve+llm)
	b.span(q, "retrieve", spans.StageRetrieve, 0, retrieve)
	b.span(q, "llm", spans.StageLLM, retrieve, retrieve+llm)
	return b.trace()
}

func TestTailAttributionKnownAnswer(t *testing.T) {
	// 19 traces: the p95 is the value of rank ⌈0.95·19⌉ = 19, the slowest,
	// so the slow cohort is that one trace.
	var traces []Trace
	for range 18 {
		traces = append(traces, simpleTrace(10, 10))
	}
	slow := simpleTrace(10, 50)
	traces = append(traces[:7], append([]Trace{slow}, traces[7:]...)...)
	r := Analyze(traces)
	tl := r.Tail
	if tl.SlowTraces != 1 || tl.RestTraces != 18 || tl.Threshold != r.E2E.P95 || tl.Threshold != msDur(60) || tl.Gap != msDur(40) || tl.GapMs != 40 {
		t.Fatalf("tail = %+v", tl)
	}
	if tl.Top != spans.StageLLM || tl.Stages[0].Stage != spans.StageLLM || tl.Stages[0].Delta != msDur(40) || tl.Stages[0].ShareOfGap != 1 {
		t.Fatalf("tail stages = %+v", tl.Stages)
	}
	for _, s := range tl.Stages[1:] {
		if s.Delta != 0 {
			t.Fatalf("only llm differs, got %+v", s)
		}
	}
	if len(tl.Exemplars) != 1 || tl.Exemplars[0] != slow.ID() {
		t.Fatalf("exemplars = %v, want the slow trace %s", tl.Exemplars, slow.ID())
	}
	// The slow cohort's path is 50 of 60 ms llm.
	if c, _ := stageCP(r, spans.StageLLM); c.MeanPerSlowTrace != msDur(50) || c.SlowShare != 0.8333 || c.SlowOnPath != 1 {
		t.Fatalf("llm path = %+v", c)
	}
}

func TestTailAttributionRareSpike(t *testing.T) {
	// 5 % of traces get 200 ms more rerank; everything else jitters.
	p := basePipeline(3)
	rng := rand.New(rand.NewPCG(3, 4))
	var traces []Trace
	var spiked []spans.TraceID
	for i := range 400 {
		var extra map[spans.Stage]float64
		if i%20 == 0 {
			extra = map[spans.Stage]float64{spans.StageRerank: 200}
		}
		tr := p.one(rng, extra)
		if extra != nil {
			spiked = append(spiked, tr.ID())
		}
		traces = append(traces, tr)
	}
	r := Analyze(traces, WithMaxExemplars(3))
	// The cohort starts at the p95, rank ⌈0.95·400⌉ = 380: the 20 spiked
	// traces and the slowest other one.
	if r.Tail.Top != spans.StageRerank || r.Tail.SlowTraces != 21 || r.Tail.Threshold != r.E2E.P95 || r.Tail.Stages[0].ShareOfGap < 0.9 {
		t.Fatalf("tail = %+v", r.Tail)
	}
	if len(r.Tail.Exemplars) != 3 {
		t.Fatalf("exemplars = %v", r.Tail.Exemplars)
	}
	for _, e := range r.Tail.Exemplars {
		found := false
		for _, s := range spiked {
			found = found || s == e
		}
		if !found {
			t.Fatalf("exemplar %s is not a spiked trace", e)
		}
	}
	if f := r.Findings[0]; f.Stage != spans.StageRerank || len(f.Exemplars) != 3 {
		t.Fatalf("first finding = %+v", f)
	}
}

func TestWhatIf(t *testing.T) {
	var traces []Trace
	for range 20 {
		traces = append(traces, simpleTrace(20, 80))
	}
	r := Analyze(traces)
	if len(r.WhatIf) != 2 {
		t.Fatalf("automatic scenarios = %+v, want llm and retrieve", r.WhatIf)
	}
	w := r.WhatIf[0]
	if w.Stage != spans.StageLLM || w.Factor != 2 || w.P95 != msDur(60) || w.P95Now != msDur(100) || w.Gain != 0.4 || w.P95Ms != 60 {
		t.Fatalf("what-if llm 2× = %+v", w)
	}
	r = Analyze(traces, WithWhatIf(spans.StageRetrieve, 4), WithWhatIf(spans.StageRerank, 2))
	if len(r.WhatIf) != 2 || r.WhatIf[0].Stage != spans.StageRetrieve || r.WhatIf[0].P95 != msDur(85) || r.WhatIf[0].Gain != 0.15 {
		t.Fatalf("what-if retrieve 4× = %+v", r.WhatIf)
	}
	if r.WhatIf[1].P95 != msDur(100) || r.WhatIf[1].Gain != 0 {
		t.Fatalf("rerank is absent, nothing to gain: %+v", r.WhatIf[1])
	}
}
