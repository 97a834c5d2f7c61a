package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stagescope/stagescope/collector"
)

type benchResult struct {
	Config struct {
		TopK    int    `json:"top_k"`
		TopN    int    `json:"top_n"`
		Mode    string `json:"mode"`
		Workers int    `json:"workers"`
	}
	RunID   string
	HitRate float64
	MRR     float64
	OnFront bool
}

func TestBenchIsReproducibleAndStoresRuns(t *testing.T) {
	data := t.TempDir()
	args := []string{"bench", "--data", data, "--packages", "strings,bytes,sort", "--questions", "25", "--seed", "3",
		"--top-k", "3,6", "--top-n", "1,3", "--workers", "1,2", "--json"}
	var sweeps [2][]benchResult
	for i := range sweeps {
		r := mustRun(t, nil, args...)
		if err := json.Unmarshal([]byte(r.stdout), &sweeps[i]); err != nil {
			t.Fatalf("bench --json: %v in %s", err, r.stdout)
		}
	}
	if len(sweeps[0]) != 8 || len(sweeps[1]) != 8 {
		t.Fatalf("%d and %d results, want 8", len(sweeps[0]), len(sweeps[1]))
	}
	front := 0
	for i, a := range sweeps[0] {
		b := sweeps[1][i]
		if a.Config != b.Config || a.HitRate != b.HitRate || a.MRR != b.MRR {
			t.Fatalf("sweep differs at %d: %+v vs %+v", i, a, b)
		}
		if a.HitRate <= 0 || a.MRR <= 0 || a.RunID == "" || a.RunID == b.RunID {
			t.Fatalf("result %+v (second run id %s)", a, b.RunID)
		}
		if a.OnFront {
			front++
		}
	}
	if front == 0 {
		t.Fatal("no configuration on the Pareto front")
	}

	st, err := collector.OpenSQLite(filepath.Join(data, databaseFile))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runs, err := st.Runs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 16 {
		t.Fatalf("%d runs stored, want 16", len(runs))
	}
	want := sweeps[0][0]
	run, err := st.Run(context.Background(), want.RunID)
	if err != nil {
		t.Fatal(err)
	}
	var sum map[string]float64
	if err := json.Unmarshal(run.Summary, &sum); err != nil {
		t.Fatal(err)
	}
	if sum["hit_rate"] != want.HitRate || sum["mrr"] != want.MRR || sum["traces"] != 25 || sum["p95_ms"] <= 0 || run.Name != "k3-n1-compact-w1" {
		t.Fatalf("stored run %s: %s", run.Name, run.Summary)
	}
	// The run's spans are stored and tagged: 25 query traces at workers 1.
	page, err := st.ListTraces(context.Background(), collector.TraceQuery{RunID: want.RunID, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Traces) != 25 {
		t.Fatalf("%d traces stored for run %s, want one per question (25)", len(page.Traces), want.RunID)
	}
	spansOf := 0
	for _, tr := range page.Traces {
		spansOf += tr.SpanCount
	}
	if spansOf < 25*5 {
		t.Fatalf("run %s has %d spans in %d traces", want.RunID, spansOf, len(page.Traces))
	}

	table := mustRun(t, nil, "bench", "--no-store", "--packages", "strings", "--questions", "10", "--top-k", "4", "--top-n", "2", "--workers", "2")
	if !strings.Contains(table.stdout, "MRR") || !strings.Contains(table.stdout, "Pareto front") || !strings.Contains(table.stdout, "compact") {
		t.Fatalf("table output:\n%s", table.stdout)
	}
}
