package prom

import (
	"math"
	"sort"
	"strconv"
)

// buckets accumulates a cumulative histogram: the count of observations at
// or below each upper bound (le), summed over series that share bounds.
type buckets map[float64]float64

// add adds count to the bucket whose le label is le.
func (b buckets) add(le string, count float64) error {
	ub, err := strconv.ParseFloat(le, 64)
	if err != nil {
		return err
	}
	b[ub] += count
	return nil
}

// quantile estimates the q-quantile the way Prometheus' histogram_quantile
// does, so a figure here is the figure a PromQL dashboard shows for the same
// buckets: the rank q·count falls in the first bucket whose cumulative
// count reaches it, and the value is interpolated linearly inside that
// bucket (from 0 for the first one); a rank in the +Inf bucket gives the
// highest finite bound. It returns NaN for an empty histogram or one without
// a +Inf bucket.
func (b buckets) quantile(q float64) float64 {
	type bucket struct{ upper, count float64 }
	bs := make([]bucket, 0, len(b))
	for ub, c := range b {
		bs = append(bs, bucket{ub, c})
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].upper < bs[j].upper })
	if len(bs) < 2 || !math.IsInf(bs[len(bs)-1].upper, 1) {
		return math.NaN()
	}
	// Cumulative counts summed from series scraped at slightly different
	// moments can dip; Prometheus evens them out the same way.
	for i := 1; i < len(bs); i++ {
		if bs[i].count < bs[i-1].count {
			bs[i].count = bs[i-1].count
		}
	}
	total := bs[len(bs)-1].count
	if total <= 0 {
		return math.NaN()
	}
	rank := q * total
	i := sort.Search(len(bs)-1, func(i int) bool { return bs[i].count >= rank })
	if i == len(bs)-1 {
		return bs[len(bs)-2].upper
	}
	if i == 0 && bs[0].upper <= 0 {
		return bs[0].upper
	}
	start, end, count := 0.0, bs[i].upper, bs[i].count
	if i > 0 {
		start = bs[i-1].upper
		count -= bs[i-1].count
		rank -= bs[i-1].count
	}
	return start + (end-start)*(rank/count)
}
