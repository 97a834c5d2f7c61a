package bench

import (
	"context"
	"testing"

	"github.com/stagescope/stagescope/engine/llm"
	"github.com/stagescope/stagescope/engine/synth"
)

func BenchmarkParetoFront200(b *testing.B) {
	pts := make([]Point, 200)
	for i := range pts {
		pts[i] = Point{Latency: float64((i * 37) % 101), Quality: float64((i*53)%89) / 89}
	}
	b.ReportAllocs()
	for b.Loop() {
		ParetoFront(pts)
	}
}

// BenchmarkSweepConfig measures one configuration over the small corpus's
// 40 questions: the cost of one run of a sweep.
func BenchmarkSweepConfig(b *testing.B) {
	p := smallPipeline(b)
	setup := SetupFromPipeline(p, llm.NewExtractive(), 7)
	grid := Grid{TopK: []int{8}, TopN: []int{3}, Modes: []synth.Mode{synth.Compact}, Workers: []int{2}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Sweep(context.Background(), setup, grid); err != nil {
			b.Fatal(err)
		}
	}
}
