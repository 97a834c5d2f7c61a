package analysis

import (
	"cmp"
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
	slices.SortFunc(all, func(a, b obs) int { return cmp.Compare(a.v, b.v) })
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

// weightedMannWhitneyU is MannWhitneyU for weighted samples (weights nil:
// every value weighs 1): each value of x and y stands for w values of its
// population, as a sample drawn by the collector's policy does. U is the
// weighted probability that a value of x exceeds one of y (ties count
// half), scaled to the two samples' sizes; its variance under the null is
// the unweighted test's with each side's effective size (Kish:
// (Σw)²/Σw²), so a sample of a few hundred heavy traces is not taken for
// thousands of independent ones. Without ties or weights it agrees with
// MannWhitneyU up to the tie and continuity corrections.
func weightedMannWhitneyU(x, wx, y, wy []float64) MannWhitney {
	n1, n2 := len(x), len(y)
	if n1 == 0 || n2 == 0 {
		return MannWhitney{P: 1}
	}
	wt := func(w []float64, i int) float64 {
		if w == nil {
			return 1
		}
		return w[i]
	}
	type obs struct {
		v, w  float64
		first bool
	}
	all := make([]obs, 0, n1+n2)
	var sx, sx2, sy, sy2 float64
	for i, v := range x {
		w := wt(wx, i)
		all = append(all, obs{v, w, true})
		sx, sx2 = sx+w, sx2+w*w
	}
	for i, v := range y {
		w := wt(wy, i)
		all = append(all, obs{v, w, false})
		sy, sy2 = sy+w, sy2+w*w
	}
	if sx <= 0 || sy <= 0 {
		return MannWhitney{P: 1}
	}
	slices.SortFunc(all, func(a, b obs) int { return cmp.Compare(a.v, b.v) })
	// theta = Σ wx·wy·[x > y] + ½ Σ wx·wy·[x = y], over Σwx·Σwy.
	var below, theta float64 // below: weight of y values below the current run
	for i := 0; i < len(all); {
		j := i
		var rx, ry float64
		for j < len(all) && all[j].v == all[i].v {
			if all[j].first {
				rx += all[j].w
			} else {
				ry += all[j].w
			}
			j++
		}
		theta += rx * (below + ry/2)
		below += ry
		i = j
	}
	theta /= sx * sy
	e1, e2 := sx*sx/sx2, sy*sy/sy2
	sd := math.Sqrt((e1 + e2 + 1) / (12 * e1 * e2))
	if sd == 0 || math.IsNaN(sd) {
		return MannWhitney{U: theta * float64(n1) * float64(n2), P: 1}
	}
	z := (theta - 0.5) / sd
	return MannWhitney{U: theta * float64(n1) * float64(n2), Z: z, P: math.Min(1, math.Erfc(math.Abs(z)/math.Sqrt2))}
}
