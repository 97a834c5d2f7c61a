package analysis

import (
	"cmp"
	"math"
	"slices"
	"time"

	quantiles "github.com/stagescope/stagescope/spans/quantile"
)

// Percentiles summarises a distribution of durations. Every duration is
// given in nanoseconds (the *_ns fields, as time.Duration) and in
// milliseconds (the *_ms fields, rounded to the microsecond).
type Percentiles struct {
	Count  int           `json:"count"`
	Mean   time.Duration `json:"mean_ns"`
	P50    time.Duration `json:"p50_ns"`
	P95    time.Duration `json:"p95_ns"`
	P99    time.Duration `json:"p99_ns"`
	Max    time.Duration `json:"max_ns"`
	MeanMs float64       `json:"mean_ms"`
	P50Ms  float64       `json:"p50_ms"`
	P95Ms  float64       `json:"p95_ms"`
	P99Ms  float64       `json:"p99_ms"`
	MaxMs  float64       `json:"max_ms"`
}

// ms converts nanoseconds to milliseconds rounded to the microsecond, so
// reports are stable and short in JSON.
func ms[T ~int64](ns T) float64 { return math.Round(float64(ns)/1e3) / 1e3 }

// quantile returns the nearest-rank q-quantile of sorted values (0 for
// none): package quantile's one definition.
func quantile(sorted []int64, q float64) int64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[quantiles.Rank(len(sorted), q)-1]
}

// summarize sorts values in place and returns their percentiles.
func summarize(values []int64) Percentiles {
	if len(values) == 0 {
		return Percentiles{}
	}
	slices.Sort(values)
	var sum float64
	for _, v := range values {
		sum += float64(v)
	}
	p := Percentiles{
		Count: len(values),
		Mean:  time.Duration(sum / float64(len(values))),
		P50:   time.Duration(quantile(values, 0.50)),
		P95:   time.Duration(quantile(values, 0.95)),
		P99:   time.Duration(quantile(values, 0.99)),
		Max:   time.Duration(values[len(values)-1]),
	}
	p.MeanMs, p.P50Ms, p.P95Ms, p.P99Ms, p.MaxMs = ms(p.Mean), ms(p.P50), ms(p.P95), ms(p.P99), ms(p.Max)
	return p
}

// wquantile is the q-quantile of sorted values whose weights (in the same
// order) are w: the weighted nearest rank of package quantile; plain
// nearest rank when w is nil.
func wquantile(sorted []int64, w []float64, q float64) int64 {
	if w == nil {
		return quantile(sorted, q)
	}
	if len(sorted) == 0 {
		return 0
	}
	return sorted[quantiles.Index(w, q)]
}

// sortWeighted sorts values ascending in place, carrying their weights
// along; weights may be nil.
func sortWeighted(values []int64, weights []float64) {
	if weights == nil {
		slices.Sort(values)
		return
	}
	type vw struct {
		v int64
		w float64
	}
	pairs := make([]vw, len(values))
	for i := range values {
		pairs[i] = vw{values[i], weights[i]}
	}
	slices.SortFunc(pairs, func(x, y vw) int { return cmp.Compare(x.v, y.v) })
	for i, p := range pairs {
		values[i], weights[i] = p.v, p.w
	}
}

// summarizeWeighted is summarize with a weight per value (nil: every
// weight 1). Count stays the number of values; the mean and the
// percentiles are weighted. Both slices are sorted in place.
func summarizeWeighted(values []int64, weights []float64) Percentiles {
	if weights == nil {
		return summarize(values)
	}
	if len(values) == 0 {
		return Percentiles{}
	}
	sortWeighted(values, weights)
	return summarizeSorted(values, weights)
}

// summarizeSorted summarises values sorted ascending, weighted by w (nil:
// unweighted).
func summarizeSorted(sorted []int64, w []float64) Percentiles {
	if w == nil {
		return summarize(sorted)
	}
	if len(sorted) == 0 {
		return Percentiles{}
	}
	var sum, total float64
	for i, v := range sorted {
		sum += w[i] * float64(v)
		total += w[i]
	}
	p := Percentiles{
		Count: len(sorted),
		Mean:  time.Duration(ratio(sum, total)),
		P50:   time.Duration(wquantile(sorted, w, 0.50)),
		P95:   time.Duration(wquantile(sorted, w, 0.95)),
		P99:   time.Duration(wquantile(sorted, w, 0.99)),
		Max:   time.Duration(sorted[len(sorted)-1]),
	}
	p.MeanMs, p.P50Ms, p.P95Ms, p.P99Ms, p.MaxMs = ms(p.Mean), ms(p.P50), ms(p.P95), ms(p.P99), ms(p.Max)
	return p
}

// ratio is a/b, or 0 when b is 0, so no NaN reaches JSON.
func ratio(a, b float64) float64 {
	if b == 0 || math.IsNaN(a) || math.IsNaN(b) {
		return 0
	}
	r := a / b
	if math.IsInf(r, 0) || math.IsNaN(r) {
		return 0
	}
	return r
}

// round4 keeps four decimals of a share or ratio.
func round4(f float64) float64 { return math.Round(f*1e4) / 1e4 }
