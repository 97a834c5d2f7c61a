package analysis

import (
	"fmt"
	"math"
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
	// Significance, RegressionThreshold and MinEffect are the criteria
	// used: a stage changed when the Mann–Whitney p-value is below
	// Significance and its p50 or p95 moved, in the direction the test
	// found, by at least max(RegressionThreshold × the baseline's value,
	// MinEffect) (see StageDelta.Regressed).
	Significance        float64       `json:"significance"`
	RegressionThreshold float64       `json:"regression_threshold"`
	MinEffect           time.Duration `json:"min_effect_ns"`
	MinEffectMs         float64       `json:"min_effect_ms"`
	// E2E compares end-to-end latency per trace (its Stage is query).
	E2E StageDelta `json:"e2e"`
	// Stages compare each stage's self time per trace (0 for traces without
	// the stage), in pipeline order.
	Stages []StageDelta `json:"stages"`
	// Regressions lists the regressed stages, worst first; Findings say what
	// to do about them.
	Regressions []spans.Stage `json:"regressions"`
	Findings    []Finding     `json:"findings"`
	// ConfigCompared is set when the two runs' configurations were given
	// (WithRunConfigs) and read; ConfigDiff then lists the settings that
	// differ (see DiffConfigs), and ConfigError says why they could not be
	// read.
	ConfigCompared bool           `json:"config_compared"`
	ConfigDiff     []ConfigChange `json:"config_diff"`
	ConfigError    string         `json:"config_error,omitempty"`
}

// StageDelta is one stage's change between baseline and candidate.
type StageDelta struct {
	Stage           spans.Stage   `json:"stage"`
	BaselineMean    time.Duration `json:"baseline_mean_ns"`
	BaselineMeanMs  float64       `json:"baseline_mean_ms"`
	CandidateMean   time.Duration `json:"candidate_mean_ns"`
	CandidateMeanMs float64       `json:"candidate_mean_ms"`
	BaselineP50     time.Duration `json:"baseline_p50_ns"`
	BaselineP50Ms   float64       `json:"baseline_p50_ms"`
	CandidateP50    time.Duration `json:"candidate_p50_ns"`
	CandidateP50Ms  float64       `json:"candidate_p50_ms"`
	BaselineP95     time.Duration `json:"baseline_p95_ns"`
	BaselineP95Ms   float64       `json:"baseline_p95_ms"`
	CandidateP95    time.Duration `json:"candidate_p95_ns"`
	CandidateP95Ms  float64       `json:"candidate_p95_ms"`
	Delta           time.Duration `json:"delta_ns"` // candidate mean − baseline mean
	DeltaMs         float64       `json:"delta_ms"`
	// Change is Delta relative to the baseline mean (+0.25 = 25 % slower).
	// It is 0 when the baseline mean is below MinEffect: a relative change
	// of almost nothing says nothing (from 3 ns to 4 µs is "+133000 %"), so
	// ChangeText then gives the absolute change.
	Change float64 `json:"change"`
	// ChangeText is the change for people: "+25%" when the baseline mean is
	// at least MinEffect, otherwise the absolute change ("+9µs").
	ChangeText string      `json:"change_text"`
	Test       MannWhitney `json:"test"`
	// Significant: the Mann–Whitney p-value is below the significance level.
	Significant bool `json:"significant"`
	// Effect is the larger move of the p50 and the p95 in the direction
	// the test found (candidate − baseline; positive is slower), and
	// EffectFloor what it had to reach at that quantile:
	// max(RegressionThreshold × baseline value, MinEffect).
	Effect        time.Duration `json:"effect_ns"`
	EffectMs      float64       `json:"effect_ms"`
	EffectFloor   time.Duration `json:"effect_floor_ns"`
	EffectFloorMs float64       `json:"effect_floor_ms"`
	// Regressed (Improved) is set when the change is significant and its
	// Effect reaches the floor, slower (faster). A significant change
	// below the floor is neither: real, but too small to act on.
	Regressed bool `json:"regressed"`
	Improved  bool `json:"improved"`
	// Exemplars is a typical trace of each side for this stage, given
	// when the change is significant and both sides have the stage.
	Exemplars *ExemplarPair `json:"exemplars,omitempty"`
}

// ExemplarPair is a typical trace from each side of a comparison: the one
// whose figure for the stage (self time per trace, or end-to-end latency) is
// closest to its side's median among the traces that have the stage. Open
// both to see what changed.
type ExemplarPair struct {
	Baseline  spans.TraceID `json:"baseline"`
	Candidate spans.TraceID `json:"candidate"`
}

// sample is one side's per-trace figures of a stage, the traces they
// belong to, and their weights (nil: every trace weighs 1; WithSample).
type sample struct {
	v   []float64
	ids []spans.TraceID
	w   []float64
}

// weight is the weight of value i.
func (s sample) weight(i int) float64 {
	if s.w == nil {
		return 1
	}
	return s.w[i]
}

// stats are the weighted mean, p50 and p95 of the sample.
func (s sample) stats() (mean float64, p50, p95 int64) {
	vals := make([]int64, len(s.v))
	var sum, total float64
	for i, x := range s.v {
		vals[i] = int64(x)
		sum += x * s.weight(i)
		total += s.weight(i)
	}
	w := slices.Clone(s.w)
	sortWeighted(vals, w)
	return ratio(sum, total), wquantile(vals, w, 0.50), wquantile(vals, w, 0.95)
}

// Compare analyses baseline and candidate and tests, per stage, whether the
// per-trace self time changed (Mann–Whitney U, two-sided). A stage is flagged
// as regressed (improved) when the change is significant (p <
// WithSignificance, default 0.01) and its p50 or p95 per-trace self time
// grew (shrank) by at least max(WithRegressionThreshold × the baseline's
// value, WithMinEffect) — by default max(10 %, 1 ms) — so a few microseconds
// are never a regression however significant.
func Compare(baseline, candidate []Trace, opts ...Option) *Comparison {
	cfg := newConfig(opts)
	// Each side has its own sample weights (WithComparedSamples).
	bcfg, ccfg := cfg, cfg
	if cfg.sides != nil {
		b, c := *cfg, *cfg
		b.sample, c.sample = cfg.sides[0], cfg.sides[1]
		bcfg, ccfg = &b, &c
	}
	// The two sides share nothing but the read-only configuration: each
	// is analysed on its own goroutine (a comparison of two 2,000-trace
	// samples took twice one report's time).
	var ab, ac *accumulator
	var baseRep, candRep *Report
	done := make(chan struct{})
	go func() {
		defer close(done)
		ab = newAccumulator(bcfg, len(baseline))
		for _, t := range baseline {
			ab.add(t)
		}
		baseRep = ab.report()
	}()
	ac = newAccumulator(ccfg, len(candidate))
	for _, t := range candidate {
		ac.add(t)
	}
	candRep = ac.report()
	<-done
	cmp := &Comparison{
		Baseline: baseRep, Candidate: candRep,
		Significance: cfg.alpha, RegressionThreshold: cfg.regression,
		MinEffect: cfg.minEffect, MinEffectMs: ms(cfg.minEffect),
		Stages: []StageDelta{}, Regressions: []spans.Stage{}, Findings: []Finding{}, ConfigDiff: []ConfigChange{},
	}
	if rc := cfg.runConfigs; rc != nil {
		if diff, err := DiffConfigs(rc[0], rc[1]); err != nil {
			cmp.ConfigError = err.Error()
		} else {
			cmp.ConfigCompared, cmp.ConfigDiff = true, diff
		}
	}
	side := func(a *accumulator, get func(r *traceResult) int64) sample {
		s := sample{v: make([]float64, len(a.results)), ids: make([]spans.TraceID, len(a.results))}
		if a.weighted {
			s.w = make([]float64, len(a.results))
		}
		for i := range a.results {
			s.v[i], s.ids[i] = float64(get(&a.results[i])), a.results[i].id
			if s.w != nil {
				s.w[i] = a.results[i].w
			}
		}
		return s
	}
	e2e := func(r *traceResult) int64 { return r.e2e }
	cmp.E2E = cfg.delta(spans.StageQuery, side(ab, e2e), side(ac, e2e))
	for st := range numStages {
		if ab.stages[st].traces == 0 && ac.stages[st].traces == 0 {
			continue
		}
		self := func(r *traceResult) int64 { return r.self[st] }
		cmp.Stages = append(cmp.Stages, cfg.delta(spans.Stage(st), side(ab, self), side(ac, self)))
	}
	var regressed []StageDelta
	for _, d := range cmp.Stages {
		if d.Regressed {
			regressed = append(regressed, d)
		}
	}
	slices.SortStableFunc(regressed, func(x, y StageDelta) int {
		switch {
		case x.Effect > y.Effect:
			return -1
		case x.Effect < y.Effect:
			return 1
		}
		return 0
	})
	for _, d := range regressed {
		cmp.Regressions = append(cmp.Regressions, d.Stage)
		cmp.Findings = append(cmp.Findings, regressionFinding(cmp, d, ac.exemplars(ac.cohort(), d.Stage)))
	}
	return cmp
}

// regressionFinding says what a regressed stage costs and what to look at.
func regressionFinding(cmp *Comparison, d StageDelta, exemplars []spans.TraceID) Finding {
	f := Finding{
		Kind: "regression", Stage: d.Stage, Score: d.Effect, ScoreMs: ms(d.Effect),
		Share:     round4(min(ratio(float64(d.Effect), float64(cmp.Candidate.E2E.P95)), 1)),
		Exemplars: exemplars,
	}
	f.Severity = severity(f.Share)
	f.Title = fmt.Sprintf("%s regressed by %s self time per trace at the %s (mean %s)", d.Stage, signedDur(int64(d.Effect)), d.effectQuantile(), d.ChangeText)
	f.Detail = fmt.Sprintf("Self time per trace went from %s to %s at p50 and from %s to %s at p95, mean %s to %s (Mann–Whitney U p = %.2g over %d and %d traces; the change had to reach %s).",
		dur(d.BaselineP50), dur(d.CandidateP50), dur(d.BaselineP95), dur(d.CandidateP95),
		dur(d.BaselineMean), dur(d.CandidateMean), d.Test.P, cmp.Baseline.Traces, cmp.Candidate.Traces, dur(d.EffectFloor))
	if d.Exemplars != nil {
		f.Detail += fmt.Sprintf(" Typical traces: baseline %s, candidate %s.", d.Exemplars.Baseline, d.Exemplars.Candidate)
	}
	diff := ""
	if len(cmp.ConfigDiff) > 0 {
		diff = " (the runs' settings differ: " + summariseConfigDiff(cmp.ConfigDiff) + ")"
	} else if cmp.ConfigCompared {
		diff = " (the runs' settings are the same, so look beyond them)"
	}
	f.Recommendation = fmt.Sprintf("look at what changed in %s between the two sides%s — settings, model, data size, deployment — and open the two typical traces side by side; revert that change or budget the extra %s per trace.",
		d.Stage, diff, dur(d.Effect))
	return f
}

// effectQuantile names the quantile whose move is the Effect.
func (d StageDelta) effectQuantile() string {
	if d.Effect == d.CandidateP50-d.BaselineP50 {
		return "p50"
	}
	return "p95"
}

// delta compares two per-trace samples of one stage.
func (c *config) delta(st spans.Stage, base, cand sample) StageDelta {
	d := StageDelta{Stage: st}
	bm, b50, b95 := base.stats()
	cm, c50, c95 := cand.stats()
	d.BaselineMean, d.CandidateMean = time.Duration(bm), time.Duration(cm)
	d.BaselineMeanMs, d.CandidateMeanMs = ms(d.BaselineMean), ms(d.CandidateMean)
	d.BaselineP50, d.CandidateP50 = time.Duration(b50), time.Duration(c50)
	d.BaselineP50Ms, d.CandidateP50Ms = ms(d.BaselineP50), ms(d.CandidateP50)
	d.BaselineP95, d.CandidateP95 = time.Duration(b95), time.Duration(c95)
	d.BaselineP95Ms, d.CandidateP95Ms = ms(d.BaselineP95), ms(d.CandidateP95)
	d.Delta = d.CandidateMean - d.BaselineMean
	d.DeltaMs = ms(d.Delta)
	switch {
	case d.Delta == 0:
		d.ChangeText = "0"
	case d.BaselineMean >= c.minEffect:
		d.Change = round4(ratio(cm-bm, bm))
		d.ChangeText = fmt.Sprintf("%+.0f%%", 100*d.Change)
	default:
		d.ChangeText = signedDur(int64(d.Delta))
	}
	if base.w == nil && cand.w == nil {
		d.Test = MannWhitneyU(cand.v, base.v)
	} else {
		d.Test = weightedMannWhitneyU(cand.v, cand.w, base.v, base.w)
	}
	d.Test.Z, d.Test.P = round4(d.Test.Z), roundP(d.Test.P)
	d.Significant = d.Test.P < c.alpha

	// The effect is read in the direction the test found (its z), at the
	// quantile that moved most relative to its floor.
	dir := int64(0)
	switch {
	case d.Test.Z > 0:
		dir = 1
	case d.Test.Z < 0:
		dir = -1
	}
	floor := func(b time.Duration) time.Duration {
		return max(time.Duration(c.regression*float64(b)), c.minEffect)
	}
	type move struct{ effect, floor time.Duration }
	moves := []move{
		{d.CandidateP50 - d.BaselineP50, floor(d.BaselineP50)},
		{d.CandidateP95 - d.BaselineP95, floor(d.BaselineP95)},
	}
	best := moves[0]
	if dir != 0 {
		score := func(m move) float64 { return float64(dir) * float64(m.effect) / float64(m.floor) }
		if score(moves[1]) > score(moves[0]) {
			best = moves[1]
		}
	}
	d.Effect, d.EffectMs = best.effect, ms(best.effect)
	d.EffectFloor, d.EffectFloorMs = best.floor, ms(best.floor)
	reached := dir != 0 && int64(best.effect)*dir >= int64(best.floor)
	d.Regressed = d.Significant && reached && dir > 0
	d.Improved = d.Significant && reached && dir < 0
	if d.Significant {
		// A pair only when both sides have the stage: a stage that appeared
		// or vanished has no typical trace on one side (its id would read
		// as all zeros).
		if b, c := typical(base), typical(cand); !b.IsZero() && !c.IsZero() {
			d.Exemplars = &ExemplarPair{Baseline: b, Candidate: c}
		}
	}
	return d
}

// typical returns the trace whose value is closest to the median of the
// side's non-zero values (traces without the stage are not typical of it);
// the first such trace on ties.
func typical(s sample) spans.TraceID {
	var nz []int64
	var nw []float64
	for i, v := range s.v {
		if v > 0 {
			nz = append(nz, int64(v))
			if s.w != nil {
				nw = append(nw, s.w[i])
			}
		}
	}
	if len(nz) == 0 {
		return spans.TraceID{}
	}
	sortWeighted(nz, nw)
	med := float64(wquantile(nz, nw, 0.5)) // weighted: the median of the window the sample stands for
	best, bestDist := -1, math.Inf(1)
	for i, v := range s.v {
		if v <= 0 {
			continue
		}
		if dist := math.Abs(v - med); dist < bestDist {
			best, bestDist = i, dist
		}
	}
	return s.ids[best]
}

// signedDur prints a duration with its sign: "+9µs", "−1.2ms".
func signedDur(ns int64) string {
	if ns < 0 {
		return "−" + fmtDur(-ns)
	}
	return "+" + fmtDur(ns)
}

// roundP keeps three significant digits of a p-value.
func roundP(p float64) float64 {
	r, err := strconv.ParseFloat(strconv.FormatFloat(p, 'g', 3, 64), 64)
	if err != nil {
		return p
	}
	return r
}
