package analysis

import (
	"math"
	"testing"

	"github.com/stagescope/stagescope/spans"
)

func TestMannWhitneyKnownValues(t *testing.T) {
	// Complete separation of 3 and 3: U = 0, z = −(4.5−0.5)/√5.25.
	m := MannWhitneyU([]float64{1, 2, 3}, []float64{4, 5, 6})
	if m.U != 0 || math.Abs(m.Z+1.7457) > 1e-4 || math.Abs(m.P-0.08085) > 1e-4 {
		t.Fatalf("separated = %+v", m)
	}
	// Ties: x = {1,2,2,3}, y = {2,3,3,4}. Ranks: 1→1, 2→3 (×3), 3→6 (×3), 4→8.
	// R1 = 1+3+3+6 = 13, U1 = 13−10 = 3, μ = 8, tie term = (24+24)/(8·7).
	m = MannWhitneyU([]float64{1, 2, 2, 3}, []float64{2, 3, 3, 4})
	variance := 16.0 / 12 * (9 - 48.0/56)
	z := (3 - 8 + 0.5) / math.Sqrt(variance)
	if m.U != 3 || math.Abs(m.Z-z) > 1e-12 || math.Abs(m.P-math.Erfc(-z/math.Sqrt2)) > 1e-12 {
		t.Fatalf("ties = %+v, want z %v", m, z)
	}
	// Symmetric: swapping the samples flips z, keeps p.
	if s := MannWhitneyU([]float64{2, 3, 3, 4}, []float64{1, 2, 2, 3}); s.P != m.P || s.Z != -m.Z {
		t.Fatalf("swapped = %+v vs %+v", s, m)
	}
	if m := MannWhitneyU([]float64{5, 5}, []float64{5, 5, 5}); m.P != 1 {
		t.Fatalf("all ties p = %v, want 1", m.P)
	}
	if m := MannWhitneyU(nil, []float64{1}); m.P != 1 {
		t.Fatalf("empty p = %v, want 1", m.P)
	}
}

func TestCompareFlagsRegressedStageOnly(t *testing.T) {
	base := basePipeline(21).traces(120)
	p := basePipeline(22)
	p.rerank = 8 * 1.5 // +50 % rerank
	cand := p.traces(120)
	c := Compare(base, cand)
	if c.Baseline.Traces != 120 || c.Candidate.Traces != 120 || c.Significance != 0.01 || c.RegressionThreshold != 0.1 {
		t.Fatalf("comparison header = %+v", c)
	}
	deltas := map[spans.Stage]StageDelta{}
	for _, d := range c.Stages {
		deltas[d.Stage] = d
	}
	rr := deltas[spans.StageRerank]
	if !rr.Regressed || !rr.Significant || rr.Test.P >= 1e-6 || rr.Change < 0.4 || rr.Change > 0.6 {
		t.Fatalf("rerank delta = %+v", rr)
	}
	for _, st := range []spans.Stage{spans.StageRetrieve, spans.StageLLM, spans.StageEmbed, spans.StageSynth} {
		if d := deltas[st]; d.Regressed || d.Improved || d.Test.P < 0.01 {
			t.Fatalf("%s flagged though unchanged: %+v", st, d)
		}
	}
	if len(c.Regressions) != 1 || c.Regressions[0] != spans.StageRerank || len(c.Findings) != 1 || c.Findings[0].Stage != spans.StageRerank {
		t.Fatalf("regressions %v findings %+v", c.Regressions, c.Findings)
	}
	if c.E2E.Delta <= 0 || c.E2E.Stage != spans.StageQuery {
		t.Fatalf("e2e delta = %+v", c.E2E)
	}

	// The reverse direction is an improvement, not a regression.
	back := Compare(cand, base)
	if len(back.Regressions) != 0 {
		t.Fatalf("reverse comparison regressions = %v", back.Regressions)
	}
	for _, d := range back.Stages {
		if d.Stage == spans.StageRerank && !d.Improved {
			t.Fatalf("rerank should be improved: %+v", d)
		}
	}
}

func TestCompareSmallSignificantChangeBelowThreshold(t *testing.T) {
	// +5 % llm is detectable with no jitter at all, but under the +10 %
	// threshold; at WithRegressionThreshold(0.04) it is flagged.
	mk := func(llm float64, n int) []Trace {
		var out []Trace
		for i := range n {
			out = append(out, simpleTrace(10, llm+float64(i%5)*0.01))
		}
		return out
	}
	c := Compare(mk(100, 40), mk(105, 40))
	if len(c.Regressions) != 0 {
		t.Fatalf("+5%% flagged at the default threshold: %v", c.Regressions)
	}
	c = Compare(mk(100, 40), mk(105, 40), WithRegressionThreshold(0.04))
	if len(c.Regressions) != 1 || c.Regressions[0] != spans.StageLLM {
		t.Fatalf("+5%% at threshold 4%%: %v", c.Regressions)
	}
}

// A stage one side does not have has no typical trace there: its delta
// carries no exemplar pair (an all-zero id is no trace to open).
func TestCompareGivesNoExemplarPairForAVanishedStage(t *testing.T) {
	var base, cand []Trace
	for i := range 60 {
		base = append(base, stepTrace(10, 20+float64(i%5), 30))
		b := newTrace()
		q := b.span(nil, "query", spans.StageQuery, 0, 40)
		b.span(q, "retrieve", spans.StageRetrieve, 0, 10)
		b.span(q, "llm", spans.StageLLM, 10, 40)
		cand = append(cand, b.trace())
	}
	c := Compare(base, cand)
	for _, d := range c.Stages {
		if d.Stage != spans.StageRerank {
			continue
		}
		if !d.Significant || !d.Improved {
			t.Fatalf("rerank gone: %+v, want a significant improvement", d)
		}
		if d.Exemplars != nil {
			t.Fatalf("exemplar pair %+v for a stage the candidate lacks", *d.Exemplars)
		}
		return
	}
	t.Fatal("no rerank delta")
}
