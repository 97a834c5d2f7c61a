package bench

// Point is a configuration's place in the latency–quality plane: lower
// Latency and higher Quality are better.
type Point struct {
	Latency float64
	Quality float64
}

// dominates reports whether a is at least as good as b on both axes and
// better on one.
func (a Point) dominates(b Point) bool {
	return a.Latency <= b.Latency && a.Quality >= b.Quality &&
		(a.Latency < b.Latency || a.Quality > b.Quality)
}

// ParetoFront reports, for each point, whether it is on the Pareto front:
// no other point is at least as fast and at least as good with one of the
// two strictly. Identical points do not dominate each other, so duplicates
// of a front point are all on the front. A single point is its own front.
// The cost is quadratic, which is nothing for the few hundred points of a
// sweep.
func ParetoFront(points []Point) []bool {
	front := make([]bool, len(points))
	for i, p := range points {
		front[i] = true
		for j, q := range points {
			if i != j && q.dominates(p) {
				front[i] = false
				break
			}
		}
	}
	return front
}
