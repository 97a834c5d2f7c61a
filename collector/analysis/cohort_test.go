package analysis

import (
	"math/rand/v2"
	"testing"
	"time"
)

// The slow cohort starts at the report's p95: one quantile definition for
// the header and the findings' "≥ p95".
func TestSlowCohortThresholdIsTheReportedP95(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{1, 2, 3, 7, 19, 20, 21, 39, 40, 99, 100, 101, 333, 1000} {
		for _, ties := range []bool{false, true} {
			var traces []Trace
			for i := range n {
				llm := float64(i + 1)
				if ties {
					llm = float64(1 + i/4) // groups of four equal latencies
				}
				traces = append(traces, simpleTrace(1, llm))
			}
			rng.Shuffle(len(traces), func(i, j int) { traces[i], traces[j] = traces[j], traces[i] })
			for _, q := range []float64{0.95, 0.9, 0.99, 0.5} {
				r := Analyze(traces, WithSlowQuantile(q))
				var p time.Duration
				switch q {
				case 0.95:
					p = r.E2E.P95
				case 0.99:
					p = r.E2E.P99
				case 0.5:
					p = r.E2E.P50
				default:
					p = r.Tail.Threshold // no header figure for 0.9; checked by count below
				}
				// With one trace, or a quantile below the second rank, the
				// cohort is clamped to leave a rest.
				clamped := n >= 2 && q*float64(n) <= 1
				if !clamped && r.Tail.Threshold != p {
					t.Errorf("n=%d ties=%v q=%v: cohort threshold %v, header quantile %v", n, ties, q, r.Tail.Threshold, p)
				}
				// The cohort is the traces from nearest rank ⌈q·n⌉ up.
				rank := int(q*float64(n) + 0.999999) // ⌈q·n⌉ for these n and q
				if float64(int(q*float64(n))) == q*float64(n) {
					rank = int(q * float64(n))
				}
				want := n - max(rank, 1) + 1
				if n >= 2 {
					want = min(want, n-1)
				}
				if r.Tail.SlowTraces != want {
					t.Errorf("n=%d ties=%v q=%v: %d slow traces, want %d", n, ties, q, r.Tail.SlowTraces, want)
				}
			}
		}
	}
}
