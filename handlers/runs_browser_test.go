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

// Runs recorded with a sweep id (one `stagescope bench`) are grouped by it:
// two sweeps over the same questions and seed stay apart, each with its own
// front and a heading naming its id, while runs without an id are still
// grouped by their settings.
func TestRunsGroupedBySweepIDInBrowser(t *testing.T) {
	bin := chromium(t)
	s := serveIngested(t, func(context.Context, *collector.Collector) {})
	ctx := context.Background()
	start := time.Now().Add(-time.Hour)
	sweepA, sweepB := collector.NewID(), collector.NewID()
	for i, r := range []struct {
		sweep    string
		name     string
		p95, mrr float64
	}{
		{"", "older, no sweep id", 100, 0.5},
		{sweepA, "k3-n1", 120, 0.70},
		{sweepA, "k6-n3", 150, 0.75},
		{sweepB, "k3-n1", 60, 0.72},
		{sweepB, "k6-n3", 90, 0.74},
		{sweepB, nameHostile, 200, 0.60},
	} {
		conf, _ := json.Marshal(map[string]any{"top_k": 3 + i, "questions": 25, "seed": 3})
		run, err := s.store.CreateRun(ctx, collector.Run{Name: r.name, Config: conf, Sweep: r.sweep, Started: start.Add(time.Duration(i) * time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		if run.Sweep != r.sweep {
			t.Fatalf("stored sweep %q, want %q", run.Sweep, r.sweep)
		}
		sum, _ := json.Marshal(map[string]any{"p50_ms": r.p95 / 2, "p95_ms": r.p95, "p99_ms": r.p95, "mrr": r.mrr, "hit_rate": r.mrr, "traces": 25})
		if err := s.store.FinishRun(ctx, run.ID, sum); err != nil {
			t.Fatal(err)
		}
	}
	var list struct {
		Runs []collector.Run `json:"runs"`
	}
	s.getJSON("/api/runs", 200, &list)
	if len(list.Runs) != 6 || list.Runs[0].Sweep != sweepB || list.Runs[5].Sweep != "" {
		t.Fatalf("runs %+v", list.Runs)
	}
	b := startBrowser(t, bin, s)
	b.open("runs", "runs")
	if got := b.evalStrings(`[...document.querySelectorAll('.sweep')].map(e => e.dataset.sweep)`); fmt.Sprint(got) != fmt.Sprint([]string{sweepB, sweepA, "25 questions · seed 3"}) {
		t.Fatalf("sweeps %q", got)
	}
	heading := b.text(fmt.Sprintf(`.sweep[data-sweep=%q] h2`, sweepA))
	if !strings.HasPrefix(heading, "Sweep "+sweepA[:12]+"…: 25 questions · seed 3, started ") {
		t.Errorf("heading %q", heading)
	}
	rows := func(sweep string) []string {
		return b.evalStrings(fmt.Sprintf(`[...document.querySelectorAll('.sweep[data-sweep=%q] .runs-table tbody tr')].map(r => r.querySelector('.run-name').textContent + (r.querySelector('.badge.pareto') ? ' *' : ''))`, sweep))
	}
	// B's slow hostile run is off its front; A's two runs are both on it
	// (one faster, one better), though B's k3-n1 beats both.
	if got := rows(sweepB); fmt.Sprint(got) != fmt.Sprint([]string{nameHostile, "k6-n3 *", "k3-n1 *"}) {
		t.Errorf("sweep B %q", got)
	}
	if got := rows(sweepA); fmt.Sprint(got) != fmt.Sprint([]string{"k6-n3 *", "k3-n1 *"}) {
		t.Errorf("sweep A %q", got)
	}
	if n := b.count("#view img"); n != 0 {
		t.Errorf("%d img elements made from run names", n)
	}
	b.checkClean("runs by sweep id")
}
