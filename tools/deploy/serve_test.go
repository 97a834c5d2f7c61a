package deploy_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/handlers"
	"github.com/stagescope/stagescope/spans"
	"github.com/stagescope/stagescope/spans/quantile"
)

var dashboardLine = regexp.MustCompile(`stagescope: dashboard at (http://\S+/)`)

// serveProcess is one running `stagescope serve`.
type serveProcess struct {
	url    string // the dashboard's base, without the trailing slash
	cmd    *exec.Cmd
	mu     sync.Mutex
	output strings.Builder
	done   chan struct{}
}

// startServe runs the built stagescope as `serve --addr 127.0.0.1:0 args…`
// and returns once it says where it listens; it stops at the end of the
// test. The environment's STAGESCOPE_ serve settings are left out so the
// arguments alone say what it serves.
func startServe(t testing.TB, bin string, args ...string) *serveProcess {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	for _, kv := range os.Environ() {
		switch strings.SplitN(kv, "=", 2)[0] {
		case "STAGESCOPE_SOURCE", "STAGESCOPE_PROMETHEUS", "STAGESCOPE_DATA", "STAGESCOPE_ADDR", "STAGESCOPE_TOKEN", "STAGESCOPE_EXPORT_JAEGER":
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatalf("serve %v: %v", args, err)
	}
	p := &serveProcess{cmd: cmd, done: make(chan struct{})}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			p.mu.Lock()
			p.output.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if m := dashboardLine.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- strings.TrimSuffix(m[1], "/"):
				default:
				}
			}
		}
	}()
	go func() {
		_ = cmd.Wait()
		pw.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("serve %v output:\n%s", args, p.log())
		}
	})
	select {
	case p.url = <-found:
	case <-p.done:
		t.Fatalf("serve %v exited before listening:\n%s", args, p.log())
	case <-time.After(waitLimit):
		t.Fatalf("serve %v did not say where it listens:\n%s", args, p.log())
	}
	return p
}

// stop interrupts serve and waits for it to exit (killed after a minute).
func (p *serveProcess) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *serveProcess) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.output.String()
}

// getJSON GETs path and decodes a 200 answer into v.
func (p *serveProcess) getJSON(t testing.TB, path string, v any) {
	t.Helper()
	c := http.Client{Timeout: waitLimit}
	resp, err := c.Get(p.url + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s%s: %d %s", p.url, path, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v in %.300s", path, err, body)
	}
}

// servedFigures is what the serve check compares against: the traces
// read back from Jaeger and analysed locally.
type servedFigures struct {
	window     string                          // from=…&to=… holding every trace
	compare    string                          // the compare query: the demo's traces against the SDK client's
	traceIDs   []string                        // every trace, sorted
	some       []string                        // a few trace ids of each service
	durations  map[spans.Stage][]time.Duration // every span's duration by stage
	totalSpans int
	rootErrors int
	chromium   string // the browser for the pages ("": not checked)
}

// chromiumFromEnv is STAGESCOPE_CHROMIUM; missing, the test fails under
// STAGESCOPE_REQUIRE_ALL=1 (before the deployment starts), and otherwise
// checks the API alone.
func chromiumFromEnv(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("STAGESCOPE_CHROMIUM")
	if bin == "" && os.Getenv("STAGESCOPE_REQUIRE_ALL") == "1" {
		t.Fatal("STAGESCOPE_CHROMIUM is not set and STAGESCOPE_REQUIRE_ALL=1")
	}
	return bin
}

// checkServeOverJaeger starts `serve --source jaeger=… --prometheus …` over
// the deployment and `serve --data` over the local analysis of the same
// traces, and checks every API the dashboard reads and its pages in a
// browser against them.
func checkServeOverJaeger(t *testing.T, bin, queryURL, promURL, localData string, f servedFigures) {
	remote := startServe(t, bin, "--source", "jaeger="+queryURL, "--prometheus", promURL)
	local := startServe(t, bin, "--data", localData)

	var h handlers.Health
	remote.getJSON(t, "/api/health", &h)
	if h.Source.Kind != "jaeger" || h.Source.Aggregates != collector.AggregatesMetrics || !h.Source.ReadOnly || h.Ingest {
		t.Errorf("health over Jaeger: %+v", h)
	}

	// Stages: every span of every stage, from Prometheus and from the
	// store; percentiles within the histogram bucket of the exact value.
	var rs, ls handlers.StageBreakdown
	remote.getJSON(t, "/api/stages", &rs)
	local.getJSON(t, "/api/stages", &ls)
	if len(rs.Stages) != len(ls.Stages) || len(ls.Stages) != len(f.durations) {
		t.Errorf("stages: %d over Jaeger, %d from the store, %d read back", len(rs.Stages), len(ls.Stages), len(f.durations))
	}
	bounds := bucketBounds(t)
	remoteRows := map[string]handlers.StageRow{}
	for _, r := range rs.Stages {
		remoteRows[r.Stage] = r
	}
	counted := 0
	for _, l := range ls.Stages {
		r, ok := remoteRows[l.Stage]
		if !ok {
			t.Errorf("stage %s: missing over Jaeger", l.Stage)
			continue
		}
		counted += int(r.Count)
		if r.Count != l.Count || r.Errors != l.Errors {
			t.Errorf("stage %s: %d spans %d errors over Jaeger, %d and %d from the store", l.Stage, r.Count, r.Errors, l.Count, l.Errors)
		}
		st, err := spans.ParseStage(l.Stage)
		if err != nil {
			t.Fatal(err)
		}
		sorted := slices.Clone(f.durations[st])
		slices.Sort(sorted)
		for _, q := range []struct {
			q         float64
			ms, locMs float64
		}{{0.50, r.P50Ms, l.P50Ms}, {0.95, r.P95Ms, l.P95Ms}, {0.99, r.P99Ms, l.P99Ms}} {
			exact := quantile.Of(sorted, q.q)
			if lo, hi, ok := inBucket(bounds, fromMillis(q.ms), exact); !ok {
				t.Errorf("stage %s p%g: %.3f ms over Jaeger outside the bucket (%v, %v] of the exact %v (store: %.3f ms)", l.Stage, q.q*100, q.ms, lo, hi, exact, q.locMs)
			}
		}
	}
	if counted != f.totalSpans {
		t.Errorf("stages over Jaeger count %d spans, want %d", counted, f.totalSpans)
	}
	if rs.Coverage != nil {
		t.Errorf("stages over Jaeger with Prometheus say they come from a sample: %+v", rs.Coverage)
	}

	// The time series the Overview draws: every trace and failed root once.
	var rt, lt handlers.Series
	remote.getJSON(t, "/api/timeseries?step=1m&"+f.window, &rt)
	local.getJSON(t, "/api/timeseries?step=1m&"+f.window, &lt)
	rTraces, rErrs := seriesTotals(rt)
	lTraces, lErrs := seriesTotals(lt)
	if rTraces != int64(len(f.traceIDs)) || lTraces != rTraces || rErrs != int64(f.rootErrors) || lErrs != rErrs {
		t.Errorf("time series: %d traces %d errors over Jaeger, %d and %d from the store, want %d and %d",
			rTraces, rErrs, lTraces, lErrs, len(f.traceIDs), f.rootErrors)
	}

	// The trace list holds every trace; a few traces are equal span by span.
	var rl, ll handlers.TraceList
	remote.getJSON(t, "/api/traces?limit=1000&"+f.window, &rl)
	local.getJSON(t, "/api/traces?limit=1000&"+f.window, &ll)
	if got, want := listIDs(rl), listIDs(ll); !slices.Equal(got, f.traceIDs) || !slices.Equal(want, f.traceIDs) {
		t.Errorf("trace lists: %d traces over Jaeger, %d from the store, want %d", len(got), len(want), len(f.traceIDs))
	}
	for _, id := range f.some {
		var r, l handlers.TraceDetail
		remote.getJSON(t, "/api/traces/"+id, &r)
		local.getJSON(t, "/api/traces/"+id, &l)
		if len(r.Spans) == 0 || !sameJSON(r.Spans, l.Spans) || !sameJSON(r.CriticalPath, l.CriticalPath) || r.Spans[0].Stage != l.Spans[0].Stage {
			t.Errorf("trace %s: %d spans over Jaeger differ from the store's %d", id, len(r.Spans), len(l.Spans))
			for i := range min(len(r.Spans), len(l.Spans)) {
				if !sameJSON(r.Spans[i], l.Spans[i]) {
					t.Logf("span %d over Jaeger %+v\nfrom the store %+v", i, r.Spans[i], l.Spans[i])
				}
			}
		}
	}

	// The report: the same traces, the same top finding.
	var rr, lr handlers.ReportResponse
	remote.getJSON(t, "/api/report?"+f.window, &rr)
	local.getJSON(t, "/api/report?"+f.window, &lr)
	switch {
	case rr.Source != "jaeger" || lr.Source != "sqlite":
		t.Errorf("report sources %q and %q", rr.Source, lr.Source)
	case rr.Report == nil || lr.Report == nil || rr.Report.Traces != len(f.traceIDs) || lr.Report.Traces != rr.Report.Traces:
		t.Errorf("report over Jaeger (%+v) or from the store (%+v) is not over the %d traces", rr.Sample, lr.Sample, len(f.traceIDs))
	case len(rr.Report.Findings) == 0 || len(lr.Report.Findings) == 0:
		t.Errorf("report: %d findings over Jaeger, %d from the store", len(rr.Report.Findings), len(lr.Report.Findings))
	case rr.Report.Findings[0].Kind != lr.Report.Findings[0].Kind || rr.Report.Findings[0].Stage != lr.Report.Findings[0].Stage:
		t.Errorf("top finding over Jaeger %s %s, from the store %s %s", rr.Report.Findings[0].Kind, rr.Report.Findings[0].Stage,
			lr.Report.Findings[0].Kind, lr.Report.Findings[0].Stage)
	case len(rr.Report.WhatIf) == 0 || len(rr.Report.WhatIf) != len(lr.Report.WhatIf):
		t.Errorf("what-if: %d rows over Jaeger, %d from the store", len(rr.Report.WhatIf), len(lr.Report.WhatIf))
	}

	// Compare runs over Jaeger, on both sides' traces.
	// (Only what is compared is decoded: a side's typical trace is absent
	// as an id of zeros.)
	type compareAnswer struct {
		Baseline   handlers.Sample `json:"baseline_sample"`
		Candidate  handlers.Sample `json:"candidate_sample"`
		Comparison *struct {
			Stages      []struct{ Stage string } `json:"stages"`
			Regressions []string                 `json:"regressions"`
		} `json:"comparison"`
	}
	var rc, lc compareAnswer
	remote.getJSON(t, "/api/compare?"+f.compare, &rc)
	local.getJSON(t, "/api/compare?"+f.compare, &lc)
	if rc.Baseline.Source != "jaeger" || rc.Comparison == nil || lc.Comparison == nil || len(rc.Comparison.Stages) == 0 ||
		rc.Baseline.TracesAnalysed != lc.Baseline.TracesAnalysed || rc.Candidate.TracesAnalysed != lc.Candidate.TracesAnalysed ||
		rc.Baseline.TracesAnalysed == 0 || rc.Candidate.TracesAnalysed == 0 ||
		!slices.Equal(rc.Comparison.Regressions, lc.Comparison.Regressions) || !sameJSON(rc.Comparison.Stages, lc.Comparison.Stages) {
		t.Errorf("compare over Jaeger %+v %+v %+v, from the store %+v %+v %+v", rc.Baseline, rc.Candidate, rc.Comparison, lc.Baseline, lc.Candidate, lc.Comparison)
	}

	checkPagesInBrowser(t, f.chromium, remote, f.some[0], f.compare)
}

// checkPagesInBrowser opens every page of the dashboard over the Jaeger
// source in a real Chromium and checks that each renders without an error,
// names its source, and shows what it is for.
func checkPagesInBrowser(t *testing.T, bin string, s *serveProcess, traceID, compare string) {
	if bin == "" {
		t.Log("STAGESCOPE_CHROMIUM is not set: the pages are not checked in a browser")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1400, 1000))...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	var problems []string
	var mu sync.Mutex
	console := chromedp.Console(bctx)
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[int](`1`)); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	go func() {
		for m, err := range console {
			if err != nil {
				return
			}
			switch m.Type {
			case chromedp.ConsoleError, chromedp.ConsoleWarning, chromedp.ConsoleException:
				mu.Lock()
				problems = append(problems, fmt.Sprintf("%s: %s (%s)", m.Type, m.Text, m.URL))
				mu.Unlock()
			}
		}
	}()
	for _, pg := range []struct {
		route, page, selector, want string
	}{
		{"overview?range=1h", "overview", ".stages-table tbody tr", ""},
		{"traces?range=1h", "traces", "#view table tbody tr", ""},
		{"trace/" + traceID, "trace", "#view", traceID[:8]},
		{"bottlenecks?range=1h", "bottlenecks", "#findings li", "What if"},
		{"compare?" + compare, "compare", "#view table tbody tr", ""},
	} {
		if err := chromedp.Do(bctx, chromedp.Navigate(s.url+"/#/"+pg.route)); err != nil {
			t.Fatalf("open %s: %v", pg.route, err)
		}
		state, err := chromedp.Run(bctx, chromedp.Poll[string](fmt.Sprintf(
			`document.body.dataset.page === %q && document.body.dataset.state !== 'loading' && document.body.dataset.state`, pg.page)))
		text, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById('view').textContent`))
		if err != nil || state != "ready" {
			t.Errorf("page %s: state %q (%v): %.500s", pg.route, state, err, text)
			continue
		}
		n, err := chromedp.Run(bctx, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, pg.selector)))
		if err != nil || n == 0 {
			t.Errorf("page %s shows no %s: %.500s", pg.route, pg.selector, text)
		}
		if pg.want != "" && !strings.Contains(text, pg.want) {
			t.Errorf("page %s lacks %q: %.500s", pg.route, pg.want, text)
		}
		line, err := chromedp.Run(bctx, chromedp.Poll[string](`document.getElementById('source-line').dataset.source && document.getElementById('source-line').textContent`))
		if err != nil || line != "Source: Jaeger (read-only; runs live in the local store) · stage aggregates from Prometheus spanmetrics" {
			t.Errorf("page %s: source line %q (%v)", pg.route, line, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Errorf("in the browser: %s", p)
	}
}

func seriesTotals(s handlers.Series) (traces, errs int64) {
	for _, p := range s.Points {
		traces += p.Traces
		errs += p.Errors
	}
	return traces, errs
}

func listIDs(l handlers.TraceList) []string {
	ids := make([]string, 0, len(l.Traces))
	for _, r := range l.Traces {
		ids = append(ids, r.TraceID)
	}
	slices.Sort(ids)
	return ids
}

func sameJSON(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}

// fromMillis turns the API's milliseconds (whole microseconds) back into a
// duration.
func fromMillis(ms float64) time.Duration {
	return time.Duration(math.Round(ms*1e3)) * time.Microsecond
}

// inBucket reports whether got, a percentile interpolated in the shipped
// histogram, lies in the bucket (lo, hi] of the exact value — or of the
// exact value plus the microsecond Jaeger may have cut from it.
func inBucket(bounds []time.Duration, got, exact time.Duration) (lo, hi time.Duration, ok bool) {
	lo, _ = bucketOf(bounds, exact)
	_, hi = bucketOf(bounds, exact+time.Microsecond)
	return lo, hi, got >= lo && got <= hi
}
