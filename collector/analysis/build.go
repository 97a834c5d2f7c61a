package analysis

import (
	"math"
	"slices"
	"time"

	"github.com/stagescope/stagescope/spans"
)

// cohort splits the traces into the slow cohort and the rest.
type cohort struct {
	threshold int64   // the fastest slow trace's latency
	slow      []int32 // indexes into results, slowest first
	slowSum   int64
	restSum   int64
	rest      int
	totalSum  int64
	e2eSorted []int64
}

func (a *accumulator) cohort() cohort {
	var c cohort
	n := len(a.results)
	if n == 0 {
		return c
	}
	c.e2eSorted = make([]int64, n)
	byE2E := make([]int32, n)
	for i, r := range a.results {
		c.e2eSorted[i] = r.e2e
		c.totalSum += r.e2e
		byE2E[i] = int32(i)
	}
	slices.Sort(c.e2eSorted)
	// The slow cohort is the ceil((1−q)·n) slowest traces, ranked rather
	// than cut at a value, so ties at the threshold cannot swallow the
	// whole set; with two or more traces there is always a rest.
	k := int(math.Ceil((1-a.cfg.slowQuantile)*float64(n) - 1e-9)) // 1e-9: 0.05·20 is 1.0000000000000009
	k = max(k, 1)
	if n >= 2 {
		k = min(k, n-1)
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
	c.slow = byE2E[:k]
	for _, i := range c.slow {
		c.slowSum += a.results[i].e2e
	}
	c.threshold = a.results[c.slow[k-1]].e2e
	c.rest = n - k
	c.restSum = c.totalSum - c.slowSum
	return c
}

// report assembles the Report from everything added.
func (a *accumulator) report() *Report {
	rep := &Report{
		Traces: len(a.results), Spans: a.spans, SlowQuantile: a.cfg.slowQuantile,
		Stages: []StageStats{}, CriticalPath: []StageCP{}, Pools: []PoolStats{}, Retries: []RetryStats{},
		Cost: []CostStats{}, UnpricedModels: []string{}, WhatIf: []WhatIf{}, Findings: []Finding{},
		Tail:      TailAttribution{Quantile: a.cfg.slowQuantile, Stages: []TailStage{}, Exemplars: []spans.TraceID{}},
		Anomalies: TraceAnomalies{Exemplars: []spans.TraceID{}},
		Errors:    ErrorStats{Stages: []StageErrors{}, Exemplars: []spans.TraceID{}},
		Streaming: StreamingStats{Calls: []StreamStats{}},
	}
	if len(a.results) == 0 {
		return rep
	}
	c := a.cohort()
	rep.E2E = summarize(slices.Clone(c.e2eSorted))

	for st := range a.stages {
		acc := &a.stages[st]
		if len(acc.totals) == 0 {
			continue
		}
		rep.Stages = append(rep.Stages, StageStats{
			Stage: spans.Stage(st), Count: len(acc.totals), Traces: acc.traces, Errors: acc.errors,
			Total: summarize(acc.totals), Self: summarize(acc.selfs),
			SelfSum: time.Duration(acc.selfSum), SelfSumMs: ms(acc.selfSum),
			ShareOfE2E: round4(ratio(float64(acc.busySum), float64(c.totalSum))),
		})
	}
	rep.Anomalies = TraceAnomalies{Anomalies: a.anomalies, Traces: a.anomalous, Exemplars: a.anomalyExemplars}
	if rep.Anomalies.Exemplars == nil {
		rep.Anomalies.Exemplars = []spans.TraceID{}
	}
	rep.CriticalPath = a.criticalPathStats(c)
	rep.Pools = a.poolStats()
	rep.Retries = a.retryStats()
	rep.Cost, rep.CostTotalUSD, rep.UnpricedModels = a.costStats(len(a.results))
	rep.Tail = a.tail(c)
	rep.WhatIf = a.whatIf(c)
	rep.Errors = a.errorStats(c.e2eSorted)
	rep.Findings = placeErrorFindings(a.findings(rep, c), a.errorFindings(rep))
	rep.Streaming = a.streamingStats()
	if f, ok := a.streamingFinding(rep, c); ok {
		rep.Findings = placeStreamingFinding(rep.Findings, f)
	}
	return rep
}

// criticalPathStats aggregates the charged critical-path time per stage.
func (a *accumulator) criticalPathStats(c cohort) []StageCP {
	all := make([]int64, numStages)
	slow := make([]int64, numStages)
	onPath := make([]int, numStages)
	slowOnPath := make([]int, numStages)
	for _, r := range a.results {
		for st, d := range r.attr {
			all[st] += d
			if d > 0 {
				onPath[st]++
			}
		}
	}
	for _, i := range c.slow {
		for st, d := range a.results[i].attr {
			slow[st] += d
			if d > 0 {
				slowOnPath[st]++
			}
		}
	}
	n, ns := float64(len(a.results)), float64(len(c.slow))
	out := []StageCP{}
	for st := range all {
		if all[st] == 0 {
			continue
		}
		per := time.Duration(float64(all[st]) / n)
		perSlow := time.Duration(ratio(float64(slow[st]), ns))
		out = append(out, StageCP{
			Stage: spans.Stage(st), MeanPerTrace: per, MeanPerTraceMs: ms(per),
			MeanPerSlowTrace: perSlow, MeanPerSlowTraceMs: ms(perSlow),
			Share:      round4(ratio(float64(all[st]), float64(c.totalSum))),
			SlowShare:  round4(ratio(float64(slow[st]), float64(c.slowSum))),
			OnPath:     round4(float64(onPath[st]) / n),
			SlowOnPath: round4(ratio(float64(slowOnPath[st]), ns)),
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
	slowMean := ratio(float64(c.slowSum), float64(len(c.slow)))
	restMean := ratio(float64(c.restSum), float64(c.rest))
	t.SlowMean, t.RestMean = time.Duration(slowMean), time.Duration(restMean)
	t.SlowMeanMs, t.RestMeanMs = ms(t.SlowMean), ms(t.RestMean)
	if c.rest == 0 {
		return t // no contrast to explain
	}
	t.Gap = t.SlowMean - t.RestMean
	t.GapMs = ms(t.Gap)
	slow := make([]int64, numStages)
	rest := make([]int64, numStages)
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
			dst[st] += d
		}
	}
	var grown time.Duration // the stages' growth: the sum of positive deltas
	for st := range slow {
		if slow[st] == 0 && rest[st] == 0 {
			continue
		}
		sm := time.Duration(float64(slow[st]) / float64(len(c.slow)))
		rm := time.Duration(float64(rest[st]) / float64(c.rest))
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
// critical-path time divided by the factor.
func (a *accumulator) whatIf(c cohort) []WhatIf {
	specs := a.cfg.whatIf
	if len(specs) == 0 {
		sum := make([]int64, numStages)
		for _, r := range a.results {
			for st, d := range r.attr {
				sum[st] += d
			}
		}
		for st, d := range sum {
			if ratio(float64(d), float64(c.totalSum)) >= minWhatIfShare {
				specs = append(specs, whatIfSpec{spans.Stage(st), DefaultWhatIfFactor})
			}
		}
	}
	p95Now := quantile(c.e2eSorted, 0.95)
	out := make([]WhatIf, 0, len(specs))
	e2e := make([]int64, len(a.results))
	for _, sp := range specs {
		st := stageIndex(sp.stage)
		cut := 1 - 1/sp.factor
		for i, r := range a.results {
			e2e[i] = r.e2e - int64(float64(r.attr[st])*cut)
		}
		slices.Sort(e2e)
		p50, p95 := quantile(e2e, 0.50), quantile(e2e, 0.95)
		out = append(out, WhatIf{
			Stage: st, Factor: sp.factor,
			P50: time.Duration(p50), P50Ms: ms(p50), P95: time.Duration(p95), P95Ms: ms(p95),
			P95Now: time.Duration(p95Now), P95NowMs: ms(p95Now),
			Gain: round4(ratio(float64(p95Now-p95), float64(p95Now))),
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
