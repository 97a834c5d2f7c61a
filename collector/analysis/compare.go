package analysis

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/stagescope/stagescope/spans"
)

// Comparison sets a candidate set of traces (a window, a run) against a
// baseline.
type Comparison struct {
	Baseline  *Report `json:"baseline"`
	Candidate *Report `json:"candidate"`
	// Significance and RegressionThreshold are the criteria used.
	Significance        float64 `json:"significance"`
	RegressionThreshold float64 `json:"regression_threshold"`
	// E2E compares end-to-end latency per trace (its Stage is query).
	E2E StageDelta `json:"e2e"`
	// Stages compare each stage's self time per trace (0 for traces without
	// the stage), in pipeline order.
	Stages []StageDelta `json:"stages"`
	// Regressions lists the regressed stages, worst first; Findings say what
	// to do about them.
	Regressions []spans.Stage `json:"regressions"`
	Findings    []Finding     `json:"findings"`
}

// StageDelta is one stage's change between baseline and candidate.
type StageDelta struct {
	Stage           spans.Stage   `json:"stage"`
	BaselineMean    time.Duration `json:"baseline_mean_ns"`
	BaselineMeanMs  float64       `json:"baseline_mean_ms"`
	CandidateMean   time.Duration `json:"candidate_mean_ns"`
	CandidateMeanMs float64       `json:"candidate_mean_ms"`
	BaselineP95     time.Duration `json:"baseline_p95_ns"`
	BaselineP95Ms   float64       `json:"baseline_p95_ms"`
	CandidateP95    time.Duration `json:"candidate_p95_ns"`
	CandidateP95Ms  float64       `json:"candidate_p95_ms"`
	Delta           time.Duration `json:"delta_ns"` // candidate mean − baseline mean
	DeltaMs         float64       `json:"delta_ms"`
	// Change is Delta relative to the baseline mean (+0.25 = 25 % slower;
	// 0 when the baseline mean is 0).
	Change      float64     `json:"change"`
	Test        MannWhitney `json:"test"`
	Significant bool        `json:"significant"`
	Regressed   bool        `json:"regressed"`
	Improved    bool        `json:"improved"`
}

// Compare analyses baseline and candidate and tests, per stage, whether the
// per-trace self time changed (Mann–Whitney U, two-sided). A stage is flagged
// as regressed when the change is significant (p < WithSignificance, default
// 0.01) and its mean per-trace self time grew by at least the regression
// threshold (default +10 %).
func Compare(baseline, candidate []Trace, opts ...Option) *Comparison {
	cfg := newConfig(opts)
	ab := newAccumulator(cfg, len(baseline))
	for _, t := range baseline {
		ab.add(t)
	}
	ac := newAccumulator(cfg, len(candidate))
	for _, t := range candidate {
		ac.add(t)
	}
	cmp := &Comparison{
		Baseline: ab.report(), Candidate: ac.report(),
		Significance: cfg.alpha, RegressionThreshold: cfg.regression,
		Stages: []StageDelta{}, Regressions: []spans.Stage{}, Findings: []Finding{},
	}
	e2e := func(a *accumulator) []float64 {
		out := make([]float64, len(a.results))
		for i, r := range a.results {
			out[i] = float64(r.e2e)
		}
		return out
	}
	cmp.E2E = cfg.delta(spans.StageQuery, e2e(ab), e2e(ac))
	for st := range numStages {
		if ab.stages[st].traces == 0 && ac.stages[st].traces == 0 {
			continue
		}
		self := func(a *accumulator) []float64 {
			out := make([]float64, len(a.results))
			for i, r := range a.results {
				out[i] = float64(r.self[st])
			}
			return out
		}
		cmp.Stages = append(cmp.Stages, cfg.delta(spans.Stage(st), self(ab), self(ac)))
	}
	var regressed []StageDelta
	for _, d := range cmp.Stages {
		if d.Regressed {
			regressed = append(regressed, d)
		}
	}
	slices.SortStableFunc(regressed, func(x, y StageDelta) int {
		switch {
		case x.Delta > y.Delta:
			return -1
		case x.Delta < y.Delta:
			return 1
		}
		return 0
	})
	for _, d := range regressed {
		cmp.Regressions = append(cmp.Regressions, d.Stage)
		f := Finding{
			Kind: "regression", Stage: d.Stage, Score: d.Delta, ScoreMs: ms(d.Delta),
			Share:     round4(ratio(float64(d.Delta), float64(cmp.Candidate.E2E.Mean))),
			Exemplars: ac.exemplars(ac.cohort(), d.Stage),
		}
		f.Severity = severity(f.Share)
		f.Title = fmt.Sprintf("%s regressed by %+.0f%% (%s more self time per trace)", d.Stage, 100*d.Change, fmtDur(int64(d.Delta)))
		f.Detail = fmt.Sprintf("Mean self time per trace went from %s to %s, p95 from %s to %s (Mann–Whitney U p = %.2g over %d and %d traces).",
			fmtDur(int64(d.BaselineMean)), fmtDur(int64(d.CandidateMean)), fmtDur(int64(d.BaselineP95)), fmtDur(int64(d.CandidateP95)),
			d.Test.P, cmp.Baseline.Traces, cmp.Candidate.Traces)
		f.Recommendation = fmt.Sprintf("look at what changed in %s between the two runs (settings, model, data size, deployment) and compare an exemplar trace against the baseline; revert that change or budget the extra %s per trace.",
			d.Stage, fmtDur(int64(d.Delta)))
		cmp.Findings = append(cmp.Findings, f)
	}
	return cmp
}

// delta compares two per-trace samples of one stage.
func (c *config) delta(st spans.Stage, base, cand []float64) StageDelta {
	d := StageDelta{Stage: st}
	mean := func(v []float64) float64 {
		var s float64
		for _, x := range v {
			s += x
		}
		return ratio(s, float64(len(v)))
	}
	p95 := func(v []float64) int64 {
		s := make([]int64, len(v))
		for i, x := range v {
			s[i] = int64(x)
		}
		slices.Sort(s)
		return quantile(s, 0.95)
	}
	bm, cm := mean(base), mean(cand)
	d.BaselineMean, d.CandidateMean = time.Duration(bm), time.Duration(cm)
	d.BaselineMeanMs, d.CandidateMeanMs = ms(d.BaselineMean), ms(d.CandidateMean)
	d.BaselineP95, d.CandidateP95 = time.Duration(p95(base)), time.Duration(p95(cand))
	d.BaselineP95Ms, d.CandidateP95Ms = ms(d.BaselineP95), ms(d.CandidateP95)
	d.Delta = d.CandidateMean - d.BaselineMean
	d.DeltaMs = ms(d.Delta)
	d.Change = round4(ratio(cm-bm, bm))
	d.Test = MannWhitneyU(cand, base)
	d.Test.Z, d.Test.P = round4(d.Test.Z), roundP(d.Test.P)
	d.Significant = d.Test.P < c.alpha
	grew := cm > bm && (bm == 0 || (cm-bm)/bm >= c.regression)
	shrank := cm < bm && (bm-cm)/bm >= c.regression
	d.Regressed = d.Significant && grew
	d.Improved = d.Significant && shrank
	return d
}

// roundP keeps three significant digits of a p-value.
func roundP(p float64) float64 {
	r, err := strconv.ParseFloat(strconv.FormatFloat(p, 'g', 3, 64), 64)
	if err != nil {
		return p
	}
	return r
}
