package main

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/collector/jaeger"
	"github.com/stagescope/stagescope/collector/jaeger/jaegertest"
	"github.com/stagescope/stagescope/spans"
)

var demoRunLine = regexp.MustCompile(`demo run ([0-9a-f]+) answered (\d+) questions \((\d+) failed\)`)

// demoArgs is a small, fast demo: a few packages, a quick model, a fixed
// number of queries, then exit.
func demoArgs(data string, queries string, extra ...string) []string {
	return append([]string{"demo", "--addr", "127.0.0.1:0", "--data", data, "--queries", queries, "--workers", "3",
		"--interval", "1ms", "--packages", "strings,bytes,sort", "--llm-latency", "2ms", "--token-latency", "0",
		"--plant", "rerank=latency:lognormal:3ms"}, extra...)
}

// runDemoCmd runs demo to completion and returns its run id.
func runDemoCmd(t *testing.T, env []string, args []string) string {
	t.Helper()
	r := mustRun(t, env, args...)
	m := demoRunLine.FindStringSubmatch(r.stdout)
	if m == nil || m[3] != "0" {
		t.Fatalf("demo output lacks a clean run line:\n%s\n%s", r.stdout, r.stderr)
	}
	return m[1]
}

// storedRun reads a run's traces from the database.
func storedRun(t *testing.T, data, runID string) []*collector.Trace {
	t.Helper()
	st, err := collector.OpenSQLite(filepath.Join(data, databaseFile))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ts, err := st.LoadTraces(context.Background(), collector.TraceQuery{RunID: runID, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// links maps span id → parent id of a trace.
func links(ss []*spans.Span) map[spans.SpanID]spans.SpanID {
	m := make(map[spans.SpanID]spans.SpanID, len(ss))
	for _, s := range ss {
		m[s.SpanID] = s.ParentID
	}
	return m
}

// checkInJaeger waits for every stored trace to be in Jaeger with the same
// span ids and parent links, and for service to be listed.
func checkInJaeger(t *testing.T, qc *jaeger.QueryClient, stored []*collector.Trace, service string) {
	t.Helper()
	ctx := context.Background()
	for _, st := range stored {
		want := st.Spans
		var got jaeger.Trace
		var err error
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			got, err = qc.GetTrace(ctx, st.Summary.TraceID)
			if err == nil && len(got.Spans) >= len(want) {
				break
			}
		}
		if len(got.Spans) != len(want) {
			t.Fatalf("trace %s: %d spans in Jaeger, %d stored (last error %v)", st.Summary.TraceID, len(got.Spans), len(want), err)
		}
		if got.ID() != st.Summary.TraceID {
			t.Fatalf("Jaeger returned trace %s for %s", got.ID(), st.Summary.TraceID)
		}
		wl, gl := links(want), links(got.Spans)
		for id, parent := range wl {
			gp, ok := gl[id]
			if !ok || gp != parent {
				t.Fatalf("trace %s span %s: parent %s in Jaeger (present %v), %s stored", st.Summary.TraceID, id, gp, ok, parent)
			}
		}
	}
	svcs, err := qc.Services(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(svcs, service) {
		t.Fatalf("Jaeger services %v lack %q", svcs, service)
	}
}

type reportJSON struct {
	Traces int `json:"traces"`
	Spans  int `json:"spans"`
	Stages []struct {
		Stage  string `json:"stage"`
		Count  int    `json:"count"`
		Traces int    `json:"traces"`
		Total  struct {
			P50Ms  float64 `json:"p50_ms"`
			MeanMs float64 `json:"mean_ms"`
		} `json:"total"`
		SelfSumMs float64 `json:"self_sum_ms"`
	} `json:"stages"`
}

func TestJaegerEndToEnd(t *testing.T) {
	j := needJaeger(t)
	qc, err := jaeger.NewQueryClient(j.QueryURL)
	if err != nil {
		t.Fatal(err)
	}
	defer qc.Close()
	data := t.TempDir()

	// 1. Live export: every in-process span of the demo also goes to
	// Jaeger as it ends.
	svcLive, svcOTLP, svcThrift := jaegertest.UniqueService("e2e-live"), jaegertest.UniqueService("e2e-otlp"), jaegertest.UniqueService("e2e-thrift")
	liveRun := runDemoCmd(t, nil, demoArgs(data, "9", "--export-jaeger", j.OTLPURL, "--service", svcLive))
	live := storedRun(t, data, liveRun)
	if len(live) != 9 {
		t.Fatalf("live run stored %d traces, want 9", len(live))
	}
	checkInJaeger(t, qc, live, svcLive)

	// 2. Replay of a stored window over OTLP.
	from := time.Now()
	windowRun := runDemoCmd(t, []string{"OTEL_SERVICE_NAME=e2e-window-source"}, demoArgs(data, "6"))
	to := time.Now()
	window := storedRun(t, data, windowRun)
	if len(window) != 6 {
		t.Fatalf("window run stored %d traces, want 6", len(window))
	}
	out := mustRun(t, []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + j.OTLPURL}, "export", "jaeger", "--data", data,
		"--from", from.UTC().Format(time.RFC3339Nano), "--to", to.UTC().Format(time.RFC3339Nano), "--default-service", svcOTLP)
	if !strings.Contains(out.stdout, "exported 6 traces") {
		t.Fatalf("export output: %s %s", out.stdout, out.stderr)
	}
	checkInJaeger(t, qc, window, svcOTLP)

	// 3. Replay of a run through an old collector's Thrift endpoint.
	thriftRun := runDemoCmd(t, nil, demoArgs(data, "5"))
	thrift := storedRun(t, data, thriftRun)
	out = mustRun(t, nil, "export", "jaeger", "--data", data, "--run", thriftRun, "--protocol", "thrift",
		"--endpoint", j.ThriftURL, "--default-service", svcThrift)
	if !strings.Contains(out.stdout, "exported 5 traces") {
		t.Fatalf("thrift export output: %s %s", out.stdout, out.stderr)
	}
	checkInJaeger(t, qc, thrift, svcThrift)

	// Bad selections fail clearly.
	if r := runCmd(t, nil, "export", "jaeger", "--data", data, "--trace", "zz", "--endpoint", j.OTLPURL); r.code != 2 {
		t.Fatalf("bad trace id: exit %d", r.code)
	}
	if r := runCmd(t, nil, "export", "jaeger", "--data", data, "--run", "no-such-run", "--endpoint", j.OTLPURL); r.code != 1 ||
		!strings.Contains(r.stderr, "no stored traces") {
		t.Fatalf("empty selection: exit %d, %s", r.code, r.stderr)
	}

	// 4. The report over Jaeger's copy of the live run equals the local
	// report of that run: same stages, span counts, and durations within
	// Jaeger's microsecond rounding.
	local := mustRun(t, nil, "report", "--data", data, "--run", liveRun, "--json")
	remote := mustRun(t, nil, "report", "--jaeger", j.QueryURL, "--service", svcLive, "--json")
	var lr, rr reportJSON
	if err := json.Unmarshal([]byte(local.stdout), &lr); err != nil {
		t.Fatalf("local report: %v", err)
	}
	if err := json.Unmarshal([]byte(remote.stdout), &rr); err != nil {
		t.Fatalf("Jaeger report: %v", err)
	}
	if lr.Traces != 9 || rr.Traces != lr.Traces || rr.Spans != lr.Spans || len(lr.Stages) < 5 || len(rr.Stages) != len(lr.Stages) {
		t.Fatalf("local report %d traces %d spans %d stages; Jaeger %d traces %d spans %d stages",
			lr.Traces, lr.Spans, len(lr.Stages), rr.Traces, rr.Spans, len(rr.Stages))
	}
	for i, ls := range lr.Stages {
		rs := rr.Stages[i]
		if ls.Stage != rs.Stage || ls.Count != rs.Count || ls.Traces != rs.Traces {
			t.Fatalf("stage %d: local %+v, Jaeger %+v", i, ls, rs)
		}
		// Microsecond truncation of start and end: at most 2 µs per span.
		if d := math.Abs(ls.Total.MeanMs - rs.Total.MeanMs); d > 0.002 {
			t.Fatalf("stage %s mean: local %.4f ms, Jaeger %.4f ms", ls.Stage, ls.Total.MeanMs, rs.Total.MeanMs)
		}
		if d := math.Abs(ls.SelfSumMs - rs.SelfSumMs); d > 0.002*float64(ls.Count)*2 {
			t.Fatalf("stage %s self time: local %.4f ms, Jaeger %.4f ms", ls.Stage, ls.SelfSumMs, rs.SelfSumMs)
		}
	}
	text := mustRun(t, nil, "report", "--jaeger", j.QueryURL, "--service", svcLive)
	if !strings.Contains(text.stdout, "9 traces") || !strings.Contains(text.stdout, "Jaeger "+j.QueryURL) {
		t.Fatalf("text report from Jaeger:\n%s", text.stdout)
	}
}

func TestServeMirrorsOTLPIngestToJaeger(t *testing.T) {
	j := needJaeger(t)
	qc, err := jaeger.NewQueryClient(j.QueryURL)
	if err != nil {
		t.Fatal(err)
	}
	defer qc.Close()
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	data := t.TempDir()
	s := startServer(t, "serve", "--addr", "127.0.0.1:0", "--data", data, "--export-jaeger", j.OTLPURL, "--service", jaegertest.UniqueService("e2e-mirror"))
	id := spans.NewTraceID().String() // a fresh trace on every run
	resp, err := client.Post(s.url+"v1/traces", "application/json", strings.NewReader(otlpTrace(id, time.Now().Add(-time.Second))))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("ingest: %d", resp.StatusCode)
	}
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("serve exited %d: %s", code, s.stderr)
	}
	if !strings.Contains(s.stderr.String(), "live export: 3 spans exported, 0 failed, 0 dropped") {
		t.Fatalf("live export counters: %s", s.stderr)
	}
	tid, _ := spans.ParseTraceID(id)
	var got jaeger.Trace
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if got, err = qc.GetTrace(context.Background(), tid); err == nil && len(got.Spans) >= 3 {
			break
		}
	}
	if len(got.Spans) != 3 {
		t.Fatalf("mirrored trace has %d spans in Jaeger (%v)", len(got.Spans), err)
	}
	root, _ := spans.ParseSpanID("1000000000000001")
	for _, sp := range got.Spans {
		if sp.SpanID != root && sp.ParentID != root {
			t.Fatalf("span %s parent %s", sp.Name, sp.ParentID)
		}
	}
}
