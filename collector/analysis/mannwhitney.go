package analysis

import (
	"math"
	"slices"
)

// MannWhitney is the result of a two-sided Mann–Whitney U test.
type MannWhitney struct {
	U float64 `json:"u"` // U of the first sample
	Z float64 `json:"z"` // normal approximation, with tie and continuity correction
	P float64 `json:"p"` // two-sided p-value
}

// MannWhitneyU tests whether values in x tend to differ from values in y,
// using the normal approximation with tie correction (fine from about 8
// values per side). An empty sample or all-equal values give P = 1.
func MannWhitneyU(x, y []float64) MannWhitney {
	n1, n2 := len(x), len(y)
	if n1 == 0 || n2 == 0 {
		return MannWhitney{P: 1}
	}
	type obs struct {
		v     float64
		first bool
	}
	all := make([]obs, 0, n1+n2)
	for _, v := range x {
		all = append(all, obs{v, true})
	}
	for _, v := range y {
		all = append(all, obs{v, false})
	}
	slices.SortFunc(all, func(a, b obs) int {
		switch {
		case a.v < b.v:
			return -1
		case a.v > b.v:
			return 1
		}
		return 0
	})
	n := float64(n1 + n2)
	var r1, tieSum float64
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		rank := float64(i+j+1) / 2 // mean of ranks i+1 … j
		for k := i; k < j; k++ {
			if all[k].first {
				r1 += rank
			}
		}
		if t := float64(j - i); t > 1 {
			tieSum += t*t*t - t
		}
		i = j
	}
	f1, f2 := float64(n1), float64(n2)
	u := r1 - f1*(f1+1)/2
	mu := f1 * f2 / 2
	variance := f1 * f2 / 12 * ((n + 1) - tieSum/(n*(n-1)))
	if variance <= 0 {
		return MannWhitney{U: u, P: 1}
	}
	d := u - mu
	switch {
	case d > 0.5:
		d -= 0.5
	case d < -0.5:
		d += 0.5
	default:
		d = 0
	}
	z := d / math.Sqrt(variance)
	return MannWhitney{U: u, Z: z, P: math.Min(1, math.Erfc(math.Abs(z)/math.Sqrt2))}
}
