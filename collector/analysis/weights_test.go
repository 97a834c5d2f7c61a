package analysis

import (
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
