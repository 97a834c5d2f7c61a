package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/collector/tracetree"
	"github.com/stagescope/stagescope/handlers"
)

// `stagescope report` and the dashboard's /api/report read the same sample
// of the same window, so their reports are the same, figure for figure.
func TestReportCLIAndAPIShareTheSample(t *testing.T) {
	data := t.TempDir()
	store, err := collector.OpenSQLite(filepath.Join(data, databaseFile))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, err := collector.GenerateSynthetic(context.Background(), store, 3000, 5); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(handlers.New(store, nil).Handler())
	defer ts.Close()

	to := time.Now().Truncate(time.Minute).Add(-time.Millisecond)
	from := to.Add(-25 * time.Hour)
	for _, budget := range []int{100, 5000} {
		cli := mustRun(t, nil, "report", "--data", data, "--from", from.Format(time.RFC3339Nano), "--to", to.Format(time.RFC3339Nano),
			"--limit", fmt.Sprint(budget), "--json")
		var c struct {
			Sample json.RawMessage `json:"sample"`
			Traces int             `json:"traces"`
		}
		if err := json.Unmarshal([]byte(cli.stdout), &c); err != nil {
			t.Fatal(err)
		}
		var cliReport map[string]json.RawMessage
		if err := json.Unmarshal([]byte(cli.stdout), &cliReport); err != nil {
			t.Fatal(err)
		}
		delete(cliReport, "sample")

		resp, err := http.Get(fmt.Sprintf("%s/api/report?from=%d&to=%d&sample=%d", ts.URL, from.UnixMilli(), to.UnixMilli(), budget))
		if err != nil {
			t.Fatal(err)
		}
		var api map[string]json.RawMessage
		err = json.NewDecoder(resp.Body).Decode(&api)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		var apiReport map[string]json.RawMessage
		if err := json.Unmarshal(api["report"], &apiReport); err != nil {
			t.Fatal(err)
		}
		delete(api, "report")
		apiSample, _ := json.Marshal(api)
		var cs, as collector.SampleInfo
		if err := json.Unmarshal(c.Sample, &cs); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(apiSample, &as); err != nil {
			t.Fatal(err)
		}
		if cj, aj := mustJSON(t, cs), mustJSON(t, as); cj != aj {
			t.Errorf("budget %d: samples differ\nCLI %s\nAPI %s", budget, cj, aj)
		}
		if cs.Sampled != (budget == 100) || cs.TracesAnalysed != c.Traces || c.Traces < 100 {
			t.Errorf("budget %d: sampled %v, %d analysed, report of %d", budget, cs.Sampled, cs.TracesAnalysed, c.Traces)
		}
		// Both weight the sample back to the window by the same rule.
		var w struct {
			Weighted bool    `json:"weighted"`
			HashRate float64 `json:"hash_rate"`
		}
		if err := json.Unmarshal(cliReport["weighting"], &w); err != nil {
			t.Fatal(err)
		}
		if w.Weighted != cs.Sampled || (cs.Sampled && w.HashRate != cs.HashRate) {
			t.Errorf("budget %d: weighting %+v, sample hash rate %v", budget, w, cs.HashRate)
		}
		// The reports hold the exemplar trace ids and every figure: equal
		// reports come from the same traces.
		if cj, aj := mustJSON(t, cliReport), mustJSON(t, apiReport); cj != aj {
			t.Errorf("budget %d: reports differ", budget)
		}
	}

	// The text header says what was read.
	text := mustRun(t, nil, "report", "--data", data, "--from", from.Format(time.RFC3339Nano), "--to", to.Format(time.RFC3339Nano), "--limit", "100")
	for _, want := range []string{"Sample: the 100 traces of the window with the smallest trace-id hash", "Window end-to-end latency (all ", "from the rollups): p50 "} {
		if !strings.Contains(text.stdout, want) {
			t.Errorf("text report lacks %q:\n%s", want, text.stdout)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A source that picks its own traces (Jaeger's query API, read through
// tracetree.Reader) is described as such: no hash, no slow traces added.
func TestReaderTracesSaysWhatTheSourceReturned(t *testing.T) {
	store, err := collector.OpenSQLite(filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, err := collector.GenerateSynthetic(context.Background(), store, 50, 2); err != nil {
		t.Fatal(err)
	}
	ts, info, err := readerTraces(context.Background(), store.Reader(), tracetree.Query{Limit: 20}, "Jaeger")
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 20 || info.TracesAnalysed != 20 || info.Sampled || info.SlowAdded != 0 ||
		info.Method != "the 20 newest traces Jaeger returned (at most 20 asked for; no hash sample, slow traces not added)" {
		t.Errorf("%d traces, info %+v", len(ts), info)
	}
}
