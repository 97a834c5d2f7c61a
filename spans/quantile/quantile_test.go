package quantile

import (
	"math/rand/v2"
	"testing"
)

func TestRankIsNearestRank(t *testing.T) {
	cases := []struct {
		n    int
		q    float64
		want int
	}{
		{0, 0.95, 0}, {1, 0.95, 1}, {2, 0.95, 2}, {19, 0.95, 19}, {20, 0.95, 19}, {21, 0.95, 20},
		{100, 0.95, 95}, {101, 0.95, 96}, {20, 0.5, 10}, {21, 0.5, 11}, {100, 0.99, 99}, {10, 1, 10}, {10, 0.001, 1},
		{3000, 0.95, 2850}, {60, 0.05, 3},
	}
	for _, c := range cases {
		if got := Rank(c.n, c.q); got != c.want {
			t.Errorf("Rank(%d, %v) = %d, want %d", c.n, c.q, got, c.want)
		}
	}
}

func TestIndexWithUnitWeightsIsRank(t *testing.T) {
	for n := 1; n <= 400; n++ {
		w := make([]float64, n)
		for i := range w {
			w[i] = 1
		}
		for _, q := range []float64{0.05, 0.5, 0.9, 0.95, 0.99, 0.999} {
			if got, want := Index(w, q), Rank(n, q)-1; got != want {
				t.Fatalf("n=%d q=%v: Index %d, Rank−1 %d", n, q, got, want)
			}
		}
	}
	if Index(nil, 0.5) != -1 {
		t.Error("Index of no values is not -1")
	}
}

// A weight of w stands for w copies: the weighted index lands on the same
// value as the nearest rank over the expanded values.
func TestIndexWeightsAreCopies(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		n := 1 + rng.IntN(50)
		w := make([]float64, n)
		var expanded []int // value index per copy
		for i := range w {
			c := 1 + rng.IntN(12)
			w[i] = float64(c)
			for range c {
				expanded = append(expanded, i)
			}
		}
		for _, q := range []float64{0.5, 0.95, 0.99} {
			if got, want := Index(w, q), expanded[Rank(len(expanded), q)-1]; got != want {
				t.Fatalf("weights %v q=%v: Index %d, expanded nearest rank at value %d", w, q, got, want)
			}
		}
	}
}

func TestOfReadsTheRank(t *testing.T) {
	d := make([]int, 20)
	for i := range d {
		d[i] = i + 1
	}
	// ⌈0.95·20⌉ = 19 despite 0.95·20 = 19.000000000000004, ⌈0.5·20⌉ = 10,
	// ⌈0.99·20⌉ = 20.
	if Of(d, 0.95) != 19 || Of(d, 0.5) != 10 || Of(d, 0.99) != 20 || Of([]int{7}, 0.99) != 7 || Of([]int(nil), 0.5) != 0 {
		t.Errorf("p95 %d p50 %d p99 %d", Of(d, 0.95), Of(d, 0.5), Of(d, 0.99))
	}
}
