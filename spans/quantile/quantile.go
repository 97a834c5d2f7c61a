// Package quantile is stagescope's one quantile definition, used by the
// rollups' histograms, the sampling policy and the bottleneck analysis, so
// the Overview, the report header and the report's slow cohort agree.
//
// The q-quantile of n values is the value at nearest rank ⌈q·n⌉ (1-based):
// the smallest value such that at least a fraction q of the values are at or
// below it. Float error in q·n is absorbed (0.95·20 is 19.000000000000004 in
// floating point, and must be rank 19, not 20). With weights (each value
// standing for w values of a population), it is the smallest value whose
// cumulative weight reaches q times the total weight; with unit weights the
// two agree exactly.
package quantile

import (
	"cmp"
	"math"
)

// eps absorbs float error in q·n and in summed weights.
const eps = 1e-9

// Rank returns the 1-based nearest rank of the q-quantile among n values:
// ⌈q·n⌉, clamped to [1, n]. It returns 0 when n is 0.
func Rank(n int, q float64) int {
	if n <= 0 {
		return 0
	}
	r := int(math.Ceil(q*float64(n) - eps))
	return min(max(r, 1), n)
}

// Of returns the q-quantile of sorted (ascending) values: the value at
// rank Rank(len(sorted), q); the zero value when there are none. The
// rollups, the sampling policy, the analysis, bench's results and attach's
// terminal breakdown all read percentiles through it or Rank.
func Of[T cmp.Ordered](sorted []T, q float64) T {
	if len(sorted) == 0 {
		var zero T
		return zero
	}
	return sorted[Rank(len(sorted), q)-1]
}

// Reached reports whether a cumulative weight cum has reached the
// q-quantile of a total weight total: the weighted counterpart of "rank
// ≥ ⌈q·n⌉". Walking sorted values and stopping at the first whose
// cumulative weight reaches it finds the weighted quantile.
func Reached(cum, total, q float64) bool {
	return cum >= q*total-eps*max(1, total/1e6)
}

// Index returns the 0-based index of the q-quantile in weights, the weights
// of values in ascending order: the first index whose cumulative weight
// reaches q of the total. It returns -1 for no values; with unit weights it
// is Rank(len(weights), q) − 1.
func Index(weights []float64, q float64) int {
	if len(weights) == 0 {
		return -1
	}
	var total float64
	for _, w := range weights {
		total += w
	}
	var cum float64
	for i, w := range weights {
		cum += w
		if Reached(cum, total, q) {
			return i
		}
	}
	return len(weights) - 1
}
