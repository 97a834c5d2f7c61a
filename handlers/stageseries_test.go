package handlers_test

import (
	"fmt"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/stagescope/stagescope/handlers"
)

// Each step of the time series carries each stage's p95: the step holding
// the two slow reranks (800 ms) shows them, the others the usual 20 ms.
func TestTimeseriesHasPerStageP95(t *testing.T) {
	s := newSeeded(t)
	var ts handlers.Series
	from, to := s.base.UnixMilli(), s.base.Add(20*time.Minute-time.Millisecond).UnixMilli()
	s.getJSON(fmt.Sprintf("/api/timeseries?from=%d&to=%d&step=5m", from, to), http.StatusOK, &ts)
	if len(ts.Points) != 4 {
		t.Fatalf("%d points, want 4", len(ts.Points))
	}
	near := func(got, want float64) bool { return math.Abs(got-want) <= 0.025*want }
	// Minutes 0–9 normal, 10–12 failing, 13–14 slow, 15 acme, 16 hostile.
	for i, want := range []float64{20, 20, slowRerankMs, 20} {
		r := ts.Points[i].Stages["rerank"]
		if !near(r.P95Ms, want) || !near(r.SelfP95Ms, want) {
			t.Errorf("step %d: rerank p95 %v ms, self p95 %v ms; want %v (±2.5 %%)", i, r.P95Ms, r.SelfP95Ms, want)
		}
	}
	if q := ts.Points[0].Stages["query"]; !near(q.P95Ms, 100) || q.SelfP95Ms > 0.01 {
		t.Errorf("query p95 %v ms (want 100), self p95 %v ms (want about 0)", q.P95Ms, q.SelfP95Ms)
	}
}
