package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stagescope/stagescope/collector"
)

// Runs are grouped by sweep (same questions, seed and corpus), each sweep
// with its own Pareto front: a quick 20-question run does not push every
// full run off the front. Points are numbered and keyed to the runs, run ids
// tell apart runs of the same name, and the settings read as key=value.
func TestRunsBySweepInBrowser(t *testing.T) {
	bin := chromium(t)
	s := serveIngested(t, func(context.Context, *collector.Collector) {})
	ctx := context.Background()
	start := time.Now().Add(-time.Hour)
	for i, r := range []struct {
		name       string
		questions  int
		topK, topN int
		p95, mrr   float64
	}{
		{"top_k=5 top_n=3", 200, 5, 3, 120, 0.70},
		{nameHostile, 200, 10, 5, 150, 0.75},
		{"top_k=5 top_n=3", 20, 5, 3, 50, 0.90},
		{"top_k=10 top_n=5", 20, 10, 5, 60, 0.80},
	} {
		conf, _ := json.Marshal(map[string]any{"top_k": r.topK, "top_n": r.topN, "mode": "compact", "workers": 4, "questions": r.questions, "seed": 7})
		run, err := s.store.CreateRun(ctx, collector.Run{Name: r.name, Config: conf, Started: start.Add(time.Duration(i) * time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		sum, _ := json.Marshal(map[string]any{"p50_ms": r.p95 / 2, "p95_ms": r.p95, "p99_ms": r.p95 * 1.2, "mrr": r.mrr, "hit_rate": r.mrr, "traces": r.questions})
		if err := s.store.FinishRun(ctx, run.ID, sum); err != nil {
			t.Fatal(err)
		}
	}
	b := startBrowser(t, bin, s)
	b.open("runs", "runs")
	if got := b.evalStrings(`[...document.querySelectorAll('.sweep')].map(e => e.dataset.sweep)`); fmt.Sprint(got) != fmt.Sprint([]string{"20 questions · seed 7", "200 questions · seed 7"}) {
		t.Fatalf("sweeps %q", got)
	}
	b.waitFor("a chart per sweep", `document.querySelectorAll('.sweep .uplot').length === 2`)
	front := func(sweep string) []string {
		return b.evalStrings(fmt.Sprintf(`[...document.querySelectorAll('.sweep[data-sweep=%q] .runs-table tbody tr')].filter(r => r.querySelector('.badge.pareto')).map(r => r.querySelector('.run-name').textContent)`, sweep))
	}
	if got := front("20 questions · seed 7"); fmt.Sprint(got) != fmt.Sprint([]string{"top_k=5 top_n=3"}) {
		t.Errorf("front of the quick sweep %q", got)
	}
	// Both full runs stay on their sweep's front (one faster, one better).
	if got := front("200 questions · seed 7"); len(got) != 2 || !contains(got, nameHostile) {
		t.Errorf("front of the full sweep %q", got)
	}
	// Numbered points, the same numbers in the table.
	if got := b.evalStrings(`[...document.querySelectorAll('.sweep .point-no')].filter(td => td.tagName === 'TD').map(td => td.textContent)`); fmt.Sprint(got) != "[1 2 1 2]" {
		t.Errorf("point numbers %q", got)
	}
	// Two runs named alike are told apart by their ids.
	ids := b.evalStrings(`[...document.querySelectorAll('.run-id')].map(e => e.textContent)`)
	if len(ids) != 4 || ids[0] == ids[2] {
		t.Errorf("run ids %q", ids)
	}
	cfg := b.text(".sweep .runs-table tbody tr td.config")
	if !strings.Contains(cfg, "top_k=10") || !strings.Contains(cfg, "top_n=5") || !strings.Contains(cfg, "mode=compact") || strings.ContainsAny(cfg, "{}\"") || strings.Contains(cfg, "questions") {
		t.Errorf("settings read %q, want key=value without JSON or the sweep fields", cfg)
	}
	if n := b.count("#view img"); n != 0 {
		t.Errorf("%d img elements made from run names", n)
	}
	b.shot("runs-by-sweep")
	b.checkClean("runs")
}
