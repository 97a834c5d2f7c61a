package handlers_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/handlers"
	"github.com/stagescope/stagescope/spans"
)

// browserTimeout bounds the whole browser test (a guard, not an assertion).
const browserTimeout = 100 * time.Second

// chromium returns the browser binary from STAGESCOPE_CHROMIUM, skipping the
// test when it is unset (failing instead under STAGESCOPE_REQUIRE_ALL=1).
func chromium(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("STAGESCOPE_CHROMIUM")
	if bin == "" {
		if os.Getenv("STAGESCOPE_REQUIRE_ALL") == "1" {
			t.Fatal("STAGESCOPE_CHROMIUM is not set and STAGESCOPE_REQUIRE_ALL=1")
		}
		t.Skip("STAGESCOPE_CHROMIUM is not set (path of a chromium binary)")
	}
	return bin
}

// artifacts returns the directory for screenshots.
func artifacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("STAGESCOPE_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	} else {
		dir = filepath.Join(dir, "dashboard")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

// browserProblems collects what must not happen in the page: console
// errors and warnings, uncaught exceptions, log entries of level error
// (CSP violations, failed loads) and dialogs (alert would mean injected
// script ran).
type browserProblems struct {
	mu   sync.Mutex
	list []string
}

func (b *browserProblems) add(format string, args ...any) {
	b.mu.Lock()
	b.list = append(b.list, fmt.Sprintf(format, args...))
	b.mu.Unlock()
}

func (b *browserProblems) take() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	l := b.list
	b.list = nil
	return l
}

func TestDashboardInBrowser(t *testing.T) {
	bin := chromium(t)
	s := newSeeded(t, handlers.WithJaegerUI("http://127.0.0.1:16686"), handlers.WithLivePoll(50*time.Millisecond))
	b0 := startBrowser(t, bin, s)

	t.Run("overview", func(t *testing.T) {
		b := b0.with(t)
		b.open("overview", "overview")
		b.waitFor("six charts", `document.querySelectorAll('.uplot').length === 6`)
		if got := b.text(`.stat[data-stat="traces"] .stat-value`); got != fmt.Sprint(seedTotal) {
			t.Errorf("traces card %q, want %d", got, seedTotal)
		}
		if n := b.count(`.stages-table tbody tr[data-stage="rerank"]`); n != 1 {
			t.Errorf("stage rows for rerank: %d", n)
		}
		b.shot("overview")
		b.checkClean("overview")
	})

	t.Run("traces and filters", func(t *testing.T) {
		b := b0.with(t)
		b.open("traces", "traces")
		if n := b.count(".traces-table tbody tr"); n != seedTotal {
			t.Errorf("%d rows, want %d", n, seedTotal)
		}
		names := b.evalStrings(`[...document.querySelectorAll('.trace-name')].map(a => a.textContent)`)
		if !contains(names, nameSlow) || !contains(names, nameHostile) {
			t.Errorf("list lacks %q or the hostile name: %v", nameSlow, names)
		}
		// Filter by status through the form.
		b.setValue(`select[name="status"]`, "error")
		b.click(`#trace-filters button[type="submit"]`)
		b.waitFor("the error filter", fmt.Sprintf(`location.hash.includes('status=error') && document.body.dataset.state === 'ready' && document.querySelectorAll('.traces-table tbody tr').length === %d`, seedFailing))
		names = b.evalStrings(`[...document.querySelectorAll('.trace-name')].map(a => a.textContent)`)
		for _, n := range names {
			if n != nameFailing {
				t.Errorf("status=error shows %q", n)
			}
		}
		b.shot("traces-status-error")
		// Add a stage that no trace has: nothing left.
		b.setValue(`select[name="stage"]`, "tool")
		b.click(`#trace-filters button[type="submit"]`)
		b.waitFor("the stage filter", `location.hash.includes('stage=tool') && document.body.dataset.state === 'ready' && document.querySelectorAll('.traces-table tbody tr').length === 0 && document.querySelector('#trace-list').textContent.includes('No traces match')`)
		// Name filter from the URL.
		b.open("traces?name=slow", "traces")
		if n := b.count(".traces-table tbody tr"); n != seedSlow {
			t.Errorf("name=slow: %d rows, want %d", n, seedSlow)
		}
		b.checkClean("traces")
	})

	t.Run("trace waterfall", func(t *testing.T) {
		b := b0.with(t)
		id := s.ids["slow"][0].String()
		b.open("traces?name=slow", "traces")
		b.click(fmt.Sprintf(`tr[data-trace-id=%q] a.trace-name`, id))
		b.waitFor("the trace page", `document.body.dataset.page === 'trace' && document.body.dataset.state === 'ready'`)
		if n := b.count(".wf-row.span-row"); n != spansPerRAG {
			t.Errorf("%d waterfall rows, want %d", n, spansPerRAG)
		}
		if n := b.count(".wf-bar"); n != spansPerRAG {
			t.Errorf("%d bars, want %d", n, spansPerRAG)
		}
		// The critical path is one line through embed, retrieve, rerank and
		// llm, not a mark per row.
		b.waitFor("the critical path", `document.querySelectorAll('#wf-critical').length === 1 && document.querySelector('#wf-critical').getAttribute('d') !== ''`)
		visited := b.evalStrings(`document.querySelector('#wf-critical').dataset.spans.split(',').map(id => document.querySelector('.wf-row[data-span-id="' + id + '"]').dataset.stage)`)
		if got := strings.Join(visited, ","); got != "embed,retrieve,rerank,synth,llm,synth" {
			t.Errorf("critical path visits %s, want embed,retrieve,rerank,synth,llm,synth (synth waits 1 ms before and after its call)", got)
		}
		if n := b.count(".cp-dot, .wf-cp"); n != 0 {
			t.Errorf("%d per-row critical-path marks, want none", n)
		}
		width, err := chromedp.Run(b.ctx, chromedp.Evaluate[float64](`parseFloat(document.querySelector('.wf-row[data-stage="rerank"] .wf-bar').style.width)`))
		if err != nil {
			t.Fatal(err)
		}
		if want := 100 * float64(slowRerankMs) / (10 + 30 + slowRerankMs + 40); width < want-0.5 || width > want+0.5 {
			t.Errorf("rerank bar width %.2f%%, want %.2f%%", width, want)
		}
		href := b.evalStrings(`[document.querySelector('#open-jaeger').getAttribute('href')]`)[0]
		if href != "http://127.0.0.1:16686/trace/"+id {
			t.Errorf("jaeger link %q", href)
		}
		b.click(`.wf-row[data-stage="llm"]`)
		b.waitFor("span details", `document.querySelector('#span-details .detail-name').textContent === 'chat completion'`)
		details := b.text("#span-details")
		for _, want := range []string{"gpt-4o-mini", "900", "120", spans.KeyLLMPromptTokens} {
			if !strings.Contains(details, want) {
				t.Errorf("llm details lack %q: %.300s", want, details)
			}
		}
		// The streamed call shows its time to first token (15 ms of 38)
		// in the details and as a mark on its bar.
		if got := b.text("#span-details .first-token"); !strings.Contains(got, "Time to first token15.0 ms") || !strings.Contains(got, "Stream after first token23.0 ms") {
			t.Errorf("first token details %q", got)
		}
		if n := b.count(`.wf-row[data-stage="llm"] .wf-ttft`); n != 1 {
			t.Errorf("%d first-token marks on the llm bar, want 1", n)
		}
		b.shot("trace-waterfall")
		b.checkClean("trace")
	})

	t.Run("hostile names are text", func(t *testing.T) {
		b := b0.with(t)
		id := s.ids["hostile"][0].String()
		b.open("trace/"+id, "trace")
		if got := b.text(".trace-title"); got != nameHostile {
			t.Errorf("title %q, want %q", got, nameHostile)
		}
		if n := b.count("#view img, #view script"); n != 0 {
			t.Errorf("%d img/script elements made from data", n)
		}
		if d := b.text("#span-details"); !strings.Contains(d, attrHostile) {
			t.Errorf("root attributes lack the hostile value as text: %.300s", d)
		}
		if b.evalInt(`document.querySelector('.trace-title').getBoundingClientRect().height`) <= 0 {
			t.Error("hostile title not visible")
		}
		b.open("traces?service=hostile", "traces")
		if got := b.text(".trace-name"); got != nameHostile {
			t.Errorf("list shows %q", got)
		}
		if n := b.count("#view img"); n != 0 {
			t.Errorf("%d img elements in the list", n)
		}
		b.shot("hostile-name")
		b.checkClean("hostile")
	})

	t.Run("bottlenecks", func(t *testing.T) {
		b := b0.with(t)
		b.open("bottlenecks", "bottlenecks")
		if n := b.count("#findings > li"); n == 0 {
			t.Fatal("no findings shown")
		}
		if n := b.count("#findings a.exemplar"); n == 0 {
			t.Error("no exemplar trace links")
		}
		if got := b.text("#report-scope"); !strings.Contains(got, fmt.Sprintf("%d traces analysed", seedTotal)) {
			t.Errorf("scope line %q", got)
		}
		if n := b.count(".finding-rec"); n == 0 {
			t.Error("no recommendation shown")
		}
		b.shot("bottlenecks")
		b.checkClean("bottlenecks")
	})

	t.Run("compare windows by default", func(t *testing.T) {
		b := b0.with(t)
		// The default splits the selected window (the last hour, which
		// holds the seeded traces) in two halves: both have traces.
		b.open("compare", "compare")
		if strings.Contains(b.viewText(), "One side has no traces") || b.count("#compare-verdict") != 1 {
			t.Errorf("the default comparison is empty:\n%.600s", b.viewText())
		}
		// Every datetime input shows its whole value.
		if cut := b.evalInt(`[...document.querySelectorAll('input[type="datetime-local"]')].filter(i => i.scrollWidth > i.clientWidth + 1).length`); cut != 0 {
			t.Errorf("%d datetime inputs cut off", cut)
		}
		if n := b.count(`input[type="datetime-local"]`); n != 4 {
			t.Errorf("%d datetime inputs, want 4", n)
		}
		b.checkClean("compare")
	})

	t.Run("compare runs", func(t *testing.T) {
		b := b0.with(t)
		b.open("compare?mode=runs&base_run="+runBase+"&cand_run="+runCand, "compare")
		if got := b.text("#compare-verdict"); !strings.Contains(got, "llm") {
			t.Errorf("verdict %q, want llm regressed", got)
		}
		if got := b.text(`.compare-table tr[data-stage="llm"]`); !strings.Contains(got, "regressed") {
			t.Errorf("llm row %q", got)
		}
		if got := b.text(`[data-side="candidate"] .side-traces`); got != fmt.Sprint(seedRun) {
			t.Errorf("candidate traces %q", got)
		}
		// The runs' configs differ in the model: one row, values as text.
		if n := b.count("#config-diff tbody tr"); n != 1 {
			t.Errorf("%d config diff rows, want 1", n)
		}
		if got := b.text("#config-diff tbody tr"); !strings.Contains(got, "llm.model") || !strings.Contains(got, `"small"`) || !strings.Contains(got, `"large"`) {
			t.Errorf("config diff row %q", got)
		}
		// The regressed stage links a typical trace of each side.
		if n := b.count(`.compare-table tr[data-stage="llm"] a.exemplar`); n != 2 {
			t.Errorf("%d typical trace links in the llm row, want 2", n)
		}
		if got := b.text("#compare-rule"); !strings.Contains(got, "max(10 % of the baseline, 1.00 ms)") {
			t.Errorf("rule %q", got)
		}
		b.shot("compare-runs")
		b.checkClean("compare")
	})

	t.Run("runs", func(t *testing.T) {
		b := b0.with(t)
		b.open("runs", "runs")
		if n := b.count(".runs-table tbody tr"); n != 2 {
			t.Errorf("%d runs, want 2", n)
		}
		b.waitFor("the Pareto chart", `document.querySelectorAll('.uplot').length === 1`)
		if n := b.count(".badge.pareto"); n != 2 {
			t.Errorf("%d runs on the Pareto front, want 2", n)
		}
		b.shot("runs")
		b.checkClean("runs")
	})

	t.Run("service picker", func(t *testing.T) {
		b := b0.with(t)
		b.open("overview", "overview")
		b.waitFor("the service list", `document.querySelector('#service').dataset.state === 'ready'`)
		opts := b.evalStrings(`[...document.querySelectorAll('#service option')].map(o => o.value + '=' + (o.dataset.traces || ''))`)
		if want := []string{"=", "hostile=1", fmt.Sprintf("rag-api=%d", seedTotal-1)}; fmt.Sprint(opts) != fmt.Sprint(want) {
			t.Errorf("picker offers %v, want %v", opts, want)
		}
		if got := b.text(`.stat[data-stat="traces"] .stat-value`); got != fmt.Sprint(seedTotal) {
			t.Fatalf("traces card %q before picking, want %d", got, seedTotal)
		}
		p99All := b.text(`.stat[data-stat="p99"] .stat-value`)
		rerankRow := `.stages-table tbody tr[data-stage="rerank"] td:nth-child(2)`
		if got := b.text(rerankRow); got != fmt.Sprint(seedTotal) {
			t.Errorf("rerank spans %q before picking, want %d", got, seedTotal)
		}
		// Pick the hostile service: every number is now that one trace's.
		b.pick("#service", "hostile")
		b.waitFor("the overview of hostile", `location.hash.includes('service=hostile') && document.body.dataset.state === 'ready' && document.querySelector('.stat[data-stat="traces"] .stat-value').textContent === '1'`)
		if got := b.text(rerankRow); got != "1" {
			t.Errorf("rerank spans of hostile %q, want 1", got)
		}
		// One 100 ms trace: p50 and p99 are the middle of the histogram
		// bucket that holds 100 ms (98.9 ms); before, p99 was a slow trace's.
		for _, stat := range []string{"p50", "p99"} {
			if got := b.text(`.stat[data-stat="` + stat + `"] .stat-value`); got != "98.9 ms" {
				t.Errorf("%s of hostile %q, want 98.9 ms", stat, got)
			}
		}
		if p99All == "98.9 ms" {
			t.Errorf("p99 of every service %q: the slow traces are missing", p99All)
		}
		if got := b.text(`.stat[data-stat="error-rate"] .stat-value`); got != "0.0 %" {
			t.Errorf("error rate of hostile %q, want 0.0 %%", got)
		}
		b.shot("overview-service")
		// The choice is in the URL: the navigation keeps it and a reload
		// restores it.
		b.click(`#nav a[data-page="traces"]`)
		b.waitFor("the traces of hostile", `document.body.dataset.page === 'traces' && document.body.dataset.state === 'ready' && location.hash.includes('service=hostile')`)
		if n := b.count(".traces-table tbody tr"); n != 1 {
			t.Errorf("%d traces listed for hostile, want 1", n)
		}
		if got := b.text(".trace-name"); got != nameHostile {
			t.Errorf("trace of hostile %q", got)
		}
		b.open("bottlenecks?service=hostile", "bottlenecks")
		if v := b.evalStrings(`[document.querySelector('#service').value]`)[0]; v != "hostile" {
			t.Errorf("after a reload the picker shows %q, want hostile", v)
		}
		if got := b.text("#report-scope"); !strings.Contains(got, "1 traces analysed") || !strings.Contains(got, "service hostile") {
			t.Errorf("report scope of hostile %q", got)
		}
		// The failing traces are all rag-api's: its error rate is theirs.
		b.open("overview", "overview")
		b.pick("#service", "rag-api")
		b.waitFor("the overview of rag-api", fmt.Sprintf(`location.hash.includes('service=rag-api') && document.body.dataset.state === 'ready' && document.querySelector('.stat[data-stat="traces"] .stat-value').textContent === '%d'`, seedTotal-1))
		if got, want := b.text(`.stat[data-stat="error-rate"] .stat-value`), fmt.Sprintf("%.1f %%", 100*float64(seedFailing)/float64(seedTotal-1)); got != want {
			t.Errorf("error rate of rag-api %q, want %q", got, want)
		}
		// Back to every service.
		b.pick("#service", "")
		b.waitFor("the overview of all", fmt.Sprintf(`!location.hash.includes('service=') && document.body.dataset.state === 'ready' && document.querySelector('.stat[data-stat="traces"] .stat-value').textContent === '%d'`, seedTotal))
		b.checkClean("service picker")
	})

	t.Run("live", func(t *testing.T) {
		b := b0.with(t)
		b.open("live", "live")
		b.waitFor("the stream", `document.querySelector('#live-status').textContent === 'connected'`)
		id := spans.NewTraceID()
		code, _, body := s.do(http.MethodPost, "/v1/traces", strings.NewReader(otlpJSON(id, "arrived in the browser", time.Now())), "Content-Type", "application/json")
		if code != http.StatusOK {
			t.Fatalf("ingest: %d %s", code, body)
		}
		b.waitFor("the new trace", fmt.Sprintf(`!!document.querySelector('#live-list tr[data-trace-id=%q]')`, id.String()))
		if got := b.text("#live-list .trace-name"); got != "arrived in the browser" {
			t.Errorf("live row %q", got)
		}
		b.shot("live")
		b.checkClean("live")
		// Leaving the page closes the stream.
		b.open("overview", "overview")
	})

	for _, d := range b0.dialogs.take() {
		t.Errorf("a script ran: %s", d)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// With a token, the dashboard asks for it once, then works on its session
// cookie, the live stream included.
func TestDashboardSignInInBrowser(t *testing.T) {
	bin := chromium(t)
	s := newSeeded(t, handlers.WithToken(token), handlers.WithLivePoll(50*time.Millisecond))
	b := startBrowser(t, bin, s)
	if err := chromedp.Do(b.ctx, chromedp.Navigate(s.ts.URL+"/#/traces")); err != nil {
		t.Fatal(err)
	}
	b.waitFor("the sign-in dialog", `document.querySelector('#login').open`)
	b.setValue("#login-token", "wrong")
	b.click(`#login-form button[type="submit"]`)
	b.waitFor("the refusal", `!document.querySelector('#login-error').hidden && document.querySelector('#login-error').textContent.includes('wrong token')`)
	b.setValue("#login-token", token)
	b.click(`#login-form button[type="submit"]`)
	b.ready("traces", "traces")
	if n := b.count(".traces-table tbody tr"); n != seedTotal {
		t.Errorf("%d rows after sign-in, want %d", n, seedTotal)
	}
	b.open("live", "live")
	b.waitFor("the stream", `document.querySelector('#live-status').textContent === 'connected'`)
	// The browser reports the refused requests before sign-in; nothing else
	// may appear.
	b.checkClean("sign-in", func(p string) bool { return strings.Contains(p, "status of 401") })
}

// A search the store stopped at its scan budget says so, and the button
// continues it from where it stopped until the matches appear.
func TestDashboardSearchesFurtherInBrowser(t *testing.T) {
	bin := chromium(t)
	s, starts, _ := newBigStore(t)
	b := startBrowser(t, bin, s)
	b.open("traces?status=error", "traces")
	if n := b.count(".traces-table tbody tr"); n != 0 {
		t.Fatalf("%d rows on the first page, want none (the failed traces are the oldest)", n)
	}
	if got := b.text("#trace-list"); !strings.Contains(got, "No match among the traces searched so far") {
		t.Errorf("empty partial page says %q", got)
	}
	stop := starts[len(starts)-collector.TraceScanBudget]
	wantText := b.evalStrings(fmt.Sprintf(`[(() => { const d = new Date(%d); const p = (n, w = 2) => String(n).padStart(w, '0');
		return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + ' ' + p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds()) + '.' + p(d.getMilliseconds(), 3); })()]`, stop.UnixMilli()))[0]
	if got := b.text("#trace-scanned"); !strings.Contains(got, "Searched traces back to "+wantText) {
		t.Errorf("scan note %q, want it to say back to %s", got, wantText)
	}
	if got := b.text("#load-more"); got != "Search further back" {
		t.Errorf("button %q", got)
	}
	b.click("#load-more")
	b.waitFor("the failed traces", `document.querySelectorAll('.traces-table tbody tr').length === 2`)
	if n := b.count(`.traces-table tbody tr[data-status="error"]`); n != 2 {
		t.Errorf("%d error rows after searching further, want 2", n)
	}
	if b.evalInt(`document.querySelector('#trace-scanned').hidden ? 1 : 0`) != 1 || b.evalInt(`document.querySelector('#load-more').hidden ? 1 : 0`) != 1 {
		t.Error("the scan note or the button is still shown after the search ended")
	}
	if got := b.text("#trace-count"); got != "2 traces" {
		t.Errorf("count %q, want 2 traces", got)
	}
	b.shot("traces-searched-further")
	b.checkClean("search further")
}
