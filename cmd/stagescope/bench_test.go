package main

import (
	"context"
	"encoding/json"
	"os"
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
	RunID   string  `json:"run_id"`
	HitRate float64 `json:"hit_rate"`
	MRR     float64 `json:"mrr"`
	P95Ms   float64 `json:"p95_ms"`
	OnFront bool    `json:"on_pareto_front"`
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
		if a.HitRate <= 0 || a.MRR <= 0 || a.RunID == "" || a.RunID == b.RunID || a.P95Ms <= 0 {
			t.Fatalf("result %+v (second run id %s)", a, b.RunID)
		}
		if a.OnFront {
			front++
		}
	}
	if front == 0 {
		t.Fatal("no configuration on the Pareto front")
	}

	st, err := collector.OpenSQLite(filepath.Join(data, databaseFile), collector.WithReadOnly())
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
	// Each invocation's runs share one sweep id, and the two differ
	// although their configurations are the same.
	sweepOf := map[string]string{}
	for _, r := range runs {
		sweepOf[r.ID] = r.Sweep
	}
	for i, sw := range sweeps {
		for _, res := range sw {
			if got := sweepOf[res.RunID]; got == "" || got != sweepOf[sw[0].RunID] {
				t.Fatalf("invocation %d: run %s in sweep %q, its first run in %q", i, res.RunID, got, sweepOf[sw[0].RunID])
			}
		}
	}
	if sweepOf[sweeps[0][0].RunID] == sweepOf[sweeps[1][0].RunID] {
		t.Fatalf("two invocations share sweep %s", sweepOf[sweeps[0][0].RunID])
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

	// One JSON style: snake_case keys and milliseconds, no Go-cased or
	// nanosecond fields.
	r := mustRun(t, nil, args...)
	for _, bad := range []string{`"RunID"`, `"P95"`, `"Elapsed"`, `"OnFront"`} {
		if strings.Contains(r.stdout, bad) {
			t.Errorf("bench --json has %s:\n%.400s", bad, r.stdout)
		}
	}
	// Not a terminal: a progress line per configuration on stderr.
	if got := strings.Count(r.stderr, "configurations done"); got != 8 || !strings.Contains(r.stderr, "8 of 8 configurations done (200 of 200 queries") {
		t.Errorf("%d progress lines on stderr:\n%s", got, r.stderr)
	}

	table := mustRun(t, nil, "bench", "--data", data, "--quiet", "--packages", "strings", "--questions", "10", "--top-k", "4", "--top-n", "2", "--workers", "2")
	if !strings.Contains(table.stdout, "MRR") || !strings.Contains(table.stdout, "Pareto front") || !strings.Contains(table.stdout, "compact") {
		t.Fatalf("table output:\n%s", table.stdout)
	}
	if table.stderr != "" {
		t.Errorf("--quiet printed %q", table.stderr)
	}
	// The table names each configuration's run, as stored.
	runs, err = st.Runs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 25 || !strings.Contains(table.stdout, runs[0].ID) {
		t.Errorf("%d runs; the table does not name the newest (%s):\n%s", len(runs), runs[0].ID, table.stdout)
	}
	if !strings.Contains(table.stdout, "as sweep "+runs[0].Sweep+";") || runs[0].Sweep == "" {
		t.Errorf("the table does not name the sweep %q:\n%s", runs[0].Sweep, table.stdout)
	}
}

// A data directory that cannot be written fails before the indexing.
func TestBenchFailsFastOnAnUnwritableDataDirectory(t *testing.T) {
	parent := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(parent, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCmd(t, nil, "bench", "--data", filepath.Join(parent, "data"), "--packages", "strings", "--questions", "5")
	if r.code != 1 || !strings.Contains(r.stderr, "cannot create data directory") || strings.Contains(r.stderr, "indexing") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}
