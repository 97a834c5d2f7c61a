package handlers_test

import (
	"strconv"
	"strings"
	"testing"
)

// cardMs reads a latency card ("491 ms", "1.22 s", "850 µs") in ms.
func cardMs(t *testing.T, s string) float64 {
	t.Helper()
	f := strings.Fields(s)
	if len(f) != 2 {
		t.Fatalf("card %q", s)
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		t.Fatalf("card %q: %v", s, err)
	}
	switch f[1] {
	case "s":
		v *= 1000
	case "µs":
		v /= 1000
	case "min":
		v *= 60000
	}
	return v
}

// The Bottlenecks page says the method the code used and shows the same
// p50/p95 as the Overview for the same window.
func TestBottlenecksSampleInBrowser(t *testing.T) {
	bin := chromium(t)
	s := newSyntheticServer(t, 3000)
	b := startBrowser(t, bin, s)
	for _, rng := range []string{"1h", "24h"} {
		b.open("traces", "traces")
		b.pick("#range", rng) // kept for the pages opened next
		b.open("overview", "overview")
		ov50, ov95 := b.text(`.stat[data-stat="p50"] .stat-value`), b.text(`.stat[data-stat="p95"] .stat-value`)
		b.open("bottlenecks", "bottlenecks")
		bn50, bn95 := b.text(`#report-latency .stat[data-stat="p50"] .stat-value`), b.text(`#report-latency .stat[data-stat="p95"] .stat-value`)
		// The same rollups; the Overview also counts the minute under way.
		if !within(cardMs(t, bn50), cardMs(t, ov50)) || !within(cardMs(t, bn95), cardMs(t, ov95)) {
			t.Errorf("%s: overview p50 %s p95 %s, bottlenecks p50 %s p95 %s", rng, ov50, ov95, bn50, bn95)
		}
		smp := b.text("#report-sample")
		switch rng {
		case "1h": // about 125 traces, under the default budget of 2000
			if !strings.HasPrefix(smp, "Sample: every trace of the window (") {
				t.Errorf("%s: sample line %q", rng, smp)
			}
		case "24h":
			if !strings.HasPrefix(smp, "Sample: the 2000 traces of the window with the smallest trace-id hash, plus every trace of the window lasting at least the p95 of the rollups") {
				t.Errorf("%s: sample line %q", rng, smp)
			}
		}
		if strings.Contains(b.viewText(), "random selection") {
			t.Errorf("%s: the page still claims a random selection", rng)
		}
		b.checkClean("bottlenecks-" + rng)
	}
	b.shot("bottlenecks-sample")
}
