package prom_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/collector/jaeger/jaegertest"
	"github.com/stagescope/stagescope/collector/prom"
	"github.com/stagescope/stagescope/spans"
	"github.com/stagescope/stagescope/tools/deploy/deploytest"
)

// exposition is a scrape target whose series the test sets: what a
// collector's prometheus exporter shows for the spanmetrics connector.
type exposition struct {
	mu   sync.Mutex
	text string
}

func (e *exposition) set(text string) { e.mu.Lock(); e.text = text; e.mu.Unlock() }

func (e *exposition) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	fmt.Fprint(w, e.text)
}

// spanSeries renders one spanmetrics label set: calls by status and a
// histogram (cumulative counts at 10 ms, 100 ms, 1 s, +Inf; sum in s).
func spanSeries(ns, labels string, ok, failed int, cum [4]int, sum float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s_calls_total{%s,status_code=\"STATUS_CODE_UNSET\"} %d\n", ns, labels, ok)
	if failed > 0 {
		fmt.Fprintf(&b, "%s_calls_total{%s,status_code=\"STATUS_CODE_ERROR\"} %d\n", ns, labels, failed)
	}
	for i, le := range []string{"0.01", "0.1", "1", "+Inf"} {
		fmt.Fprintf(&b, "%s_duration_seconds_bucket{%s,le=\"%s\"} %d\n", ns, labels, le, cum[i])
	}
	fmt.Fprintf(&b, "%s_duration_seconds_sum{%s} %g\n", ns, labels, sum)
	fmt.Fprintf(&b, "%s_duration_seconds_count{%s} %d\n", ns, labels, cum[3])
	return b.String()
}

const (
	native = `service_name="rag",span_name="retrieve",stagescope_stage="retrieve",stagescope_run_id="run-1"`
	oi     = `service_name="lc",span_name="VectorStoreRetriever",openinference_span_kind="RETRIEVER"`
	chat   = `service_name="lc",span_name="chat gpt-4o",gen_ai_operation_name="chat"`
	root   = `service_name="rag",span_name="query",stagescope_stage="query"`
)

func startPrometheus(t *testing.T, targets ...string) *deploytest.Prometheus {
	t.Helper()
	bin := os.Getenv(deploytest.EnvPrometheus)
	if bin == "" {
		if os.Getenv(jaegertest.EnvRequireAll) == "1" {
			t.Fatalf("Prometheus is required: %s is not set", deploytest.EnvPrometheus)
		}
		t.Skipf("no Prometheus: %s is not set", deploytest.EnvPrometheus)
	}
	cfg := "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: spanmetrics\n    static_configs:\n      - targets: [" + strings.Join(targets, ", ") + "]\n"
	p, err := deploytest.StartPrometheus(bin, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return p
}

// scraped waits until Prometheus' latest sample of the calls of the
// native series is want, and returns the time it saw it.
func scraped(t *testing.T, r *prom.Reader, want int64) time.Time {
	t.Helper()
	var got []collector.StageStats
	var err error
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		now := time.Now()
		got, err = r.StageBreakdown(context.Background(), time.Time{}, now, "run-1")
		if err == nil && len(got) == 1 && got[0].Count == want {
			return now
		}
	}
	t.Fatalf("Prometheus never showed %d calls of run-1: %+v, %v", want, got, err)
	return time.Time{}
}

func TestReaderAgainstPrometheus(t *testing.T) {
	var target exposition
	ns, rootNS := prom.DefaultSpanNamespace, prom.DefaultRootNamespace
	// Phase A: only the per-span series (no root connector yet).
	target.set(spanSeries(ns, native, 10, 2, [4]int{3, 12, 12, 12}, 0.5))
	srv := httptest.NewServer(&target)
	defer srv.Close()
	p := startPrometheus(t, strings.TrimPrefix(srv.URL, "http://"))
	r, err := prom.New(p.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	from := scraped(t, r, 12)

	// Without the root series, health says which connector is missing;
	// the stage breakdown still works.
	if err := r.Health(ctx); !errors.Is(err, prom.ErrNoSpanMetrics) || !strings.Contains(err.Error(), "spanmetrics/roots") {
		t.Errorf("health without root series: %v", err)
	}
	if _, err := r.Timeseries(ctx, from.Add(-time.Minute), from, time.Minute); !errors.Is(err, prom.ErrNoSpanMetrics) {
		t.Errorf("time series without root series: %v", err)
	}

	// Phase B: the native series grows; an OpenInference retriever and a
	// GenAI chat call appear; the root series appear.
	target.set(spanSeries(ns, native, 16, 3, [4]int{5, 17, 19, 19}, 1.25) +
		spanSeries(ns, oi, 4, 0, [4]int{0, 4, 4, 4}, 0.2) +
		spanSeries(ns, chat, 1, 1, [4]int{0, 0, 2, 2}, 1.5) +
		spanSeries(rootNS, root, 6, 1, [4]int{0, 0, 7, 7}, 3.5))
	to := scraped(t, r, 19)
	if err := r.Health(ctx); err != nil {
		t.Fatalf("health: %v", err)
	}

	got, err := r.StageBreakdown(ctx, from, to, "")
	if err != nil {
		t.Fatal(err)
	}
	// retrieve: native +7 (1 error) and OpenInference 4, both mapped by
	// semconv.Stage; llm: the chat call (1 error); query: the root series.
	want := []collector.StageStats{
		{Stage: spans.StageRetrieve, Count: 11, Errors: 1, Total: 950 * time.Millisecond},
		{Stage: spans.StageLLM, Count: 2, Errors: 1, Total: 1500 * time.Millisecond},
	}
	if len(got) != len(want) {
		t.Fatalf("breakdown %+v, want stages %v", got, want)
	}
	for i, w := range want {
		g := got[i]
		if g.Stage != w.Stage || g.Count != w.Count || g.Errors != w.Errors || absDur(g.Total-w.Total) > time.Microsecond {
			t.Errorf("stage %d: %+v, want %+v", i, g, w)
		}
		if g.Self != 0 || g.SelfP95 != 0 || g.SelfShare != 0 {
			t.Errorf("stage %s: self figures %v %v %v, want 0 (not in spanmetrics)", g.Stage, g.Self, g.SelfP95, g.SelfShare)
		}
	}
	// retrieve's increases per bucket: ≤10ms 2+0, ≤100ms 5+4, ≤1s 7+4, of
	// 11. p50: rank 5.5, in (10ms, 100ms] 3.5 past 2 of 7 → 55 ms.
	// p95: rank 10.45, in (100ms, 1s]: 1.45 of 2 past 9 → 752.5 ms.
	checkDur(t, "retrieve p50", got[0].P50, 55*time.Millisecond)
	checkDur(t, "retrieve p95", got[0].P95, 752500*time.Microsecond)
	// llm: both in (100ms, 1s]; p50 rank 1 of 2 → 550 ms.
	checkDur(t, "llm p50", got[1].P50, 550*time.Millisecond)

	// One run: only the native series carries run-1.
	run, err := r.StageBreakdown(ctx, from, to, "run-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(run) != 1 || run[0].Stage != spans.StageRetrieve || run[0].Count != 7 || run[0].Errors != 1 {
		t.Errorf("run-1: %+v, want retrieve 7 spans 1 error", run)
	}
	// A run id that would break out of the selector is just a value.
	if run, err := r.StageBreakdown(ctx, from, to, `x"} or vector(1) or {a="`); err != nil || len(run) != 0 {
		t.Errorf("hostile run id: %+v, %v", run, err)
	}
	// From the series' start: the values at to.
	all, err := r.StageBreakdown(ctx, time.Time{}, to, "")
	if err != nil || len(all) != 2 || all[0].Count != 23 || all[1].Count != 2 {
		t.Errorf("from the start: %+v, %v", all, err)
	}

	// Phase C: a collector restart — every counter starts again, lower.
	// The time series reads values at step boundaries; phase B must be the
	// latest sample at one of them, so C waits for the first boundary of the
	// time series' grid (from-2s + k·1s) after phase B was seen.
	grid := from.Add(-2 * time.Second)
	boundary := grid.Add(to.Sub(grid).Truncate(time.Second) + time.Second)
	time.Sleep(time.Until(boundary.Add(50 * time.Millisecond)))
	target.set(spanSeries(ns, native, 2, 0, [4]int{1, 2, 2, 2}, 0.05) +
		spanSeries(rootNS, root, 3, 0, [4]int{0, 0, 3, 3}, 0.9))
	after := scraped(t, r, 2)
	got, err = r.StageBreakdown(ctx, to, after, "")
	if err != nil || len(got) != 1 || got[0].Count != 2 || got[0].Errors != 0 {
		t.Errorf("after a reset: %+v, %v; want retrieve 2 spans", got, err)
	}

	// The root series: 7 traces (1 failed) in phase B, 3 after the reset.
	pts, err := r.Timeseries(ctx, from.Add(-2*time.Second), after.Add(time.Second), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var traces, failed int64
	var tput float64
	for _, pt := range pts {
		traces += pt.Traces
		failed += pt.Errors
		tput += pt.Throughput
		if pt.Traces > 0 && (pt.P50 <= 100*time.Millisecond || pt.P50 > time.Second) {
			t.Errorf("point %v: p50 %v outside the only filled bucket (100ms, 1s]", pt.Start, pt.P50)
		}
		if pt.Drops != 0 {
			t.Errorf("point %v: drops %d, want 0", pt.Start, pt.Drops)
		}
	}
	if traces != 10 || failed != 1 || tput != 10 {
		t.Errorf("time series: %d traces, %d failed, throughput sum %v; want 10, 1, 10", traces, failed, tput)
	}
	if !pts[0].Start.Equal(from.Add(-2 * time.Second)) {
		t.Errorf("first point starts %v, want %v", pts[0].Start, from.Add(-2*time.Second))
	}
}

func TestReaderWithoutSpanMetrics(t *testing.T) {
	p := startPrometheus(t) // scrapes nothing
	r, err := prom.New(p.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for name, err := range map[string]error{
		"health":     r.Health(context.Background()),
		"breakdown":  second(r.StageBreakdown(context.Background(), time.Time{}, time.Time{}, "")),
		"timeseries": second(r.Timeseries(context.Background(), time.Now().Add(-time.Hour), time.Now(), time.Minute)),
	} {
		if !errors.Is(err, prom.ErrNoSpanMetrics) || !strings.Contains(err.Error(), "spanmetrics connector") || !strings.Contains(err.Error(), p.URL) {
			t.Errorf("%s: %v, want ErrNoSpanMetrics naming the connector and %s", name, err, p.URL)
		}
	}
}

func TestReaderErrors(t *testing.T) {
	ctx := context.Background()

	// Nothing listens.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + l.Addr().String()
	l.Close()
	r, _ := prom.New(down)
	defer r.Close()
	if err := r.Health(ctx); !errors.Is(err, prom.ErrUnavailable) || !strings.Contains(err.Error(), "cannot reach "+down) {
		t.Errorf("down: %v", err)
	}

	// A server that never answers: the timeout ends the wait.
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		select {
		case <-req.Context().Done():
		case <-release:
		}
	}))
	defer slow.Close()
	defer close(release)
	r, _ = prom.New(slow.URL, prom.WithTimeout(300*time.Millisecond))
	defer r.Close()
	if _, err := r.StageBreakdown(ctx, time.Time{}, time.Time{}, ""); !errors.Is(err, prom.ErrUnavailable) || !strings.Contains(err.Error(), "did not answer within 300ms") {
		t.Errorf("slow: %v", err)
	}

	// Something that is not Prometheus.
	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "<html>login</html>")
	}))
	defer html.Close()
	r, _ = prom.New(html.URL)
	defer r.Close()
	if err := r.Health(ctx); !errors.Is(err, prom.ErrUnavailable) || !strings.Contains(err.Error(), "not Prometheus' API") {
		t.Errorf("not Prometheus: %v", err)
	}

	// Prometheus' own error answer.
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusUnprocessableEntity)
		fmt.Fprint(w, `{"status":"error","errorType":"execution","error":"query processing would load too many samples"}`)
	}))
	defer bad.Close()
	r, _ = prom.New(bad.URL)
	defer r.Close()
	var qe *prom.QueryError
	if err := r.Health(ctx); !errors.As(err, &qe) || qe.Code != 422 || qe.ErrorType != "execution" || !strings.Contains(qe.Message, "too many samples") {
		t.Errorf("query error: %v", err)
	}

	// An answer over the size limit.
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `{"status":"success","data":["`+strings.Repeat("x", 2000)+`"]}`)
	}))
	defer big.Close()
	r, _ = prom.New(big.URL, prom.WithMaxResponseBytes(1000))
	defer r.Close()
	if err := r.Health(ctx); !errors.Is(err, prom.ErrUnavailable) || !strings.Contains(err.Error(), "larger than 1000 bytes") {
		t.Errorf("too large: %v", err)
	}

	// Headers and the caller's client reach Prometheus.
	var gotAuth string
	auth := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		gotAuth = req.Header.Get("Authorization")
		fmt.Fprint(w, `{"status":"success","data":[]}`)
	}))
	defer auth.Close()
	client := &http.Client{}
	defer client.CloseIdleConnections()
	r, _ = prom.New(auth.URL+"/", prom.WithHeaders(map[string]string{"Authorization": "Bearer t0k"}), prom.WithHTTPClient(client))
	if err := r.Health(ctx); !errors.Is(err, prom.ErrNoSpanMetrics) || gotAuth != "Bearer t0k" {
		t.Errorf("with headers: %v, Authorization %q", err, gotAuth)
	}

	// Arguments.
	for _, u := range []string{"", "127.0.0.1:9090", "ftp://x", "http://"} {
		if _, err := prom.New(u); err == nil {
			t.Errorf("New(%q) accepted", u)
		}
	}
	if _, err := prom.New("http://x", prom.WithSpanNamespace(`a"}`)); err == nil {
		t.Error("a namespace that is not a metric name was accepted")
	}
	r, _ = prom.New(down)
	defer r.Close()
	if _, err := r.Timeseries(ctx, time.Now(), time.Now().Add(-time.Hour), time.Minute); err == nil {
		t.Error("a reversed window was accepted")
	}
	if _, err := r.Timeseries(ctx, time.Now().Add(-time.Hour), time.Now(), time.Millisecond); err == nil {
		t.Error("a 1 ms step was accepted")
	}
	if _, err := r.Timeseries(ctx, time.Now().Add(-30*24*time.Hour), time.Now(), time.Second); err == nil || !strings.Contains(err.Error(), "too long") {
		t.Errorf("too many steps: %v", err)
	}
}

func second[T any](_ T, err error) error { return err }

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func checkDur(t *testing.T, what string, got, want time.Duration) {
	t.Helper()
	if absDur(got-want) > time.Microsecond {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}
