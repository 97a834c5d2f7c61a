package prom

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/stagescope/stagescope/collector"
)

// Timeseries returns end-to-end figures per step over [from, to], from the
// root spans' series: point i covers (from+i·step, from+(i+1)·step], its
// Traces and Errors are the root spans (all, and those whose status is an
// error) counted in it, exactly, Throughput is Traces per second of step
// and the percentiles are histogram estimates of the root spans' duration.
// Drops stay zero: spanmetrics does not see what a collector refused. The
// last step may end after to; empty steps are included.
//
// The counters are read at the step boundaries (a range query), so a
// collector restart loses what its counters gained since the last boundary
// before it; StageBreakdown, which reads the window's two ends, has the same
// limit for a restart inside the window.
func (r *Reader) Timeseries(ctx context.Context, from, to time.Time, step time.Duration) ([]collector.Point, error) {
	if from.IsZero() || to.IsZero() || to.Before(from) {
		return nil, fmt.Errorf("time series needs from ≤ to, both set")
	}
	if step < time.Second {
		return nil, fmt.Errorf("time series step %v: want at least 1s (Prometheus' timestamps are milliseconds, its scrapes seconds apart)", step)
	}
	n := int((to.Sub(from) + step - 1) / step)
	n = max(n, 1)
	if n > MaxPoints {
		return nil, fmt.Errorf("time series of %d steps is too long (at most %d); use a larger step", n, MaxPoints)
	}
	_, fam, err := r.families(ctx, true)
	if err != nil {
		return nil, err
	}
	end := from.Add(time.Duration(n) * step)
	queries := [2]string{
		fmt.Sprintf("sum by (%s, %s) (%s)", rootBy, labelStatus, fam.calls),
		fmt.Sprintf("sum by (job, instance, %s) (%s)", labelLe, fam.bucket),
	}
	var res [2][]series
	var errs [2]error
	var wg sync.WaitGroup
	for i, q := range queries {
		wg.Go(func() { res[i], errs[i] = r.rangeQuery(ctx, q, from, end, step) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	pts := make([]collector.Point, n)
	hists := make([]buckets, n)
	for i := range pts {
		pts[i].Start = from.Add(time.Duration(i) * step).UTC()
		hists[i] = buckets{}
	}
	for _, s := range res[0] {
		isErr := failed(s.labels)
		stepIncreases(s, from, step, n, func(i int, d float64) {
			c := int64(d + 0.5)
			pts[i].Traces += c
			if isErr {
				pts[i].Errors += c
			}
		})
	}
	for _, s := range res[1] {
		le := s.labels[labelLe]
		var bad error
		stepIncreases(s, from, step, n, func(i int, d float64) {
			if err := hists[i].add(le, d); err != nil {
				bad = err
			}
		})
		if bad != nil {
			return nil, fmt.Errorf("%w: bucket bound %q: %v", ErrUnavailable, le, bad)
		}
	}
	secs := step.Seconds()
	for i := range pts {
		pts[i].Throughput = float64(pts[i].Traces) / secs
		pts[i].P50 = quantileDuration(hists[i], 0.50, fam.seconds)
		pts[i].P95 = quantileDuration(hists[i], 0.95, fam.seconds)
		pts[i].P99 = quantileDuration(hists[i], 0.99, fam.seconds)
	}
	return pts, nil
}

// stepIncreases walks a counter's values at from+k·step (k = 0…n) and
// calls add(i, increase) for each step i whose increase is positive. A
// series that appears inside the range counts from zero; a value lower than
// the last one seen is a reset (a restarted collector) and counts from zero
// too; a boundary without a sample (no scrape within Prometheus' lookback)
// leaves the increase to the next boundary that has one.
func stepIncreases(s series, from time.Time, step time.Duration, n int, add func(i int, d float64)) {
	vals := make([]float64, n+1)
	has := make([]bool, n+1)
	for j, t := range s.times {
		k := int((t.Sub(from) + step/2) / step)
		if k >= 0 && k <= n {
			vals[k], has[k] = s.values[j], true
		}
	}
	last, seen := 0.0, false
	for k := range n + 1 {
		if !has[k] {
			continue
		}
		if k > 0 {
			prev := last
			if !seen || vals[k] < prev {
				prev = 0
			}
			if d := vals[k] - prev; d > 0 {
				add(k-1, d)
			}
		}
		last, seen = vals[k], true
	}
}
