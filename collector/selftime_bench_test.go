package collector

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// BenchmarkSelfTime is the writer's per-span self time: a parent with six
// children, two of them overlapping, given in arrival (end) order.
func BenchmarkSelfTime(b *testing.B) {
	src := []interval{{40, 60}, {10, 30}, {0, 12}, {70, 95}, {60, 72}, {96, 99}}
	kids := make([]interval, len(src))
	b.ReportAllocs()
	for b.Loop() {
		copy(kids, src)
		if selfTime(0, 100, kids) != 12 {
			b.Fatal("wrong self time")
		}
	}
}

// BenchmarkWrittenIndexRemember is the writer's per-span cost with
// WithLateChildren: remember a committed span with three children.
func BenchmarkWrittenIndexRemember(b *testing.B) {
	wi := newWrittenIndex(DefaultWrittenIndexLimit)
	kids := []interval{{0, 10}, {20, 30}, {40, 50}}
	keys := make([]spanKey, 1<<16) // random IDs, as SDKs make them
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range keys {
		binary.LittleEndian.PutUint64(keys[i].trace[:8], rng.Uint64())
		binary.LittleEndian.PutUint64(keys[i].span[:], rng.Uint64())
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		wi.remember(keys[i&(len(keys)-1)], rollupKey{minute: 1}, 0, 100, 70, kids)
		i++
	}
}
