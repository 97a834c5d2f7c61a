package bench_test

import (
	"fmt"

	"github.com/stagescope/stagescope/engine/bench"
)

func ExampleParetoFront() {
	points := []bench.Point{
		{Latency: 12, Quality: 0.61}, // fast, decent
		{Latency: 15, Quality: 0.58}, // slower and worse than the first
		{Latency: 40, Quality: 0.74}, // slow, best
	}
	fmt.Println(bench.ParetoFront(points))
	// Output: [true false true]
}
