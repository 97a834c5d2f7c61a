package prom

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/spans"
)

// StageBreakdown returns per-stage statistics of the spans counted in
// (from, to] — a zero from counts from the series' start, a zero to is now —
// for one run (the stagescope.run_id dimension) or, with runID "", all.
// Count, Errors and Total are exact (see the package doc); P50, P95 and P99
// are histogram estimates; the Self fields stay zero, as spanmetrics has no
// self time. Stages without spans are left out; the order is the pipeline
// order of spans.AllStages, as the SQLite store's.
func (r *Reader) StageBreakdown(ctx context.Context, from, to time.Time, runID string) ([]collector.StageStats, error) {
	if to.IsZero() {
		to = time.Now()
	}
	if !from.IsZero() && to.Before(from) {
		return nil, fmt.Errorf("stage breakdown needs from ≤ to, got %v > %v", from, to)
	}
	fam, _, err := r.families(ctx, false)
	if err != nil {
		return nil, err
	}
	sel := ""
	if runID != "" {
		sel = "{" + labelRunID + "=" + strconv.Quote(runID) + "}"
	}
	queries := [3]string{
		fmt.Sprintf("sum by (%s, %s) (%s%s)", stageBy, labelStatus, fam.calls, sel),
		fmt.Sprintf("sum by (%s, %s) (%s%s)", stageBy, labelLe, fam.bucket, sel),
		fmt.Sprintf("sum by (%s) (%s%s)", stageBy, fam.sum, sel),
	}
	var deltas [3][]sample
	var errs [3]error
	var wg sync.WaitGroup
	for i, q := range queries {
		wg.Go(func() { deltas[i], errs[i] = r.increase(ctx, q, from, to) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	type acc struct {
		count, errors, total float64
		hist                 buckets
	}
	var byStage [256]*acc
	get := func(labels map[string]string) *acc {
		st := stageOf(labels)
		if byStage[st] == nil {
			byStage[st] = &acc{hist: buckets{}}
		}
		return byStage[st]
	}
	for _, s := range deltas[0] {
		a := get(s.labels)
		a.count += s.value
		if failed(s.labels) {
			a.errors += s.value
		}
	}
	for _, s := range deltas[1] {
		if err := get(s.labels).hist.add(s.labels[labelLe], s.value); err != nil {
			return nil, fmt.Errorf("%w: bucket bound %q: %v", ErrUnavailable, s.labels[labelLe], err)
		}
	}
	for _, s := range deltas[2] {
		get(s.labels).total += s.value
	}
	var out []collector.StageStats
	for _, st := range spans.AllStages() {
		a := byStage[st]
		if a == nil || a.count < 0.5 {
			continue
		}
		out = append(out, collector.StageStats{
			Stage: st, Count: int64(a.count + 0.5), Errors: int64(a.errors + 0.5),
			Total: durationOf(a.total, fam.seconds),
			P50:   quantileDuration(a.hist, 0.50, fam.seconds),
			P95:   quantileDuration(a.hist, 0.95, fam.seconds),
			P99:   quantileDuration(a.hist, 0.99, fam.seconds),
		})
	}
	return out, nil
}

// quantileDuration is buckets.quantile as a Duration; no estimate is 0.
func quantileDuration(h buckets, q, unitSeconds float64) time.Duration {
	v := h.quantile(q)
	if v != v { // NaN
		return 0
	}
	return durationOf(v, unitSeconds)
}

// increase evaluates query (a sum of counters) at to and at from and
// returns, per series, how much it grew in between: the value at to minus
// the value at from, where a series absent at from counts from zero and one
// that went down (a restarted collector) counts from its reset. With a zero
// from, the values at to.
func (r *Reader) increase(ctx context.Context, query string, from, to time.Time) ([]sample, error) {
	end, err := r.instant(ctx, query, to)
	if err != nil || from.IsZero() {
		return end, err
	}
	start, err := r.instant(ctx, query, from)
	if err != nil {
		return nil, err
	}
	before := make(map[string]float64, len(start))
	for _, s := range start {
		before[seriesKey(s.labels)] = s.value
	}
	for i := range end {
		if v, ok := before[seriesKey(end[i].labels)]; ok && v <= end[i].value {
			end[i].value -= v
		}
	}
	return end, nil
}
