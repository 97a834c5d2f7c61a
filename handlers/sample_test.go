package handlers_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/handlers"
)

// newSyntheticServer serves a store of n synthetic traces spread over the
// day before now.
func newSyntheticServer(t *testing.T, n int) *seeded {
	t.Helper()
	store, err := collector.OpenSQLite(filepath.Join(t.TempDir(), "synthetic.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := collector.GenerateSynthetic(context.Background(), store, n, 3); err != nil {
		t.Fatal(err)
	}
	s := &seeded{t: t, store: store, client: &http.Client{Timeout: time.Minute}}
	s.srv = handlers.New(store, nil)
	s.ts = httptest.NewServer(s.srv.Handler())
	t.Cleanup(func() { s.ts.Close(); store.Close() })
	return s
}

// within reports whether got is within the rollup histogram's relative
// error (±2.2%, and the millisecond rounding of the JSON) of want.
func within(got, want float64) bool {
	return math.Abs(got-want) <= 0.022*want+0.002
}

// The Overview (rollups) and the Bottlenecks page (the report's sample)
// agree on p50 and p95 for the same window: exactly when the page shows the
// window's rollups, within the histogram's error when every trace was
// analysed and the report's own nearest-rank percentiles are compared.
func TestOverviewAndBottlenecksAgree(t *testing.T) {
	s := newSyntheticServer(t, 3000)
	// Whole minutes that have ended: both pages read the same minutes.
	to := time.Now().Truncate(time.Minute).Add(-time.Millisecond)
	from := to.Add(-25 * time.Hour)
	w := fmt.Sprintf("from=%d&to=%d", from.UnixMilli(), to.UnixMilli())

	var ov handlers.StageBreakdown
	s.getJSON("/api/stages?"+w, http.StatusOK, &ov)
	// The newest trace may start in the minute under way, left out.
	if ov.E2E == nil || ov.E2E.Traces < 2990 {
		t.Fatalf("overview e2e %+v", ov.E2E)
	}
	n := int(ov.E2E.Traces)

	var all handlers.ReportResponse
	s.getJSON("/api/report?sample=5000&"+w, http.StatusOK, &all)
	if all.Sampled || all.TracesAnalysed != n || all.Report.Traces != n {
		t.Fatalf("every trace: sampled %v, analysed %d", all.Sampled, all.TracesAnalysed)
	}
	e := all.Report.E2E
	if !within(e.P50Ms, ov.E2E.P50Ms) || !within(e.P95Ms, ov.E2E.P95Ms) {
		t.Errorf("report over every trace p50 %.3f p95 %.3f ms; overview p50 %.3f p95 %.3f ms", e.P50Ms, e.P95Ms, ov.E2E.P50Ms, ov.E2E.P95Ms)
	}
	if all.Window == nil || all.Window.P50Ms != ov.E2E.P50Ms || all.Window.P95Ms != ov.E2E.P95Ms || int(all.Window.Traces) != n {
		t.Errorf("report window %+v, overview %+v", all.Window, ov.E2E)
	}

	var smp handlers.ReportResponse
	s.getJSON("/api/report?sample=200&"+w, http.StatusOK, &smp)
	if !smp.Sampled || smp.Window == nil || smp.Window.Source != "rollups" {
		t.Fatalf("sample %+v", smp.Sample)
	}
	if smp.Window.P50Ms != ov.E2E.P50Ms || smp.Window.P95Ms != ov.E2E.P95Ms || smp.SlowThreshold != smp.Window.P95 {
		t.Errorf("sampled report window p50 %.3f p95 %.3f (slow from %v); overview p50 %.3f p95 %.3f",
			smp.Window.P50Ms, smp.Window.P95Ms, smp.SlowThreshold, ov.E2E.P50Ms, ov.E2E.P95Ms)
	}
	// Reloading gives the same sample: same method, same exemplars.
	var again handlers.ReportResponse
	s.getJSON("/api/report?sample=200&"+w, http.StatusOK, &again)
	if again.Method != smp.Method || fmt.Sprint(again.Report.Tail.Exemplars) != fmt.Sprint(smp.Report.Tail.Exemplars) || again.Report.E2E != smp.Report.E2E {
		t.Errorf("reload differs: %q / %q", again.Method, smp.Method)
	}
}
