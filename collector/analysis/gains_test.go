package analysis

import (
	"math"
	"strings"
	"testing"

	"github.com/stagescope/stagescope/spans"
)

// Twenty requests: llm takes 100 ms in every one (the floor), rerank 10 ms
// except in two where it takes 110 ms (the tail), retrieve 5 ms. p50 is
// rank 10 (115 ms), p95 rank 19 (215 ms), the slow cohort the two 215 ms
// requests.
func floorAndTail() []Trace {
	var traces []Trace
	for i := range 20 {
		rerank := 10.0
		if i == 3 || i == 11 {
			rerank = 110
		}
		traces = append(traces, stepTrace(5, rerank, 100))
	}
	return traces
}

func TestGainsFloorAndTailCoexist(t *testing.T) {
	r := Analyze(floorAndTail())
	if r.E2E.P50 != msDur(115) || r.E2E.P95 != msDur(215) || r.Tail.SlowTraces != 2 {
		t.Fatalf("e2e %+v, %d slow", r.E2E, r.Tail.SlowTraces)
	}
	if len(r.Gains) != 3 {
		t.Fatalf("gains for %d stages: %+v", len(r.Gains), r.Gains)
	}
	type want struct {
		stage                                  spans.Stage
		role                                   string
		p50, p95, mean, tail                   float64 // faster gains, ms
		removedP95, floor, floorShare, tailShr float64
	}
	wants := []want{
		// rerank 2×: the usual request saves 5 ms, the slow ones 55 ms;
		// the mean drops from 125 to 115 ms.
		{spans.StageRerank, "tail", 5, 55, 10, 55, 110, 10, 0.087, 1},
		// llm 2×: every request saves 50 ms.
		{spans.StageLLM, "floor", 50, 50, 50, 50, 100, 100, 0.8696, 0},
		{spans.StageRetrieve, "", 2.5, 2.5, 2.5, 2.5, 5, 5, 0.0435, 0},
	}
	for i, w := range wants {
		g := r.Gains[i]
		if g.Stage != w.stage || g.Role != w.role || g.Factor != 2 ||
			g.Faster.P50GainMs != w.p50 || g.Faster.P95GainMs != w.p95 || g.Faster.MeanGainMs != w.mean || g.Faster.TailMeanGainMs != w.tail ||
			g.Removed.P95GainMs != w.removedP95 || g.FloorMs != w.floor || g.FloorShare != w.floorShare || g.TailShare != w.tailShr {
			t.Errorf("gain %d = %+v\nwant %+v", i, g, w)
		}
	}
	if g := r.Gains[0]; g.Faster.P95Ms != 160 || g.Faster.TailMeanMs != 160 || g.Faster.MeanMs != 115 || g.TailDeltaMs != 100 ||
		!strings.Contains(g.Summary, "rerank drives the tail: it takes 100ms more in slow requests than in the rest (100% of the growth behind the 100ms gap)") ||
		!strings.Contains(g.Summary, "2× faster: p95 215ms → 160ms") {
		t.Errorf("rerank gain %+v", g)
	}
	if g := r.Gains[1]; !strings.Contains(g.Summary, "llm sets the floor: it costs 100ms on the median request's critical path (87% of the 115ms p50)") {
		t.Errorf("llm summary %q", g.Summary)
	}
	// Findings follow the predicted gain: rerank's 55 ms before llm's 50.
	if len(r.Findings) < 2 || r.Findings[0].Stage != spans.StageRerank || r.Findings[1].Stage != spans.StageLLM ||
		r.Findings[0].TailGainMs != 55 || r.Findings[0].P95GainMs != 55 || r.Findings[0].Role != "tail" || r.Findings[1].Role != "floor" {
		t.Fatalf("findings %+v", r.Findings)
	}
	// The what-if scenarios are the same replay.
	for _, w := range r.WhatIf {
		for _, g := range r.Gains {
			if g.Stage == w.Stage && (w.P95 != g.Faster.P95 || w.P50 != g.Faster.P50 || w.P95Now != r.E2E.P95) {
				t.Errorf("what-if %+v disagrees with gain %+v", w, g.Faster)
			}
		}
	}
}

// A floor stage outranks a tail that gains the slow requests less, even
// when the tail explains the whole gap: findings follow what the user
// would gain, not which stage varies.
func TestGainsRankFloorOverSmallerTail(t *testing.T) {
	var traces []Trace
	for i := range 20 {
		rerank := 10.0
		if i == 3 || i == 11 {
			rerank = 50
		}
		traces = append(traces, stepTrace(5, rerank, 100))
	}
	r := Analyze(traces)
	if r.Gains[0].Stage != spans.StageLLM || r.Gains[0].Faster.TailMeanGainMs != 50 || r.Gains[1].Stage != spans.StageRerank || r.Gains[1].Faster.TailMeanGainMs != 25 {
		t.Fatalf("gains %+v", r.Gains)
	}
	if r.Tail.Top != spans.StageRerank || r.Findings[0].Stage != spans.StageLLM || r.Gains[1].Role != "tail" {
		t.Fatalf("tail top %s, first finding %s, rerank role %q", r.Tail.Top, r.Findings[0].Stage, r.Gains[1].Role)
	}
}

// A tail on fewer requests than the 5% above the p95 leaves the p95 alone
// but not the slow requests: the ranking sees it.
func TestGainsSeeATailAboveThePercentile(t *testing.T) {
	var traces []Trace
	for i := range 100 {
		rerank := 10.0
		if i%50 == 7 { // 2 %
			rerank = 400
		}
		traces = append(traces, stepTrace(5, rerank, 20+float64(i%10)))
	}
	r := Analyze(traces)
	g := r.Gains[0]
	if g.Stage != spans.StageRerank || g.Faster.P95Gain > msDur(5) || g.Faster.TailMeanGain < msDur(70) || r.Findings[0].Stage != spans.StageRerank {
		t.Fatalf("gains %+v, first finding %s", r.Gains, r.Findings[0].Stage)
	}
	if math.IsNaN(g.Faster.TailMeanGainMs) {
		t.Fatal("NaN")
	}
}
