package analysis

import (
	"slices"
	"time"

	"github.com/stagescope/stagescope/spans"
	quantiles "github.com/stagescope/stagescope/spans/quantile"
)

// cohort splits the traces into the slow cohort and the rest. Sums and
// counts are weighted by the traces' weights (WithSample): slowW is the
// weight of the slow cohort, slowSum its weighted end-to-end time.
type cohort struct {
	threshold int64   // the fastest slow trace's latency
	slow      []int32 // indexes into results, slowest first
	rest      int     // traces not in the slow cohort
	slowSum   float64
	restSum   float64
	totalSum  float64
	slowW     float64
	restW     float64
	totalW    float64
	// e2eSorted is every trace's latency ascending, e2eW their weights
	// (nil when every weight is 1).
	e2eSorted []int64
	e2eW      []float64
}

// slowMean and restMean are the cohorts' weighted mean latencies.
func (c *cohort) slowMean() float64 { return ratio(c.slowSum, c.slowW) }
func (c *cohort) restMean() float64 { return ratio(c.restSum, c.restW) }

func (a *accumulator) cohort() cohort {
	var c cohort
	n := len(a.results)
	if n == 0 {
		return c
	}
	byE2E := make([]int32, n)
	for i := range a.results {
		byE2E[i] = int32(i)
	}
	slices.SortStableFunc(byE2E, func(x, y int32) int {
		ex, ey := a.results[x].e2e, a.results[y].e2e
		switch {
		case ex > ey:
			return -1
		case ex < ey:
			return 1
		}
		return 0
	})
	c.e2eSorted = make([]int64, n)
	if a.weighted {
		c.e2eW = make([]float64, n)
	}
	for i, j := range byE2E {
		r := &a.results[j]
		c.e2eSorted[n-1-i] = r.e2e
		if c.e2eW != nil {
			c.e2eW[n-1-i] = r.w
		}
		c.totalSum += r.w * float64(r.e2e)
		c.totalW += r.w
	}
	// The slow cohort is the traces from the nearest rank r of the slow
	// quantile up (package quantile; weighted when the traces are), so its
	// fastest trace is the report's p95: n − r + 1 traces, ranked rather
	// than cut at a value, so ties at the threshold cannot swallow the
	// whole set; with two or more traces there is always a rest.
	r := quantiles.Rank(n, a.cfg.slowQuantile)
	if c.e2eW != nil {
		r = quantiles.Index(c.e2eW, a.cfg.slowQuantile) + 1
	}
	k := n - r + 1
	k = max(k, 1)
	if n >= 2 {
		k = min(k, n-1)
	}
	c.slow = byE2E[:k]
	for _, i := range c.slow {
		c.slowSum += a.results[i].w * float64(a.results[i].e2e)
		c.slowW += a.results[i].w
	}
	c.threshold = a.results[c.slow[k-1]].e2e
	c.rest = n - k
	c.restSum = c.totalSum - c.slowSum
	c.restW = c.totalW - c.slowW
	return c
}

// report assembles the Report from everything added.
func (a *accumulator) report() *Report {
	rep := &Report{
		Traces: len(a.results), Spans: a.spans, SlowQuantile: a.cfg.slowQuantile,
		Stages: []StageStats{}, CriticalPath: []StageCP{}, Pools: []PoolStats{}, Retries: []RetryStats{},
		Cost: []CostStats{}, UnpricedModels: []string{}, WhatIf: []WhatIf{}, Gains: []StageGain{}, Findings: []Finding{},
		Tail:      TailAttribution{Quantile: a.cfg.slowQuantile, Stages: []TailStage{}, Exemplars: []spans.TraceID{}},
		Anomalies: TraceAnomalies{Exemplars: []spans.TraceID{}, MissingRootExemplars: []spans.TraceID{}},
		Errors:    ErrorStats{Stages: []StageErrors{}, Exemplars: []spans.TraceID{}},
		Streaming: StreamingStats{Calls: []StreamStats{}},
	}
	if len(a.results) == 0 {
		return rep
	}
	c := a.cohort()
	rep.E2E = summarizeSorted(c.e2eSorted, c.e2eW)
	rep.Weighting = a.weighting(c)

	for st := range a.stages {
		acc := &a.stages[st]
		if acc.traces == 0 {
			continue
		}
		var perTraceSum float64
		for i, v := range acc.perTrace {
			w := 1.0
			if acc.perTraceW != nil {
				w = acc.perTraceW[i]
			}
			perTraceSum += w * float64(v)
		}
		perAll := time.Duration(ratio(perTraceSum, c.totalW))
		rep.Stages = append(rep.Stages, StageStats{
			Stage: spans.Stage(st), Count: len(acc.totals), Traces: acc.traces, Errors: acc.errors,
			PerTrace:   summarizeWeighted(acc.perTrace, acc.perTraceW),
			PerRequest: perAll, PerRequestMs: ms(perAll),
			Injected: acc.injected, InjectedSelf: summarize(acc.injSelfs),
			Total: summarizeWeighted(acc.totals, slices.Clone(acc.weights)), Self: summarizeWeighted(acc.selfs, slices.Clone(acc.weights)),
			SelfSum: time.Duration(acc.selfSum), SelfSumMs: ms(acc.selfSum),
			ShareOfE2E: round4(ratio(acc.busySum, c.totalSum)),
		})
	}
	rep.Anomalies = TraceAnomalies{Anomalies: a.anomalies, Traces: a.anomalous, Exemplars: a.anomalyExemplars,
		MissingRootShare: round4(ratio(a.missingW, c.totalW)), MissingRootExemplars: a.missingEx}
	if rep.Anomalies.Exemplars == nil {
		rep.Anomalies.Exemplars = []spans.TraceID{}
	}
	if rep.Anomalies.MissingRootExemplars == nil {
		rep.Anomalies.MissingRootExemplars = []spans.TraceID{}
	}
	rep.CriticalPath = a.criticalPathStats(c)
	rep.Pools = a.poolStats()
	rep.Retries = a.retryStats(c.totalW)
	rep.Cost, rep.CostTotalUSD, rep.UnpricedModels = a.costStats(c.totalW)
	rep.Tail = a.tail(c)
	rep.WhatIf = a.whatIf(&c)
	rep.Gains = a.gains(&c, rep.Tail)
	rep.Errors = a.errorStats(c)
	rep.Findings = placeErrorFindings(a.findings(rep, c), append(a.errorFindings(rep), missingRootFinding(rep)...))
	rep.Streaming = a.streamingStats()
	if f, ok := a.streamingFinding(rep, c); ok {
		rep.Findings = placeStreamingFinding(rep.Findings, f)
	}
	return rep
}

// weighting describes the traces' weights.
func (a *accumulator) weighting(c cohort) Weighting {
	w := Weighting{Represented: round4(c.totalW)}
	if s := a.cfg.sample; s != nil {
		w.Weighted = true
		w.SlowThreshold, w.SlowThresholdMs, w.HashRate = time.Duration(s.slow), ms(s.slow), s.rate
		for _, r := range a.results {
			if r.e2e >= s.slow {
				w.SlowTraces++
			}
		}
	}
	return w
}

// criticalPathStats aggregates the charged critical-path time per stage.
func (a *accumulator) criticalPathStats(c cohort) []StageCP {
	all := make([]float64, numStages)
	slow := make([]float64, numStages)
	onPath := make([]float64, numStages)
	slowOnPath := make([]float64, numStages)
	for _, r := range a.results {
		for st, d := range r.attr {
			all[st] += r.w * float64(d)
			if d > 0 {
				onPath[st] += r.w
			}
		}
	}
	for _, i := range c.slow {
		r := &a.results[i]
		for st, d := range r.attr {
			slow[st] += r.w * float64(d)
			if d > 0 {
				slowOnPath[st] += r.w
			}
		}
	}
	out := []StageCP{}
	for st := range all {
		if all[st] == 0 {
			continue
		}
		per := time.Duration(ratio(all[st], c.totalW))
		perSlow := time.Duration(ratio(slow[st], c.slowW))
		out = append(out, StageCP{
			Stage: spans.Stage(st), MeanPerTrace: per, MeanPerTraceMs: ms(per),
			MeanPerSlowTrace: perSlow, MeanPerSlowTraceMs: ms(perSlow),
			Share:      round4(ratio(all[st], c.totalSum)),
			SlowShare:  round4(ratio(slow[st], c.slowSum)),
			OnPath:     round4(ratio(onPath[st], c.totalW)),
			SlowOnPath: round4(ratio(slowOnPath[st], c.slowW)),
		})
	}
	slices.SortStableFunc(out, func(x, y StageCP) int {
		switch {
		case x.MeanPerSlowTrace > y.MeanPerSlowTrace:
			return -1
		case x.MeanPerSlowTrace < y.MeanPerSlowTrace:
			return 1
		case x.MeanPerTrace > y.MeanPerTrace:
			return -1
		case x.MeanPerTrace < y.MeanPerTrace:
			return 1
		}
		return 0
	})
	return out
}

// exemplars returns up to max slow traces where stage st is charged most.
func (a *accumulator) exemplars(c cohort, st spans.Stage) []spans.TraceID {
	idx := slices.Clone(c.slow)
	slices.SortStableFunc(idx, func(x, y int32) int {
		dx, dy := a.results[x].attr[st], a.results[y].attr[st]
		switch {
		case dx > dy:
			return -1
		case dx < dy:
			return 1
		}
		return 0
	})
	out := []spans.TraceID{}
	for _, i := range idx {
		if len(out) == a.cfg.maxExemplars {
			break
		}
		if a.results[i].attr[st] > 0 {
			out = append(out, a.results[i].id)
		}
	}
	return out
}

// tail explains the gap between the slow cohort and the rest per stage.
func (a *accumulator) tail(c cohort) TailAttribution {
	t := TailAttribution{
		Quantile: a.cfg.slowQuantile, Threshold: time.Duration(c.threshold), ThresholdMs: ms(c.threshold),
		SlowTraces: len(c.slow), RestTraces: c.rest, Stages: []TailStage{}, Exemplars: []spans.TraceID{},
	}
	slowMean, restMean := c.slowMean(), c.restMean()
	t.SlowMean, t.RestMean = time.Duration(slowMean), time.Duration(restMean)
	t.SlowMeanMs, t.RestMeanMs = ms(t.SlowMean), ms(t.RestMean)
	if c.rest == 0 {
		return t // no contrast to explain
	}
	t.Gap = t.SlowMean - t.RestMean
	t.GapMs = ms(t.Gap)
	slow := make([]float64, numStages)
	rest := make([]float64, numStages)
	inSlow := make([]bool, len(a.results))
	for _, i := range c.slow {
		inSlow[i] = true
	}
	for i, r := range a.results {
		dst := rest
		if inSlow[i] {
			dst = slow
		}
		for st, d := range r.attr {
			dst[st] += r.w * float64(d)
		}
	}
	var grown time.Duration // the stages' growth: the sum of positive deltas
	for st := range slow {
		if slow[st] == 0 && rest[st] == 0 {
			continue
		}
		sm := time.Duration(ratio(slow[st], c.slowW))
		rm := time.Duration(ratio(rest[st], c.restW))
		t.Stages = append(t.Stages, TailStage{
			Stage: spans.Stage(st), SlowMean: sm, SlowMeanMs: ms(sm), RestMean: rm, RestMeanMs: ms(rm),
			Delta: sm - rm, DeltaMs: ms(sm - rm),
		})
		if sm > rm {
			grown += sm - rm
		}
	}
	for i := range t.Stages {
		t.Stages[i].ShareOfGap = round4(ratio(float64(t.Stages[i].Delta), float64(grown)))
	}
	slices.SortStableFunc(t.Stages, func(x, y TailStage) int {
		switch {
		case x.Delta > y.Delta:
			return -1
		case x.Delta < y.Delta:
			return 1
		}
		return 0
	})
	if len(t.Stages) > 0 && t.Stages[0].Delta > 0 {
		t.Top = t.Stages[0].Stage
		t.Exemplars = a.exemplars(c, t.Top)
	}
	return t
}

// minWhatIfShare: stages charged less of the critical path than this get no
// automatic what-if scenario.
const minWhatIfShare = 0.01

// whatIf recomputes the end-to-end percentiles with one stage's charged
// critical-path time divided by the factor (the replay of gains.go).
func (a *accumulator) whatIf(c *cohort) []WhatIf {
	specs := a.cfg.whatIf
	if len(specs) == 0 {
		sum := make([]float64, numStages)
		for _, r := range a.results {
			for st, d := range r.attr {
				sum[st] += r.w * float64(d)
			}
		}
		for st, d := range sum {
			if ratio(d, c.totalSum) >= minWhatIfShare {
				specs = append(specs, whatIfSpec{spans.Stage(st), DefaultWhatIfFactor})
			}
		}
	}
	rp := newReplayer(a, c)
	out := make([]WhatIf, 0, len(specs))
	for _, sp := range specs {
		st := stageIndex(sp.stage)
		p := rp.predict(st, sp.factor)
		out = append(out, WhatIf{
			Stage: st, Factor: sp.factor,
			P50: p.P50, P50Ms: p.P50Ms, P95: p.P95, P95Ms: p.P95Ms,
			P95Now: rp.now.P95, P95NowMs: rp.now.P95Ms,
			Gain: round4(ratio(float64(p.P95Gain), float64(rp.now.P95))),
		})
	}
	if len(a.cfg.whatIf) == 0 {
		slices.SortStableFunc(out, func(x, y WhatIf) int {
			switch {
			case x.Gain > y.Gain:
				return -1
			case x.Gain < y.Gain:
				return 1
			}
			return 0
		})
	}
	return out
}

// placeErrorFindings puts critical error findings first (a request that
// fails matters more than one that is slow) and the others after the latency
// findings, before the cost findings.
func placeErrorFindings(fs, errs []Finding) []Finding {
	if len(errs) == 0 {
		return fs
	}
	var critical, rest []Finding
	for _, f := range errs {
		if f.Severity == "critical" {
			critical = append(critical, f)
		} else {
			rest = append(rest, f)
		}
	}
	cut := len(fs)
	for i, f := range fs {
		if f.Kind == "cost" {
			cut = i
			break
		}
	}
	out := make([]Finding, 0, len(fs)+len(errs))
	out = append(out, critical...)
	out = append(out, fs[:cut]...)
	out = append(out, rest...)
	return append(out, fs[cut:]...)
}
