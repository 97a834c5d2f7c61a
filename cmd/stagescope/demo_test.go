package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stagescope/stagescope/collector"
)

// The demo stores its run with latency and quality figures, so it shows on
// the Runs page's latency-versus-quality chart next to bench runs.
func TestDemoRunSummaryHasLatencyAndQuality(t *testing.T) {
	data := t.TempDir()
	runID := runDemoCmd(t, nil, demoArgs(data, "6"))
	st, err := collector.OpenSQLite(filepath.Join(data, databaseFile))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	run, err := st.Run(context.Background(), runID)
	if err != nil {
		t.Fatal(err)
	}
	var sum map[string]float64
	if err := json.Unmarshal(run.Summary, &sum); err != nil {
		t.Fatalf("summary %s: %v", run.Summary, err)
	}
	if sum["traces"] != 6 || sum["errors"] != 0 || sum["p50_ms"] <= 0 || sum["p95_ms"] < sum["p50_ms"] ||
		sum["hit_rate"] <= 0 || sum["hit_rate"] > 1 || sum["mrr"] <= 0 || sum["mrr"] > sum["hit_rate"] {
		t.Fatalf("demo run summary %s", run.Summary)
	}
}
