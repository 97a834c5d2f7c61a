package deploy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/collector/jaeger"
	"github.com/stagescope/stagescope/collector/jaeger/jaegertest"
	"github.com/stagescope/stagescope/collector/prom"
	"github.com/stagescope/stagescope/collector/tracetree"
	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/spans"
	"github.com/stagescope/stagescope/spans/quantile"
	"github.com/stagescope/stagescope/tools/deploy"
	"github.com/stagescope/stagescope/tools/deploy/deploytest"
)

// waitLimit bounds every wait for data to travel (collector batching, the
// spanmetrics flush every 5 s, a scrape every second); the waits end as soon
// as the data is there.
const waitLimit = 2 * time.Minute

var (
	demoRunLine    = regexp.MustCompile(`demo run ([0-9a-f]+) answered (\d+) questions \((\d+) failed\)`)
	liveExportLine = regexp.MustCompile(`live export: (\d+) spans exported, 0 failed, 0 dropped`)
)

// TestReferenceDeployment runs the reference deployment as shipped — one
// storage process, two collectors, query, Prometheus — sends stagescope's
// demo pipeline to collector 1 and an OTel SDK client to collector 2, and
// checks that every trace is readable from the query service and that the
// Prometheus reader's stage figures agree with the local analysis of the
// same traces: counts and errors exactly, percentiles within their bucket.
// It ends with the front end of the deployment: `serve --source jaeger=…
// --prometheus …` checked, API and pages, against `serve --data` over the
// local analysis (checkServeOverJaeger).
func TestReferenceDeployment(t *testing.T) {
	chromium := chromiumFromEnv(t)
	d, err := deploytest.StartFromEnv(deploytest.Options{})
	d = deploytest.Need(t, d, err)
	t.Cleanup(d.Stop)
	defer func() {
		if t.Failed() {
			t.Logf("deployment logs:\n%s", d.Logs())
		}
	}()
	ctx := context.Background()
	stagescope := buildStagescope(t)
	begin := time.Now()

	// Collector 1: the demo pipeline, exported live over OTLP/HTTP.
	demoService := jaegertest.UniqueService("deploy-demo")
	data := t.TempDir()
	cmd := exec.Command(stagescope, "demo", "--addr", "127.0.0.1:0", "--data", data, "--queries", "40", "--workers", "3",
		"--interval", "1ms", "--packages", "strings,bytes,sort", "--llm-latency", "15ms", "--token-latency", "100us",
		"--plant", "rerank=latency:lognormal:8ms", "--export-jaeger", d.Collectors[0].OTLPHTTP, "--service", demoService)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	m := demoRunLine.FindSubmatch(out)
	if m == nil || string(m[3]) != "0" {
		t.Fatalf("demo output lacks a clean run line:\n%s", out)
	}
	runID := string(m[1])
	live := liveExportLine.FindSubmatch(out)
	if live == nil {
		t.Fatalf("the live export lost spans:\n%s", out)
	}

	// Collector 2: an OTel SDK client with OpenInference and GenAI attributes.
	sdkService := jaegertest.UniqueService("deploy-sdk")
	sdkBegin := time.Now()
	sdk, err := deploytest.SendSDKTraffic(ctx, d.Collectors[1].OTLPHTTP, sdkService, 140, 7)
	if err != nil {
		t.Fatal(err)
	}

	// What the demo stored locally, in its own SQLite (native, exact).
	demoStore, err := collector.OpenSQLite(filepath.Join(data, "stagescope.db"), collector.WithReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer demoStore.Close()
	demoTraces, err := demoStore.LoadTraces(ctx, collector.TraceQuery{RunID: runID, Limit: collector.MaxTraceLimit})
	if err != nil {
		t.Fatal(err)
	}
	demoSpans := 0
	for _, tr := range demoTraces {
		demoSpans += len(tr.Spans)
	}
	if len(demoTraces) != 40 || demoSpans < 40*5 {
		t.Fatalf("the demo stored %d traces with %d spans, want 40 traces of several spans", len(demoTraces), demoSpans)
	}
	if exported, _ := strconv.Atoi(string(live[1])); exported != demoSpans {
		t.Fatalf("the demo exported %d spans and stored %d", exported, demoSpans)
	}

	// Every trace of both collectors is readable from the one query service.
	qc, err := jaeger.NewQueryClient(d.QueryURL)
	if err != nil {
		t.Fatal(err)
	}
	defer qc.Close()
	fromJaeger := map[string][]tracetree.Trace{}
	for _, want := range []struct {
		service       string
		traces, spans int
	}{{demoService, len(demoTraces), demoSpans}, {sdkService, sdk.Traces, sdk.Spans}} {
		var got []tracetree.Trace
		var n int
		for deadline := time.Now().Add(waitLimit); ; time.Sleep(500 * time.Millisecond) {
			got, err = qc.FindTraces(ctx, jaeger.Query{Service: want.service, From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Minute), Limit: 1000})
			n = 0
			for _, tr := range got {
				n += len(tr.Spans)
			}
			if err == nil && len(got) == want.traces && n == want.spans || time.Now().After(deadline) {
				break
			}
		}
		if err != nil || len(got) != want.traces || n != want.spans {
			t.Fatalf("Jaeger query has %d traces, %d spans of %s (err %v), want %d, %d", len(got), n, want.service, err, want.traces, want.spans)
		}
		fromJaeger[want.service] = got
	}
	for _, tr := range demoTraces {
		got, err := qc.GetTrace(ctx, tr.Spans[0].TraceID)
		if err != nil || len(got.Spans) != len(tr.Spans) {
			t.Fatalf("trace %s from Jaeger: %d spans, err %v; stored %d", tr.Spans[0].TraceID, len(got.Spans), err, len(tr.Spans))
		}
	}

	// Each collector wrote its own client's spans through the remote storage.
	// (Its counter moves just after the write returns: wait for it.)
	for i, want := range []int{demoSpans, sdk.Spans} {
		var sent, failed int64
		for deadline := time.Now().Add(waitLimit); ; time.Sleep(100 * time.Millisecond) {
			sent, failed = exporterSpans(t, d.Collectors[i].Telemetry)
			if sent >= int64(want) || failed > 0 || time.Now().After(deadline) {
				break
			}
		}
		if sent != int64(want) || failed != 0 {
			t.Errorf("collector %d wrote %d spans to the storage (%d failed), want %d", i+1, sent, failed, want)
		}
	}

	// The local analysis of the same traces: ingest what Jaeger holds into
	// a SQLite store.
	localData := t.TempDir()
	local, err := collector.OpenSQLite(filepath.Join(localData, "stagescope.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	col := collector.New(local)
	durations := map[spans.Stage][]time.Duration{}
	totalSpans, rootErrors := 0, 0
	for _, trs := range fromJaeger {
		for _, tr := range trs {
			ss := make([]spans.Span, 0, len(tr.Spans))
			for _, s := range tr.Spans {
				ss = append(ss, *s)
				durations[s.Stage] = append(durations[s.Stage], s.Duration())
				if s.ParentID.IsZero() && s.Status == spans.StatusError {
					rootErrors++
				}
			}
			totalSpans += len(ss)
			if err := col.Ingest(ctx, ss, []event.Record(tr.Events)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := col.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if rootErrors != sdk.RootErrors {
		t.Fatalf("%d failed roots read back, want %d", rootErrors, sdk.RootErrors)
	}
	localStages, err := local.StageBreakdown(ctx, time.Time{}, time.Time{}, "")
	if err != nil {
		t.Fatal(err)
	}

	// Prometheus, once it has scraped every span of both collectors.
	pr, err := prom.New(d.Prometheus.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	var at time.Time
	var remote []collector.StageStats
	for deadline := time.Now().Add(waitLimit); ; time.Sleep(500 * time.Millisecond) {
		at = time.Now()
		remote, err = pr.StageBreakdown(ctx, time.Time{}, at, "")
		if err == nil && countAll(remote) == totalSpans || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || countAll(remote) != totalSpans {
		t.Fatalf("Prometheus counts %d spans (err %v), want %d", countAll(remote), err, totalSpans)
	}
	if err := pr.Health(ctx); err != nil {
		t.Fatal(err)
	}

	bounds := bucketBounds(t)
	byStage := map[spans.Stage]collector.StageStats{}
	for _, s := range remote {
		byStage[s.Stage] = s
	}
	if len(remote) != len(localStages) {
		t.Errorf("Prometheus has %d stages, the local analysis %d: %v vs %v", len(remote), len(localStages), stageNames(remote), stageNames(localStages))
	}
	for _, l := range localStages {
		r, ok := byStage[l.Stage]
		if !ok {
			t.Errorf("stage %s: missing from Prometheus", l.Stage)
			continue
		}
		if r.Count != l.Count || r.Errors != l.Errors {
			t.Errorf("stage %s: Prometheus %d spans %d errors, local %d spans %d errors", l.Stage, r.Count, r.Errors, l.Count, l.Errors)
		}
		// Jaeger keeps microseconds: each span read back may be up to 1 µs
		// shorter than the span the collector measured.
		if diff := r.Total - l.Total; diff < -time.Microsecond || diff > time.Duration(l.Count)*time.Microsecond+time.Microsecond {
			t.Errorf("stage %s: Prometheus total %v, local %v", l.Stage, r.Total, l.Total)
		}
		sorted := slices.Clone(durations[l.Stage])
		slices.Sort(sorted)
		for _, q := range []struct {
			q           float64
			remote, loc time.Duration
		}{{0.50, r.P50, l.P50}, {0.95, r.P95, l.P95}, {0.99, r.P99, l.P99}} {
			exact := quantile.Of(sorted, q.q)
			if lo, hi, ok := inBucket(bounds, q.remote, exact); !ok {
				t.Errorf("stage %s p%g: Prometheus %v outside the bucket (%v, %v] of the exact %v", l.Stage, q.q*100, q.remote, lo, hi, exact)
			}
			// The local rollups' own histogram is within ±2.2% of the exact value.
			if d := math.Abs(float64(q.loc-exact)) / float64(exact); d > 0.025 {
				t.Errorf("stage %s p%g: local %v vs exact %v", l.Stage, q.q*100, q.loc, exact)
			}
		}
	}
	t.Logf("%d traces, %d spans in %d stages agree", len(demoTraces)+sdk.Traces, totalSpans, len(localStages))

	// The reader's interpolation is histogram_quantile's: the same figure
	// as PromQL for a stage only the demo has (every series labelled).
	synth := byStage[spans.StageSynth]
	promQL := instantValue(t, d.Prometheus.URL, `histogram_quantile(0.95, sum by (le) (traces_span_metrics_duration_seconds_bucket{stagescope_stage="synth"}))`, at)
	if got := synth.P95.Seconds(); math.Abs(got-promQL) > 1e-6*promQL {
		t.Errorf("synth p95: reader %v s, histogram_quantile %v s", got, promQL)
	}

	// One run: the demo's, against what the demo stored natively.
	demoStages, err := demoStore.StageBreakdown(ctx, time.Time{}, time.Time{}, runID)
	if err != nil {
		t.Fatal(err)
	}
	runStages, err := pr.StageBreakdown(ctx, time.Time{}, at, runID)
	if err != nil {
		t.Fatal(err)
	}
	if len(runStages) != len(demoStages) {
		t.Errorf("run %s: Prometheus %v, demo store %v", runID, stageNames(runStages), stageNames(demoStages))
	}
	for i := range min(len(runStages), len(demoStages)) {
		r, l := runStages[i], demoStages[i]
		if r.Stage != l.Stage || r.Count != l.Count || r.Errors != l.Errors {
			t.Errorf("run %s: Prometheus %s %d/%d, demo store %s %d/%d", runID, r.Stage, r.Count, r.Errors, l.Stage, l.Count, l.Errors)
		}
	}

	// End-to-end: the root spans' series (their own connector, flushed on
	// its own) count every trace once.
	want := int64(len(demoTraces) + sdk.Traces)
	var traces, errs int64
	for deadline := time.Now().Add(waitLimit); ; time.Sleep(500 * time.Millisecond) {
		end := time.Now()
		pts, err := pr.Timeseries(ctx, end.Add(-10*time.Minute), end, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		traces, errs = 0, 0
		for _, p := range pts {
			traces += p.Traces
			errs += p.Errors
		}
		if traces == want || time.Now().After(deadline) {
			break
		}
	}
	if traces != want || errs != int64(sdk.RootErrors) {
		t.Errorf("time series: %d traces %d errors, want %d and %d", traces, errs, want, sdk.RootErrors)
	}

	// The dashboard over the deployment: serve --source jaeger=… --prometheus
	// against serve --data over the local analysis of the same traces.
	if err := local.Close(); err != nil {
		t.Fatal(err)
	}
	// The window ends at the next whole minute, once it has passed: the
	// store leaves the minute under way out of a report, so a window that
	// has ended is the same window for both sources.
	end := time.Now().Truncate(time.Minute).Add(time.Minute)
	time.Sleep(time.Until(end) + 100*time.Millisecond)
	f := servedFigures{
		window: fmt.Sprintf("from=%d&to=%d", begin.Add(-time.Minute).UnixMilli(), end.UnixMilli()),
		compare: fmt.Sprintf("base_from=%d&base_to=%d&cand_from=%d&cand_to=%d", begin.Add(-time.Minute).UnixMilli(),
			sdkBegin.UnixMilli()-1, sdkBegin.UnixMilli(), end.UnixMilli()),
		durations: durations, totalSpans: totalSpans, rootErrors: rootErrors, chromium: chromium,
	}
	for _, service := range []string{demoService, sdkService} {
		for i, tr := range fromJaeger[service] {
			id := tr.Spans[0].TraceID.String()
			f.traceIDs = append(f.traceIDs, id)
			if i < 3 {
				f.some = append(f.some, id)
			}
		}
	}
	slices.Sort(f.traceIDs)
	checkServeOverJaeger(t, stagescope, d.QueryURL, d.Prometheus.URL, localData, f)
}

func countAll(ss []collector.StageStats) int {
	n := 0
	for _, s := range ss {
		n += int(s.Count)
	}
	return n
}

func stageNames(ss []collector.StageStats) []string {
	var out []string
	for _, s := range ss {
		out = append(out, fmt.Sprintf("%s:%d", s.Stage, s.Count))
	}
	return out
}

// bucketBounds reads the histogram bounds from the shipped collector
// configuration.
func bucketBounds(t *testing.T) []time.Duration {
	t.Helper()
	m := regexp.MustCompile(`buckets: \[([^\]]+)\]`).FindStringSubmatch(deploy.CollectorConfig)
	if m == nil {
		t.Fatal("collector.yaml has no explicit buckets")
	}
	var out []time.Duration
	for _, f := range strings.Split(m[1], ",") {
		d, err := time.ParseDuration(strings.TrimSpace(f))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

// bucketOf returns the bucket (lo, hi] holding d; hi is MaxInt64 past the
// last bound.
func bucketOf(bounds []time.Duration, d time.Duration) (lo, hi time.Duration) {
	i, _ := slices.BinarySearch(bounds, d)
	if i > 0 {
		lo = bounds[i-1]
	}
	if i == len(bounds) {
		return lo, math.MaxInt64
	}
	return lo, bounds[i]
}

// instantValue runs a PromQL query that yields one number.
func instantValue(t *testing.T, base, query string, at time.Time) float64 {
	t.Helper()
	u := base + "/api/v1/query?" + url.Values{"query": {query}, "time": {strconv.FormatFloat(float64(at.UnixMilli())/1e3, 'f', 3, 64)}}.Encode()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ans struct {
		Data struct {
			Result []struct {
				Value [2]json.RawMessage `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil || len(ans.Data.Result) != 1 {
		t.Fatalf("%s: %v, %d results", query, err, len(ans.Data.Result))
	}
	var s string
	_ = json.Unmarshal(ans.Data.Result[0].Value[1], &s)
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// buildStagescope builds the stagescope command of this checkout.
func buildStagescope(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "stagescope")
	build := exec.Command("go", "build", "-o", bin, "./cmd/stagescope")
	build.Dir = "../.."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("cannot build stagescope: %v\n%s", err, out)
	}
	return bin
}
