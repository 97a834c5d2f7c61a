package bench

import (
	"slices"
	"testing"
)

func TestParetoFront(t *testing.T) {
	cases := []struct {
		name   string
		points []Point
		want   []bool
	}{
		{"empty", nil, []bool{}},
		{"single point", []Point{{10, 0.5}}, []bool{true}},
		{"dominated on both axes", []Point{{10, 0.9}, {20, 0.5}}, []bool{true, false}},
		{"trade-off keeps both", []Point{{10, 0.5}, {20, 0.9}}, []bool{true, true}},
		{"same latency, lower quality loses", []Point{{10, 0.5}, {10, 0.7}}, []bool{false, true}},
		{"same quality, slower loses", []Point{{12, 0.7}, {10, 0.7}}, []bool{false, true}},
		{"identical points both stay", []Point{{10, 0.7}, {10, 0.7}, {15, 0.6}}, []bool{true, true, false}},
		{"staircase", []Point{{5, 0.2}, {7, 0.1}, {8, 0.6}, {9, 0.55}, {30, 0.9}, {31, 0.9}, {40, 0.95}},
			[]bool{true, false, true, false, true, false, true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := ParetoFront(c.points)
			if !slices.Equal(got, c.want) {
				t.Fatalf("ParetoFront(%v) = %v, want %v", c.points, got, c.want)
			}
		})
	}
}

// TestParetoFrontInvariants checks on a larger set that no front point is
// dominated and every point off the front is.
func TestParetoFrontInvariants(t *testing.T) {
	var pts []Point
	for i := range 60 {
		pts = append(pts, Point{Latency: float64((i * 37) % 23), Quality: float64((i*53)%17) / 17})
	}
	front := ParetoFront(pts)
	n := 0
	for i, p := range pts {
		dominated := false
		for j, q := range pts {
			if i != j && q.Latency <= p.Latency && q.Quality >= p.Quality && (q.Latency < p.Latency || q.Quality > p.Quality) {
				dominated = true
			}
		}
		if front[i] == dominated {
			t.Fatalf("point %v: on front %v, dominated %v", p, front[i], dominated)
		}
		if front[i] {
			n++
		}
	}
	if n == 0 || n == len(pts) {
		t.Fatalf("front has %d of %d points; the set was built to have a proper front", n, len(pts))
	}
}

func TestMarkFrontUsesP95AndMRR(t *testing.T) {
	rs := []Result{
		{P95: 10e6, MRR: 0.4},
		{P95: 20e6, MRR: 0.3}, // slower and worse than the first
		{P95: 30e6, MRR: 0.8},
	}
	MarkFront(rs)
	if !rs[0].OnFront || rs[1].OnFront || !rs[2].OnFront {
		t.Fatalf("front flags %v %v %v", rs[0].OnFront, rs[1].OnFront, rs[2].OnFront)
	}
}
