package analysis

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stagescope/stagescope/spans"
)

// stepTrace: retrieve, rerank and llm back to back in a query span.
func stepTrace(retrieve, rerank, llm float64) Trace {
	b := newTrace()
	q := b.span(nil, "query", spans.StageQuery, 0, retrieve+rerank+llm)
	b.span(q, "retrieve", spans.StageRetrieve, 0, retrieve)
	b.span(q, "rerank", spans.StageRerank, retrieve, retrieve+rerank)
	b.span(q, "llm", spans.StageLLM, retrieve+rerank, retrieve+rerank+llm)
	return b.trace()
}

// sampledWindow is a window of 1,000 traces and the sample the collector's
// policy draws from it at a hash rate of 0.1: 900 fast traces (100 each of
// 20…28 ms), 50 at 100 ms and 50 slow ones (300…349 ms, rerank). The
// window's p95 (rank 950) is 100 ms, so the 100 traces at or above it are
// all in the sample, plus 10 of each fast latency: 190 traces.
func sampledWindow() (window, sample []Trace) {
	for j := range 9 {
		for i := range 100 {
			t := stepTrace(10, 2, float64(8+j))
			window = append(window, t)
			if i%10 == 0 {
				sample = append(sample, t)
			}
		}
	}
	for range 50 {
		t := stepTrace(10, 80, 10)
		window, sample = append(window, t), append(sample, t)
	}
	for i := range 50 {
		t := stepTrace(10, float64(280+i), 10)
		window, sample = append(window, t), append(sample, t)
	}
	return window, sample
}

func TestWeightedSampleReproducesTheWindow(t *testing.T) {
	window, sample := sampledWindow()
	if len(window) != 1000 || len(sample) != 190 {
		t.Fatalf("window %d, sample %d", len(window), len(sample))
	}
	full := Analyze(window)
	naive := Analyze(sample)
	got := Analyze(sample, WithSample(msDur(100), 0.1))

	// The known answer: p50 is rank 500 (24 ms), p95 rank 950 (100 ms).
	if full.E2E.P50 != msDur(24) || full.E2E.P95 != msDur(100) || full.E2E.P99 != msDur(339) {
		t.Fatalf("window e2e = %+v", full.E2E)
	}
	// Naively the tail outweighs the rest: the median is a 100 ms trace.
	if naive.E2E.P50 != msDur(100) {
		t.Fatalf("naive p50 = %v, want the over-weighted 100ms", naive.E2E.P50)
	}
	w := got.Weighting
	if !w.Weighted || w.HashRate != 0.1 || w.SlowThreshold != msDur(100) || w.SlowTraces != 100 || w.Represented != 1000 {
		t.Fatalf("weighting = %+v", w)
	}
	if naive.Weighting.Weighted || naive.Weighting.Represented != 190 {
		t.Fatalf("unweighted weighting = %+v", naive.Weighting)
	}
	sameDist := func(what string, a, b Percentiles) {
		t.Helper()
		a.Count, b.Count = 0, 0
		if a != b {
			t.Errorf("%s: weighted sample %+v, window %+v", what, a, b)
		}
	}
	sameDist("e2e", got.E2E, full.E2E)
	if got.E2E.Count != 190 {
		t.Errorf("e2e count %d, want the 190 analysed traces", got.E2E.Count)
	}
	if len(got.Stages) != len(full.Stages) {
		t.Fatalf("stages %d vs %d", len(got.Stages), len(full.Stages))
	}
	for i := range got.Stages {
		g, f := got.Stages[i], full.Stages[i]
		sameDist(g.Stage.String()+" total", g.Total, f.Total)
		sameDist(g.Stage.String()+" self", g.Self, f.Self)
		if g.ShareOfE2E != f.ShareOfE2E {
			t.Errorf("%s share of e2e %v, window %v", g.Stage, g.ShareOfE2E, f.ShareOfE2E)
		}
	}
	if len(got.CriticalPath) != len(full.CriticalPath) {
		t.Fatalf("critical path %+v vs %+v", got.CriticalPath, full.CriticalPath)
	}
	for i := range got.CriticalPath {
		if got.CriticalPath[i] != full.CriticalPath[i] {
			t.Errorf("critical path %+v, window %+v", got.CriticalPath[i], full.CriticalPath[i])
		}
	}
	gt, ft := got.Tail, full.Tail
	if gt.SlowTraces != 51 || ft.SlowTraces != 51 || gt.RestTraces != 139 || ft.RestTraces != 949 {
		t.Errorf("cohorts: sample %d/%d, window %d/%d", gt.SlowTraces, gt.RestTraces, ft.SlowTraces, ft.RestTraces)
	}
	gt.SlowTraces, gt.RestTraces, ft.SlowTraces, ft.RestTraces = 0, 0, 0, 0
	if gt.Threshold != msDur(100) || gt.SlowMean != ft.SlowMean || gt.RestMean != ft.RestMean || gt.Gap != ft.Gap || gt.Top != spans.StageRerank {
		t.Errorf("tail: sample %+v\nwindow %+v", gt, ft)
	}
	for i := range gt.Stages {
		if gt.Stages[i] != ft.Stages[i] {
			t.Errorf("tail stage %+v, window %+v", gt.Stages[i], ft.Stages[i])
		}
	}
	if len(got.WhatIf) != len(full.WhatIf) {
		t.Fatalf("what-if %+v vs %+v", got.WhatIf, full.WhatIf)
	}
	for i := range got.WhatIf {
		if got.WhatIf[i] != full.WhatIf[i] {
			t.Errorf("what-if %+v, window %+v", got.WhatIf[i], full.WhatIf[i])
		}
	}
	if len(got.Findings) == 0 || len(got.Findings) != len(full.Findings) {
		t.Fatalf("findings %d vs %d", len(got.Findings), len(full.Findings))
	}
	for i := range got.Findings {
		g, f := got.Findings[i], full.Findings[i]
		if g.Stage != f.Stage || g.Kind != f.Kind || g.Score != f.Score || g.Share != f.Share || g.Title != f.Title {
			t.Errorf("finding %d: sample %s %s %v %q, window %s %s %v %q", i, g.Kind, g.Stage, g.Score, g.Title, f.Kind, f.Stage, f.Score, f.Title)
		}
	}
}

// Options outside the range leave the analysis unweighted; a sample of
// only slow traces weighs 1 each.
func TestWithSampleBounds(t *testing.T) {
	_, sample := sampledWindow()
	plain := Analyze(sample)
	for _, rate := range []float64{0, 1, -0.5, 2} {
		r := Analyze(sample, WithSample(msDur(100), rate))
		if r.Weighting.Weighted || r.E2E != plain.E2E {
			t.Errorf("rate %v: weighting %+v, e2e %+v", rate, r.Weighting, r.E2E)
		}
	}
	r := Analyze(sample, WithSample(time.Nanosecond, 0.5))
	if !r.Weighting.Weighted || r.Weighting.SlowTraces != 190 || r.Weighting.Represented != 190 || r.E2E != plain.E2E {
		t.Errorf("every trace slow: weighting %+v, e2e %+v vs %+v", r.Weighting, r.E2E, plain.E2E)
	}
}

// The text report counts the analysed traces but weighs the failure rate
// back to the window; when the traces are a sample it must say both.
func TestTextReportWordsAWeightedFailureRate(t *testing.T) {
	window, sample := sampledWindow()
	// The first ten of every 100 fast traces fail (one of them sampled,
	// weight 10) and the 50 slowest (weight 1): 9×10 + 50 = 140 of the
	// window's 1,000, 9 + 50 = 59 of the sample's 190.
	for j := range 9 {
		for i := range 10 {
			window[j*100+i].Spans[0].Status = spans.StatusError
		}
	}
	for _, tr := range window[950:] {
		tr.Spans[0].Status = spans.StatusError
	}
	text := func(r *Report) string {
		var b strings.Builder
		if err := r.WriteText(&b, "test"); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	full := Analyze(window)
	if got := full.Errors.FailureRate; got != 0.14 {
		t.Fatalf("window failure rate %v, want 0.14", got)
	}
	if s := text(full); !strings.Contains(s, "140 of 1000 requests failed (14.0%)") {
		t.Errorf("window text lacks the plain count:\n%s", s)
	}
	got := Analyze(sample, WithSample(msDur(100), 0.1))
	if got.Errors.FailedTraces != 59 || got.Errors.FailureRate != 0.14 {
		t.Fatalf("sample: %d failed, rate %v; want 59 and the window's 0.14", got.Errors.FailedTraces, got.Errors.FailureRate)
	}
	s := text(got)
	if want := "59 of the 190 analysed requests failed (weighted back to the window: 14.0% of requests)"; !strings.Contains(s, want) {
		t.Errorf("sample text lacks %q:\n%s", want, s)
	}
	if strings.Contains(s, "59 of 190 requests failed (14.0%)") {
		t.Error("sample text mixes the unweighted count with the weighted rate")
	}
}

// poolRetryTrace: a query of e2e ms with a pool run of jobs of 10 ms on 2
// workers (jobs/2 waves, all queued at 0) and one retried call that made
// attempts attempts (giving up or not).
func poolRetryTrace(e2e float64, jobs, attempts int, gaveUp bool) Trace {
	b := newTrace()
	q := b.span(nil, "query", spans.StageQuery, 0, e2e)
	waves := float64((jobs + 1) / 2)
	p := b.span(q, "pool embed", spans.StagePool, 0, 10*waves, spans.String(spans.KeyPoolName, "embed"),
		spans.Int(spans.KeyPoolWorkers, 2), spans.Int(spans.KeyPoolJobs, jobs))
	for j := range jobs {
		wave := float64(j / 2)
		b.span(p, "job", spans.StagePool, 10*wave, 10*wave+10, spans.Int(spans.KeyPoolJob, j),
			spans.Int64(spans.KeyPoolQueueNanos, int64(msDur(10*wave))), spans.Int64(spans.KeyPoolRunNanos, int64(msDur(10))))
	}
	b.span(q, "retry llm", spans.StageRetry, 10*waves, e2e, spans.String(spans.KeyRetryOp, "llm"),
		spans.Int(spans.KeyRetryAttempts, attempts), spans.Bool(spans.KeyRetryGaveUp, gaveUp),
		spans.Int64(spans.KeyRetryBackoffNanos, int64(msDur(5*float64(attempts-1)))))
	return b.trace()
}

// Pool and retry figures are weighted like the rest: a sample that holds
// every slow trace (where the pool queues and calls retry) but a tenth of
// the fast ones reproduces the window's waits, shares, batch model and
// give-up curve; read unweighted it would overstate all of them.
func TestWeightedSampleReproducesPoolsAndRetries(t *testing.T) {
	var window, sample []Trace
	for i := range 900 { // fast: 2 jobs, no wait, one attempt
		tr := poolRetryTrace(30, 2, 1, false)
		window = append(window, tr)
		if i%10 == 0 {
			sample = append(sample, tr)
		}
	}
	for i := range 100 { // slow: 8 jobs queue on 2 workers, 3 attempts, 5 give up
		tr := poolRetryTrace(300, 8, 3, i < 5)
		window, sample = append(window, tr), append(sample, tr)
	}
	full := Analyze(window)
	got := Analyze(sample, WithSample(msDur(100), 0.1))
	naive := Analyze(sample)
	if len(full.Pools) != 1 || len(got.Pools) != 1 || len(full.Retries) != 1 || len(got.Retries) != 1 {
		t.Fatalf("pools %d/%d, retries %d/%d", len(full.Pools), len(got.Pools), len(full.Retries), len(got.Retries))
	}
	fp, gp := full.Pools[0], got.Pools[0]
	if gp.Runs != 190 || gp.Jobs != 90*2+100*8 || fp.Runs != 1000 {
		t.Errorf("counts: sample %d runs %d jobs, window %d runs", gp.Runs, gp.Jobs, fp.Runs)
	}
	// The window: 1,800 jobs without wait, 800 waiting 0, 10, 20, 30 ms.
	if fp.QueueWait.P95 != msDur(30) || fp.QueueWait.P50 != 0 || fp.QueueShare != round4(200.0*60/(200*60+2600*10)) || fp.BatchTime != msDur(13) {
		t.Fatalf("window pool = %+v", fp)
	}
	samePct := func(what string, a, b Percentiles) {
		t.Helper()
		a.Count, b.Count = 0, 0
		if a != b {
			t.Errorf("%s: weighted sample %+v, window %+v", what, a, b)
		}
	}
	samePct("queue wait", gp.QueueWait, fp.QueueWait)
	samePct("run time", gp.RunTime, fp.RunTime)
	if gp.QueueShare != fp.QueueShare || gp.Utilisation != fp.Utilisation || gp.Busy != fp.Busy || gp.InSystem != fp.InSystem ||
		gp.IdleWaitShare != fp.IdleWaitShare || gp.BatchTime != fp.BatchTime || gp.Saturated != fp.Saturated {
		t.Errorf("pool: weighted sample %+v\nwindow %+v", gp, fp)
	}
	if len(gp.Model) != len(fp.Model) {
		t.Fatalf("model %+v vs %+v", gp.Model, fp.Model)
	}
	for i := range gp.Model {
		if gp.Model[i] != fp.Model[i] {
			t.Errorf("model %+v, window %+v", gp.Model[i], fp.Model[i])
		}
	}
	if gp.RecommendedWorkers != fp.RecommendedWorkers || gp.Recommendation != fp.Recommendation {
		t.Errorf("advice: weighted sample %d %q, window %d %q", gp.RecommendedWorkers, gp.Recommendation, fp.RecommendedWorkers, fp.Recommendation)
	}
	if np := naive.Pools[0]; np.QueueShare <= fp.QueueShare || np.QueueWait.Mean <= fp.QueueWait.Mean {
		t.Errorf("unweighted sample should overstate the wait: share %v mean %v, window %v %v", np.QueueShare, np.QueueWait.Mean, fp.QueueShare, fp.QueueWait.Mean)
	}

	fr, gr := full.Retries[0], got.Retries[0]
	// 5 of 1,000 requests give up; capped at 2, the 95 that needed 3 too.
	if fr.GiveUpRate != 0.005 || fr.Caps[1].GiveUpRate != 0.1 || fr.AttemptsPerCall != 1.2 {
		t.Fatalf("window retries = %+v", fr)
	}
	if gr.Calls != 190 || gr.GaveUp != 5 || gr.Attempts != 90+300 {
		t.Errorf("sample counts = %+v", gr)
	}
	if gr.GiveUpRate != fr.GiveUpRate || gr.AttemptsPerCall != fr.AttemptsPerCall || gr.FailedAttemptShare != fr.FailedAttemptShare ||
		gr.LostPerCall != fr.LostPerCall || gr.RecommendedCap != fr.RecommendedCap || gr.Recommendation != fr.Recommendation {
		t.Errorf("retries: weighted sample %+v\nwindow %+v", gr, fr)
	}
	for i := range gr.Caps {
		if gr.Caps[i] != fr.Caps[i] {
			t.Errorf("cap %+v, window %+v", gr.Caps[i], fr.Caps[i])
		}
	}
	if nr := naive.Retries[0]; nr.GiveUpRate <= fr.GiveUpRate {
		t.Errorf("unweighted give-up rate %v should overstate the window's %v", nr.GiveUpRate, fr.GiveUpRate)
	}
}

// A window read whole compared with a sample of the same window: weighted
// back to its window, the sample shows no change; analysed naively, the
// sample (every slow trace, a tenth of the rest) read as a regression of
// every figure.
func TestCompareWeighsEachSideBackToItsWindow(t *testing.T) {
	window, sample := sampledWindow()
	naive := Compare(window, sample)
	if naive.E2E.CandidateP50 != msDur(100) || !naive.E2E.Regressed {
		t.Fatalf("naive comparison: candidate p50 %v, regressed %v; the unweighted sample should read slower", naive.E2E.CandidateP50, naive.E2E.Regressed)
	}
	got := Compare(window, sample, WithComparedSamples(0, 1, msDur(100), 0.1))
	if len(got.Regressions) != 0 || len(got.Findings) != 0 {
		t.Fatalf("regressions %v, findings %+v: the two sides are the same window", got.Regressions, got.Findings)
	}
	check := func(d StageDelta) {
		t.Helper()
		if d.BaselineP50 != d.CandidateP50 || d.BaselineP95 != d.CandidateP95 || d.Regressed || d.Improved || d.Significant {
			t.Errorf("%s: p50 %v vs %v, p95 %v vs %v, test %+v", d.Stage, d.BaselineP50, d.CandidateP50, d.BaselineP95, d.CandidateP95, d.Test)
		}
		if diff := d.CandidateMean - d.BaselineMean; diff < -time.Microsecond || diff > time.Microsecond {
			t.Errorf("%s: mean %v vs %v", d.Stage, d.BaselineMean, d.CandidateMean)
		}
	}
	check(got.E2E)
	for _, d := range got.Stages {
		check(d)
	}
	// The sides' reports are weighted too: the candidate's e2e is the
	// window's.
	if got.Candidate.E2E.P50 != msDur(24) || got.Candidate.E2E.P95 != msDur(100) || !got.Candidate.Weighting.Weighted || got.Baseline.Weighting.Weighted {
		t.Fatalf("reports: candidate e2e %+v weighted %v, baseline weighted %v", got.Candidate.E2E, got.Candidate.Weighting.Weighted, got.Baseline.Weighting.Weighted)
	}
	// Swapped, and with a real regression in the sampled side (rerank 3×
	// slower in the fast traces), the weighted test still finds it.
	_, slower := sampledWindow()
	for i := range 90 { // the fast traces of the sample, 10 of each latency
		slower[i] = stepTrace(10, 6, float64(8+i/10))
	}
	got = Compare(window, slower, WithComparedSamples(0, 1, msDur(100), 0.1))
	if !slices.Contains(got.Regressions, spans.StageRerank) {
		t.Fatalf("rerank 2 → 6 ms in 90%% of the window not found: %+v", got.Stages)
	}
}

// Without weights the weighted test is the plain one (no ties: the same U
// and, but for the continuity correction, the same z).
func TestWeightedMannWhitneyWithUnitWeights(t *testing.T) {
	x := []float64{1, 4, 6, 9, 12, 15, 17, 20, 22, 30}
	y := []float64{2, 3, 5, 7, 8, 10, 11, 13}
	plain := MannWhitneyU(x, y)
	w := weightedMannWhitneyU(x, nil, y, nil)
	if plain.U != w.U || math.Abs(plain.Z-w.Z) > 0.05 || math.Abs(plain.P-w.P) > 0.02 {
		t.Fatalf("plain %+v, weighted with unit weights %+v", plain, w)
	}
	// Doubling every weight changes nothing (effective sizes are scale-free).
	two := func(n int) []float64 {
		ws := make([]float64, n)
		for i := range ws {
			ws[i] = 2
		}
		return ws
	}
	if d := weightedMannWhitneyU(x, two(len(x)), y, two(len(y))); d != w {
		t.Fatalf("scaled weights %+v, unit %+v", d, w)
	}
}
