package bench

import (
	"testing"
	"time"

	"github.com/stagescope/stagescope/engine/query"
	"github.com/stagescope/stagescope/engine/synth"
)

func TestGridConfigs(t *testing.T) {
	g := Grid{TopK: []int{3, 10}, TopN: []int{2, 5}, Modes: []synth.Mode{synth.Compact, synth.Refine}, Workers: []int{1, 4}}
	cs := g.Configs()
	// top_k 3 with top_n 5 is left out: (1 + 2) × 2 modes × 2 workers.
	if len(cs) != 12 {
		t.Fatalf("%d configs, want 12: %v", len(cs), cs)
	}
	if cs[0] != (Config{TopK: 3, TopN: 2, Mode: synth.Compact, Workers: 1}) || cs[0].Name() != "k3-n2-compact-w1" {
		t.Fatalf("first config %+v (%s)", cs[0], cs[0].Name())
	}
	if last := cs[len(cs)-1]; last != (Config{TopK: 10, TopN: 5, Mode: synth.Refine, Workers: 4}) {
		t.Fatalf("last config %+v", last)
	}
	for _, c := range cs {
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	def := Grid{}.Configs()
	if len(def) != 1 || def[0].TopK != query.DefaultTopK || def[0].TopN != query.DefaultTopN || def[0].Workers != query.DefaultWorkers {
		t.Fatalf("default grid %v", def)
	}
	if (Grid{TopK: []int{2}, TopN: []int{3}}).Configs() != nil {
		t.Fatal("a grid whose top_n all exceed top_k must be empty")
	}
}

func TestConfigValidate(t *testing.T) {
	bad := []Config{
		{TopK: 0, TopN: 1, Mode: synth.Compact, Workers: 1},
		{TopK: 3, TopN: 4, Mode: synth.Compact, Workers: 1},
		{TopK: 3, TopN: 1, Mode: "poetry", Workers: 1},
		{TopK: 3, TopN: 1, Mode: synth.Compact, Workers: 0},
	}
	for _, c := range bad {
		if c.Validate() == nil {
			t.Fatalf("%+v accepted", c)
		}
	}
}

func TestPercentileNearestRank(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	p50, p95, p99 := latencies(ds)
	if p50 != 50*time.Millisecond || p95 != 95*time.Millisecond || p99 != 99*time.Millisecond {
		t.Fatalf("p50 %v p95 %v p99 %v", p50, p95, p99)
	}
	// 0.95·20 is 19.000000000000004 in floating point: still rank 19.
	ds = ds[:0]
	for i := 1; i <= 20; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	if _, p95, _ := latencies(ds); p95 != 19*time.Millisecond {
		t.Fatalf("p95 of 1..20 ms = %v, want 19ms", p95)
	}
}
