package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/collector/jaeger"
	"github.com/stagescope/stagescope/collector/jaeger/jaegertest"
	"github.com/stagescope/stagescope/handlers"
	"github.com/stagescope/stagescope/spans"
)

// startJaeger runs a real Jaeger v2 for one test (skipped without
// STAGESCOPE_JAEGER_BIN unless STAGESCOPE_REQUIRE_ALL=1).
func startJaeger(t *testing.T) (*jaegertest.Instance, func()) {
	t.Helper()
	j, err := jaegertest.StartFromEnv()
	j = jaegertest.Need(t, j, err)
	stop := sync.OnceFunc(j.Stop)
	t.Cleanup(stop)
	return j, stop
}

// serveJaeger serves the API over a Jaeger source reading the query
// service at queryURL.
func serveJaeger(t *testing.T, queryURL string, opts ...jaeger.SourceOption) (*seeded, *jaeger.Source) {
	t.Helper()
	qc, err := jaeger.NewQueryClient(queryURL)
	if err != nil {
		t.Fatal(err)
	}
	src := jaeger.NewSource(qc, opts...)
	srv := handlers.New(src, nil)
	s := &seeded{t: t, srv: srv, ts: httptest.NewServer(srv.Handler()), client: &http.Client{Timeout: 30 * time.Second}}
	t.Cleanup(func() {
		srv.Close()
		s.ts.Close()
		src.Close()
		qc.Close()
		s.client.CloseIdleConnections()
	})
	return s, src
}

// waitInJaeger polls Jaeger until every trace has its spans: Jaeger
// stores asynchronously.
func waitInJaeger(t *testing.T, j *jaegertest.Instance, want map[spans.TraceID]int) {
	t.Helper()
	qc, err := jaeger.NewQueryClient(j.QueryURL)
	if err != nil {
		t.Fatal(err)
	}
	defer qc.Close()
	for id, n := range want {
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			tr, err := qc.GetTrace(context.Background(), id)
			if err == nil && len(tr.Spans) >= n {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("trace %s: not whole in Jaeger (%d spans, want %d; %v)", id, len(tr.Spans), n, err)
			}
		}
	}
}

// mirrorToJaeger copies every stored trace of s to Jaeger over OTLP and
// waits until Jaeger has them.
func mirrorToJaeger(t *testing.T, s *seeded, j *jaegertest.Instance) {
	t.Helper()
	ctx := context.Background()
	page, err := s.store.ListTraces(ctx, collector.TraceQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var all []jaeger.Trace
	want := map[spans.TraceID]int{}
	for _, ts := range page.Traces {
		tr, err := s.store.GetTrace(ctx, ts.TraceID)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, tr.Trace)
		want[ts.TraceID] = len(tr.Spans)
	}
	exp, err := jaeger.NewOTLPExporter(ctx, j.OTLPURL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exp.Export(ctx, all); err != nil {
		t.Fatal(err)
	}
	if err := exp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	waitInJaeger(t, j, want)
}

// sameSpans compares two answers of /api/traces/:id span by span: stage,
// name, status, timing, critical path, tokens, model and cost.
func sameSpans(t *testing.T, what string, want, got handlers.TraceDetail) {
	t.Helper()
	if len(got.Spans) != len(want.Spans) {
		t.Fatalf("%s: %d spans, want %d", what, len(got.Spans), len(want.Spans))
	}
	if got.Name != want.Name || got.Service != want.Service || got.Status != want.Status || got.DurationMs != want.DurationMs || got.Errors != want.Errors {
		t.Errorf("%s: row %+v, want %+v", what, got.TraceRow, want.TraceRow)
	}
	for i, w := range want.Spans {
		g := got.Spans[i]
		if g.SpanID != w.SpanID || g.ParentID != w.ParentID || g.Name != w.Name || g.Stage != w.Stage || g.Status != w.Status || g.Error != w.Error ||
			g.Depth != w.Depth || g.OffsetMs != w.OffsetMs || g.DurationMs != w.DurationMs || g.SelfMs != w.SelfMs || g.Critical != w.Critical || g.CriticalMs != w.CriticalMs {
			t.Errorf("%s span %d: %+v\nwant %+v", what, i, g, w)
		}
		if !sameTokens(g.Tokens, w.Tokens) {
			t.Errorf("%s span %s (%s): tokens %s, want %s", what, w.Name, w.Stage, tokenText(g.Tokens), tokenText(w.Tokens))
		}
		if (g.FirstToken == nil) != (w.FirstToken == nil) || (g.FirstToken != nil && *g.FirstToken != *w.FirstToken) {
			t.Errorf("%s span %s: first token %+v, want %+v", what, w.Name, g.FirstToken, w.FirstToken)
		}
	}
	if len(got.CriticalPath) != len(want.CriticalPath) {
		t.Errorf("%s: critical path of %d segments, want %d", what, len(got.CriticalPath), len(want.CriticalPath))
	}
}

func sameTokens(a, b *handlers.Tokens) bool {
	if a == nil || b == nil {
		return a == b
	}
	if (a.CostUSD == nil) != (b.CostUSD == nil) || (a.CostUSD != nil && *a.CostUSD != *b.CostUSD) {
		return false
	}
	x, y := *a, *b
	x.CostUSD, y.CostUSD = nil, nil
	return x == y
}

func tokenText(k *handlers.Tokens) string {
	if k == nil {
		return "none"
	}
	cost := "no price"
	if k.CostUSD != nil {
		cost = fmt.Sprintf("$%g", *k.CostUSD)
	}
	return fmt.Sprintf("%s prompt %d completion %d embedding %d %s", k.Model, k.Prompt, k.Completion, k.Embedding, cost)
}

// TestJaegerReadsRecordedBatchesAsIngestDoes sends the same recorded OTLP
// batches (npm instrumentations, collector/otlpconv/testdata) to the store
// through OTLP ingest and to a real Jaeger v2, and reads every trace back
// through the API over each: stages, tokens, models, costs, timing and
// critical path agree span by span.
func TestJaegerReadsRecordedBatchesAsIngestDoes(t *testing.T) {
	j, _ := startJaeger(t)
	local := serveIngested(t, func(context.Context, *collector.Collector) {})
	remote, _ := serveJaeger(t, j.QueryURL)
	sent := 0
	for _, dir := range []string{"vercel-ai", "langchain", "otel-js", "langfuse", "traceloop"} {
		files, err := filepath.Glob(filepath.Join("..", "collector", "otlpconv", "testdata", dir, "request-*.json"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no recorded requests in %s: %v", dir, err)
		}
		for _, f := range files {
			body, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, url := range []string{local.ts.URL + "/v1/traces", j.OTLPURL + "/v1/traces"} {
				resp, err := http.Post(url, "application/json", bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("%s to %s: %d", f, url, resp.StatusCode)
				}
			}
			sent++
		}
	}
	if err := local.coll.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var list handlers.TraceList
	local.getJSON("/api/traces?from=1&limit=1000", http.StatusOK, &list)
	if len(list.Traces) < sent {
		t.Fatalf("%d traces stored from %d requests", len(list.Traces), sent)
	}
	want := map[spans.TraceID]int{}
	for _, r := range list.Traces {
		id, _ := spans.ParseTraceID(r.TraceID)
		want[id] = r.Spans
	}
	waitInJaeger(t, j, want)
	tokens, models := 0, map[string]bool{}
	for _, r := range list.Traces {
		var w, g handlers.TraceDetail
		local.getJSON("/api/traces/"+r.TraceID, http.StatusOK, &w)
		remote.getJSON("/api/traces/"+r.TraceID, http.StatusOK, &g)
		sameSpans(t, "trace "+r.TraceID, w, g)
		for _, sp := range w.Spans {
			if sp.Tokens != nil {
				tokens++
				models[sp.Tokens.Model] = true
			}
		}
	}
	// The comparison covered model calls with tokens, of several models.
	if tokens < 3 || len(models) < 2 {
		t.Errorf("the recorded batches gave %d spans with tokens of models %v: too few to compare", tokens, models)
	}
}

// TestAPIOverJaegerAgreesWithTheStore serves the same traces from the
// store and from a real Jaeger v2 (a copy over OTLP) and compares what the
// API answers: the trace list, each trace, the stage breakdown, the time
// series and the bottleneck report.
func TestAPIOverJaegerAgreesWithTheStore(t *testing.T) {
	j, _ := startJaeger(t)
	local := newSeeded(t)
	mirrorToJaeger(t, local, j)
	remote, src := serveJaeger(t, j.QueryURL, jaeger.WithSourceCache(time.Hour, 0, 0)) // reuse is asserted: no expiry mid-test
	window := fmt.Sprintf("from=%d&to=%d", local.base.UnixMilli(), local.base.Add(40*time.Minute).UnixMilli())

	var lw, lg handlers.TraceList
	local.getJSON("/api/traces?limit=1000&"+window, http.StatusOK, &lw)
	remote.getJSON("/api/traces?limit=1000&"+window, http.StatusOK, &lg)
	if len(lw.Traces) != seedTotal || len(lg.Traces) != seedTotal {
		t.Fatalf("trace lists of %d (store) and %d (Jaeger) traces, want %d", len(lw.Traces), len(lg.Traces), seedTotal)
	}
	for i := range lw.Traces {
		w, g := lw.Traces[i], lg.Traces[i]
		w.Start, g.Start = time.Time{}, time.Time{}
		if fmt.Sprint(w) != fmt.Sprint(g) {
			t.Errorf("trace list row %d: %+v\nwant %+v", i, g, w)
		}
	}
	// Sorted lists, page by page with their cursors, in the same order.
	for _, order := range []string{"duration", "-duration", "spans", "-start", "start"} {
		pages := func(s *seeded) []string {
			var ids []string
			cursor := ""
			for range seedTotal {
				var l handlers.TraceList
				s.getJSON("/api/traces?limit=8&sort="+order+"&cursor="+cursor+"&"+window, http.StatusOK, &l)
				for _, r := range l.Traces {
					ids = append(ids, r.TraceID)
				}
				if cursor = l.NextCursor; cursor == "" {
					break
				}
			}
			return ids
		}
		w, g := pages(local), pages(remote)
		if len(w) != seedTotal || fmt.Sprint(w) != fmt.Sprint(g) {
			t.Errorf("sort=%s: %d traces over Jaeger, %d from the store, or another order", order, len(g), len(w))
		}
	}
	// Filters the store answers by index or scan, Jaeger's source in memory.
	for _, f := range []string{"status=error", "stage=rerank&min_duration=500ms", "name=slow", "attr=customer%3Dacme", "service=hostile", "run=" + runCand} {
		local.getJSON("/api/traces?limit=1000&"+f+"&"+window, http.StatusOK, &lw)
		remote.getJSON("/api/traces?limit=1000&"+f+"&"+window, http.StatusOK, &lg)
		if len(lw.Traces) == 0 || len(lw.Traces) != len(lg.Traces) {
			t.Errorf("filter %s: %d traces from the store, %d from Jaeger", f, len(lw.Traces), len(lg.Traces))
		}
	}
	for _, key := range []string{"normal", "failing", "slow", "acme", "hostile", runCand} {
		id := local.ids[key][0].String()
		var w, g handlers.TraceDetail
		local.getJSON("/api/traces/"+id, http.StatusOK, &w)
		remote.getJSON("/api/traces/"+id, http.StatusOK, &g)
		sameSpans(t, key+" trace", w, g)
	}

	var sw, sg handlers.StageBreakdown
	local.getJSON("/api/stages?"+window, http.StatusOK, &sw)
	remote.getJSON("/api/stages?"+window, http.StatusOK, &sg)
	if len(sw.Stages) == 0 || len(sw.Stages) != len(sg.Stages) {
		t.Fatalf("stages: %d rows from the store, %d from Jaeger", len(sw.Stages), len(sg.Stages))
	}
	for i, w := range sw.Stages {
		g := sg.Stages[i]
		if g.Stage != w.Stage || g.Count != w.Count || g.Errors != w.Errors || g.SelfMs != w.SelfMs {
			t.Errorf("stage %s: %+v\nwant %+v", w.Stage, g, w)
		}
		for _, p := range [][2]float64{{g.P50Ms, w.P50Ms}, {g.P95Ms, w.P95Ms}, {g.P99Ms, w.P99Ms}, {g.SelfP95Ms, w.SelfP95Ms}} {
			if !within(p[0], p[1]) {
				t.Errorf("stage %s: percentile %.3f ms from Jaeger, %.3f ms from the store", w.Stage, p[0], p[1])
			}
		}
	}
	if sw.E2E == nil || sg.E2E == nil || sw.E2E.Traces != sg.E2E.Traces || sg.E2E.Errors != sw.E2E.Errors || !within(sg.E2E.P95Ms, sw.E2E.P95Ms) {
		t.Errorf("end to end: %+v from Jaeger, %+v from the store", sg.E2E, sw.E2E)
	}
	if sw.Coverage != nil || sg.Coverage == nil || sg.Coverage.Source != "jaeger" || sg.Coverage.Traces != seedTotal ||
		!strings.Contains(sg.Coverage.Method, fmt.Sprintf("%d traces read from Jaeger", seedTotal)) {
		t.Errorf("coverage: %+v from Jaeger (want the source and its sample), %+v from the store", sg.Coverage, sw.Coverage)
	}

	var tw, tg handlers.Series
	local.getJSON("/api/timeseries?step=5m&"+window, http.StatusOK, &tw)
	remote.getJSON("/api/timeseries?step=5m&"+window, http.StatusOK, &tg)
	if len(tw.Points) != len(tg.Points) {
		t.Fatalf("time series of %d and %d points", len(tw.Points), len(tg.Points))
	}
	var tokens int64
	for i, w := range tw.Points {
		g := tg.Points[i]
		if g.T != w.T || g.Traces != w.Traces || g.Errors != w.Errors || len(g.Stages) != len(w.Stages) ||
			g.TokensIn != w.TokensIn || g.TokensOut != w.TokensOut || g.CostUSD != w.CostUSD || fmt.Sprint(g.StageCostUSD) != fmt.Sprint(w.StageCostUSD) {
			t.Errorf("point %d: %+v\nwant %+v", i, g, w)
		}
		tokens += w.TokensIn
	}
	if tokens == 0 {
		t.Error("the series holds no tokens: nothing compared")
	}

	// Without from, the series starts at the first trace (over Jaeger,
	// within the window's reach).
	local.getJSON("/api/timeseries", http.StatusOK, &tw)
	remote.getJSON("/api/timeseries", http.StatusOK, &tg)
	sum := func(s handlers.Series) (n int64) {
		for _, p := range s.Points {
			n += p.Traces
		}
		return n
	}
	if sum(tw) != seedTotal || sum(tg) != seedTotal || tg.From != tw.From {
		t.Errorf("open series: %d traces from %s over Jaeger, %d from %s from the store", sum(tg), tg.From, sum(tw), tw.From)
	}
	var vw, vg handlers.ServiceList
	local.getJSON("/api/services?"+window, http.StatusOK, &vw)
	remote.getJSON("/api/services?"+window, http.StatusOK, &vg)
	if fmt.Sprint(vw.Services) != fmt.Sprint(vg.Services) || len(vw.Services) != 2 {
		t.Errorf("services: %+v over Jaeger, %+v from the store", vg.Services, vw.Services)
	}

	type reportAnswer struct {
		Source         string `json:"source"`
		Sampled        bool   `json:"sampled"`
		Method         string `json:"method"`
		TracesAnalysed int    `json:"traces_analysed"`
		Report         struct {
			Traces   int `json:"traces"`
			Findings []struct {
				Kind, Stage, Subject, Severity string
			} `json:"findings"`
		} `json:"report"`
	}
	var rw, rg reportAnswer
	local.getJSON("/api/report?"+window, http.StatusOK, &rw)
	remote.getJSON("/api/report?"+window, http.StatusOK, &rg)
	if rw.Source != "sqlite" || rg.Source != "jaeger" || !strings.Contains(rg.Method, "read from Jaeger") {
		t.Errorf("report sources %q (method %q) and %q", rg.Source, rg.Method, rw.Source)
	}
	if rg.Report.Traces != rw.Report.Traces || rg.TracesAnalysed != rw.TracesAnalysed || len(rw.Report.Findings) == 0 || len(rg.Report.Findings) == 0 {
		t.Fatalf("report: %d traces, %d findings from Jaeger; %d, %d from the store", rg.Report.Traces, len(rg.Report.Findings), rw.Report.Traces, len(rw.Report.Findings))
	}
	if rg.Report.Findings[0] != rw.Report.Findings[0] {
		t.Errorf("top finding from Jaeger %+v, from the store %+v", rg.Report.Findings[0], rw.Report.Findings[0])
	}

	// Compare: the first ten minutes (normal traces) against the candidate
	// run's (a slower model), as windows.
	ms := func(m int) int64 { return local.base.Add(time.Duration(m) * time.Minute).UnixMilli() }
	cmp := fmt.Sprintf("/api/compare?base_from=%d&base_to=%d&cand_from=%d&cand_to=%d", ms(0), ms(10), ms(27), ms(37))
	type compareAnswer struct {
		Baseline   struct{ Source string } `json:"baseline_sample"`
		Comparison struct {
			Regressions []string `json:"regressions"`
			E2E         struct {
				Regressed bool `json:"regressed"`
			} `json:"e2e"`
		} `json:"comparison"`
	}
	var cw, cg compareAnswer
	local.getJSON(cmp, http.StatusOK, &cw)
	remote.getJSON(cmp, http.StatusOK, &cg)
	if len(cw.Comparison.Regressions) == 0 || fmt.Sprint(cw.Comparison) != fmt.Sprint(cg.Comparison) || cg.Baseline.Source != "jaeger" {
		t.Errorf("compare over Jaeger %+v, from the store %+v", cg, cw)
	}

	// Requests at once share the cached traces (read-only; -race watches).
	var wg sync.WaitGroup
	codes := make(chan int, 16)
	for range 4 {
		for _, path := range []string{"/api/report?", "/api/stages?", "/api/timeseries?step=1m&", "/api/traces?status=error&"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := remote.client.Get(remote.ts.URL + path + window)
				if err != nil {
					codes <- 0
					return
				}
				resp.Body.Close()
				codes <- resp.StatusCode
			}()
		}
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != http.StatusOK {
			t.Errorf("concurrent request: status %d", c)
		}
	}

	// One window, one fetch: the lists with their filters, the stages, the
	// series with its steps, the services and the report shared it; the
	// service filter fetched that service alone, and the open series (with
	// its search for the first trace) the window's reach; the two sides of
	// the comparison are inside a cached window and read from it.
	if st := src.Stats(); st.Fetches != 3 {
		t.Errorf("%d fetches, want 3: the window of all services, of one service, and the reach (%+v)", st.Fetches, st)
	}

	// Runs live in the store.
	var runs handlers.RunList
	remote.getJSON("/api/runs", http.StatusOK, &runs)
	if len(runs.Runs) != 0 || !strings.Contains(runs.Note, "live in the local store") {
		t.Errorf("runs over Jaeger: %+v", runs)
	}
	// A run's traces still carry its id: over Jaeger they are found by it
	// (in the window's reach), though the run itself is not listed.
	local.getJSON("/api/stages?run="+runCand, http.StatusOK, &sw)
	remote.getJSON("/api/stages?run="+runCand, http.StatusOK, &sg)
	if sg.Coverage == nil || sg.Coverage.Traces != seedRun || len(sg.Stages) != len(sw.Stages) || sg.Stages[0].Count != sw.Stages[0].Count {
		t.Errorf("a run's stages over Jaeger: %+v, from the store %+v", sg, sw)
	}
}

func TestJaegerSourceInBrowser(t *testing.T) {
	bin := chromium(t)
	j, _ := startJaeger(t)
	local := newSeeded(t)
	mirrorToJaeger(t, local, j)
	remote, _ := serveJaeger(t, j.QueryURL)
	b := startBrowser(t, bin, remote)
	b.open("overview?range=1h", "overview")
	if got := b.text("#source-line"); !strings.Contains(got, "Source: Jaeger (read-only; runs live in the local store) · stage aggregates from a sample of traces") {
		t.Errorf("source line %q", got)
	}
	if got := b.text(`.stat[data-stat="traces"] .stat-value`); got != fmt.Sprint(seedTotal) {
		t.Errorf("traces card %q, want %d", got, seedTotal)
	}
	if got := b.text("#coverage"); !strings.Contains(got, fmt.Sprintf("Computed from %d traces: %d traces read from Jaeger for", seedTotal, seedTotal)) {
		t.Errorf("coverage line %q", got)
	}
	if n := b.count(".stages-table tbody tr"); n != 6 {
		t.Errorf("%d stage rows, want 6", n)
	}
	b.shot("overview-jaeger")
	b.checkClean("overview over Jaeger")
	b.open("bottlenecks?range=1h", "bottlenecks")
	if got := b.text("#report-sample"); !strings.Contains(got, "read from Jaeger") {
		t.Errorf("sample line %q", got)
	}
	if n := b.count("#findings li"); n == 0 {
		t.Errorf("no findings over Jaeger: %.300s", b.viewText())
	}
	b.shot("bottlenecks-jaeger")
	b.checkClean("bottlenecks over Jaeger")
	b.open("runs", "runs")
	if got := b.viewText(); !strings.Contains(got, "Benchmark runs live in the local store") {
		t.Errorf("runs page over Jaeger: %.300s", got)
	}
	b.checkClean("runs over Jaeger")
}

// A Jaeger that is down is a clear error on the page and in /api/health.
func TestJaegerDownIsAClearErrorInBrowser(t *testing.T) {
	bin := chromium(t)
	j, stop := startJaeger(t)
	remote, _ := serveJaeger(t, j.QueryURL, jaeger.WithSourceFetchTimeout(2*time.Second))
	stop()
	msg := remote.errorOf("/api/health", http.StatusServiceUnavailable)
	if msg != "the jaeger query service does not answer; see the server log" {
		t.Errorf("health: %q", msg)
	}
	if msg := remote.errorOf("/api/stages", http.StatusBadGateway); !strings.Contains(msg, "cannot read traces: source unavailable: jaeger query API unreachable") {
		t.Errorf("stages: %q", msg)
	}
	b := startBrowser(t, bin, remote)
	if err := chromedp.Do(b.ctx, chromedp.Navigate(b.base+"/#/overview")); err != nil {
		t.Fatal(err)
	}
	b.waitFor("the error", `document.body.dataset.state === 'error'`)
	if got := b.viewText(); !strings.Contains(got, "jaeger query API unreachable") {
		t.Errorf("the page says %q", got)
	}
	b.waitFor("the source line", `document.getElementById('source-line').dataset.source === 'error'`)
	if got := b.text("#source-line"); !strings.Contains(got, "the jaeger query service does not answer") {
		t.Errorf("source line %q", got)
	}
	b.checkClean("overview with Jaeger down", func(p string) bool { return strings.Contains(p, "502") || strings.Contains(p, "503") })
}

// rollupMetrics is a collector.StageMetrics answering from a TraceRollup:
// the seam a Prometheus client fills, exercised without one.
type rollupMetrics struct {
	rl     *collector.TraceRollup
	calls  atomic.Int64
	err    error
	mu     sync.Mutex
	oldest time.Time // the earliest from asked for
}

func (m *rollupMetrics) asked(from time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.oldest.IsZero() || from.Before(m.oldest) {
		m.oldest = from
	}
}

func (m *rollupMetrics) StageBreakdown(_ context.Context, from, to time.Time, _ string) ([]collector.StageStats, error) {
	m.calls.Add(1)
	m.asked(from)
	if m.err != nil {
		return nil, m.err
	}
	return m.rl.StageBreakdown(from, to), nil
}

func (m *rollupMetrics) Timeseries(_ context.Context, from, to time.Time, step time.Duration) ([]collector.Point, error) {
	m.calls.Add(1)
	m.asked(from)
	if m.err != nil {
		return nil, m.err
	}
	return m.rl.Timeseries(from, to, step)
}

// With a metrics provider the stage breakdown and the time series of all
// services come from it, not from Jaeger (tokens, which it has not, still
// come from the traces), and its failure is a 502 that names it.
func TestJaegerSourceTakesStageMetricsFromAProvider(t *testing.T) {
	j, _ := startJaeger(t)
	local := newSeeded(t)
	mirrorToJaeger(t, local, j)
	from, to := local.base, local.base.Add(40*time.Minute)
	rl, err := local.store.RollupTraces(context.Background(), collector.TraceQuery{From: from, To: to}, 0)
	if err != nil {
		t.Fatal(err)
	}
	m := &rollupMetrics{rl: rl}
	remote, src := serveJaeger(t, j.QueryURL, jaeger.WithStageMetrics(m, "rollup-metrics"))
	window := fmt.Sprintf("from=%d&to=%d", from.UnixMilli(), to.UnixMilli())
	var h handlers.Health
	remote.getJSON("/api/health", http.StatusOK, &h)
	if h.Source.Kind != "jaeger" || h.Source.Aggregates != collector.AggregatesMetrics {
		t.Errorf("health source %+v", h.Source)
	}
	var sw, sg handlers.StageBreakdown
	local.getJSON("/api/stages?"+window, http.StatusOK, &sw)
	remote.getJSON("/api/stages?"+window, http.StatusOK, &sg)
	if st := src.Stats(); st.Fetches != 0 {
		t.Errorf("the stage breakdown read Jaeger %d times; it comes from the provider", st.Fetches)
	}
	if fmt.Sprint(sw.Stages) != fmt.Sprint(sg.Stages) || fmt.Sprint(*sw.E2E) != fmt.Sprint(*sg.E2E) || sg.Coverage != nil {
		t.Errorf("stages from the provider:\n%+v %+v %+v\nwant %+v %+v", sg.Stages, sg.E2E, sg.Coverage, sw.Stages, sw.E2E)
	}
	var tw, tg handlers.Series
	local.getJSON("/api/timeseries?step=5m&"+window, http.StatusOK, &tw)
	remote.getJSON("/api/timeseries?step=5m&"+window, http.StatusOK, &tg)
	pw, _ := json.Marshal(tw.Points)
	pg, _ := json.Marshal(tg.Points)
	if len(tw.Points) == 0 || !bytes.Equal(pw, pg) {
		t.Errorf("series from the provider:\n%+v\nwant %+v", tg.Points, tw.Points)
	}
	if n := m.calls.Load(); n < 3 {
		t.Errorf("the provider was asked %d times", n)
	}
	// Open windows (the Overview's "everything", its search for the first
	// trace) reach the provider bounded by the source's reach.
	remote.getJSON("/api/timeseries", http.StatusOK, &tg)
	remote.getJSON("/api/stages", http.StatusOK, &sg)
	if reach := time.Now().Add(-jaeger.DefaultSourceMaxWindow - 31*24*time.Hour); m.oldest.Before(reach) {
		t.Errorf("the provider was asked from %s, before the reach", m.oldest)
	}
	m.err = errors.New("connection refused")
	if msg := remote.errorOf("/api/stages?"+window, http.StatusBadGateway); msg != "cannot read stage breakdown: source unavailable: rollup-metrics: connection refused" {
		t.Errorf("provider down: %q", msg)
	}
}

// A Jaeger that holds every request: /api/health gives up within its
// deadline and the API within the source's fetch timeout, both saying so.
func TestSlowJaegerTimesOutClearly(t *testing.T) {
	held := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-held:
		}
	}))
	t.Cleanup(func() { close(held); slow.Close() })
	remote, _ := serveJaeger(t, slow.URL, jaeger.WithSourceFetchTimeout(time.Second))
	if msg := remote.errorOf("/api/health", http.StatusServiceUnavailable); msg != "the jaeger query service does not answer within 5s; see the server log" {
		t.Errorf("health: %q", msg)
	}
	if msg := remote.errorOf("/api/stages", http.StatusBadGateway); msg != "cannot read traces: source unavailable: the Jaeger query service did not answer within 1s" {
		t.Errorf("stages: %q", msg)
	}
}
