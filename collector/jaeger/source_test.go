package jaeger_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/collector/jaeger"
	"github.com/stagescope/stagescope/collector/jaeger/jaegertest"
	"github.com/stagescope/stagescope/spans"
)

// pipelineTraces builds n three-span traces of service (query → retrieve,
// llm) starting every gap from base; every fifth trace's root fails.
func pipelineTraces(n int, service string, base time.Time, gap time.Duration) []jaeger.Trace {
	out := make([]jaeger.Trace, n)
	for i := range out {
		tid := spans.NewTraceID()
		at := base.Add(time.Duration(i) * gap).Truncate(time.Microsecond).UTC()
		mk := func(name string, st spans.Stage, parent spans.SpanID, from, to time.Duration) *spans.Span {
			return &spans.Span{TraceID: tid, SpanID: spans.NewSpanID(), ParentID: parent, Name: name, Stage: st,
				Start: at.Add(from), End: at.Add(to), Status: spans.StatusOK, Attrs: []spans.Attribute{spans.String(spans.KeyService, service)}}
		}
		root := mk("query", spans.StageQuery, spans.SpanID{}, 0, time.Duration(20+i%7)*time.Millisecond)
		if i%5 == 0 {
			root.Status, root.Err = spans.StatusError, "failed"
		}
		ret := mk("retrieve", spans.StageRetrieve, root.SpanID, time.Millisecond, 6*time.Millisecond)
		llm := mk("llm.chat", spans.StageLLM, root.SpanID, 6*time.Millisecond, time.Duration(19+i%7)*time.Millisecond)
		out[i] = jaeger.Trace{Spans: []*spans.Span{root, ret, llm}}
	}
	return out
}

// sendAndWait exports traces to Jaeger over OTLP and waits until each is
// readable whole.
func sendAndWait(t *testing.T, j *jaegertest.Instance, traces []jaeger.Trace) {
	t.Helper()
	exp, err := jaeger.NewOTLPExporter(context.Background(), j.OTLPURL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exp.Export(context.Background(), traces); err != nil {
		t.Fatal(err)
	}
	if err := exp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	qc, err := jaeger.NewQueryClient(j.QueryURL)
	if err != nil {
		t.Fatal(err)
	}
	defer qc.Close()
	for _, tr := range traces {
		waitTrace(t, qc, tr.ID(), len(tr.Spans))
	}
}

func newSource(t *testing.T, base string, opts ...jaeger.SourceOption) *jaeger.Source {
	t.Helper()
	qc, err := jaeger.NewQueryClient(base)
	if err != nil {
		t.Fatal(err)
	}
	src := jaeger.NewSource(qc, opts...)
	t.Cleanup(func() { src.Close(); qc.Close() })
	return src
}

// gate is a real HTTP proxy in front of Jaeger that holds find-traces
// queries until released (or their request ends), counting them: a slow
// Jaeger, made on purpose.
type gate struct {
	srv       *httptest.Server
	held      atomic.Int64 // queries waiting now
	seen      atomic.Int64 // find-traces queries received
	cancelled atomic.Int64 // queries whose request ended while held
	release   chan struct{}
	forever   bool
}

func newGate(t *testing.T, target string, forever bool) *gate {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	g := &gate{release: make(chan struct{}), forever: forever}
	proxy := httputil.NewSingleHostReverseProxy(u)
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v3/traces" {
			g.seen.Add(1)
			g.held.Add(1)
			var open <-chan struct{} = g.release
			if g.forever {
				open = nil
			}
			select {
			case <-open:
				g.held.Add(-1)
			case <-r.Context().Done():
				g.held.Add(-1)
				g.cancelled.Add(1)
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(g.srv.Close)
	return g
}

// waitFor polls cond (no timing is asserted; the deadline only ends a
// hung test).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestSourceListsPagesAndSummarises(t *testing.T) {
	j := needJaeger(t)
	svc := jaegertest.UniqueService("src-list")
	base := time.Now().Add(-3 * time.Hour).Truncate(time.Minute)
	traces := pipelineTraces(30, svc, base.Add(5*time.Second), 10*time.Second) // 5 minutes
	sendAndWait(t, j, traces)
	src := newSource(t, j.QueryURL, jaeger.WithSourceSlices(4))
	ctx := context.Background()
	q := collector.TraceQuery{From: base, To: base.Add(6 * time.Minute), Service: svc, Limit: 12}
	var got []collector.TraceSummary
	for page := 0; ; page++ {
		p, err := src.ListTraces(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p.Traces...)
		if p.NextCursor == "" {
			break
		}
		if page > 5 {
			t.Fatal("the cursor does not end")
		}
		q.Cursor = p.NextCursor
	}
	if len(got) != 30 {
		t.Fatalf("listed %d traces, want 30", len(got))
	}
	for i, s := range got {
		want := traces[29-i] // newest first
		if s.TraceID != want.ID() || s.RootName != "query" || s.Service != svc || s.SpanCount != 3 {
			t.Fatalf("row %d: %+v, want trace %s of %s with 3 spans", i, s, want.ID(), svc)
		}
		if wantDur := time.Duration(20+(29-i)%7) * time.Millisecond; s.Duration != wantDur {
			t.Errorf("row %d: duration %s, want %s", i, s.Duration, wantDur)
		}
		if failed := (29-i)%5 == 0; (s.Status == spans.StatusError) != failed || (s.ErrorCount == 1) != failed {
			t.Errorf("row %d: status %s, %d errors; failed root %v", i, s.Status, s.ErrorCount, failed)
		}
		if len(s.Stages) != 3 {
			t.Errorf("row %d: stages %v", i, s.Stages)
		}
	}
	// Filters Jaeger cannot express apply to the fetched traces.
	failed, err := src.ListTraces(ctx, collector.TraceQuery{From: q.From, To: q.To, Service: svc, Status: "error", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(failed.Traces) != 6 {
		t.Errorf("status=error: %d traces, want 6", len(failed.Traces))
	}
	// A window inside the fetched one is read from it, and holds only its
	// own traces: the third minute's six.
	sub, err := src.ListTraces(ctx, collector.TraceQuery{From: base.Add(2 * time.Minute), To: base.Add(3*time.Minute - time.Nanosecond), Service: svc, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(sub.Traces) != 6 || sub.Traces[0].TraceID != traces[17].ID() || sub.Traces[5].TraceID != traces[12].ID() {
		t.Errorf("the third minute lists %d traces, want traces 17 to 12", len(sub.Traces))
	}
	st := src.Stats()
	if st.Fetches != 1 || st.Queries != 4 {
		t.Errorf("stats %+v: want one fetch of 4 slice queries, the other pages from the cache", st)
	}
	// The stage breakdown of the service is the rollup of its traces.
	rl, err := src.RollupTraces(ctx, collector.TraceQuery{From: q.From, To: q.To, Service: svc}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if rl.Traces != 30 || rl.Partial || !strings.Contains(rl.Method, "30 traces read from Jaeger for service "+svc) {
		t.Errorf("rollup: %d traces, partial %v, method %q", rl.Traces, rl.Partial, rl.Method)
	}
	counts := map[spans.Stage]int64{}
	for _, r := range rl.StageBreakdown(q.From, q.To) {
		counts[r.Stage] = r.Count
	}
	if counts[spans.StageQuery] != 30 || counts[spans.StageLLM] != 30 || counts[spans.StageRetrieve] != 30 {
		t.Errorf("stage counts %v, want 30 of each", counts)
	}
	// One trace by id, and an unknown one.
	one, err := src.GetTrace(ctx, traces[3].ID())
	if err != nil || len(one.Spans) != 3 || one.Summary.RootName != "query" {
		t.Fatalf("GetTrace: %v %+v", err, one)
	}
	if _, err := src.GetTrace(ctx, spans.NewTraceID()); !errors.Is(err, collector.ErrNotFound) {
		t.Errorf("unknown trace: %v, want ErrNotFound", err)
	}
	if rs, err := src.Runs(ctx); err != nil || len(rs) != 0 {
		t.Errorf("runs: %v %v, want none", rs, err)
	}
	if _, err := src.Run(ctx, "r1"); !errors.Is(err, collector.ErrNotFound) || !strings.Contains(err.Error(), "local store") {
		t.Errorf("run: %v", err)
	}
}

func TestSourceCapsEachSliceAndSaysSo(t *testing.T) {
	j := needJaeger(t)
	svc := jaegertest.UniqueService("src-cap")
	base := time.Now().Add(-4 * time.Hour).Truncate(time.Minute)
	traces := pipelineTraces(40, svc, base.Add(time.Second), 6*time.Second) // 4 minutes
	sendAndWait(t, j, traces)
	src := newSource(t, j.QueryURL, jaeger.WithSourceSlices(2), jaeger.WithSourceMaxTraces(10))
	ctx := context.Background()
	q := collector.TraceQuery{From: base, To: base.Add(4 * time.Minute), Service: svc}
	ts, info, err := src.SampleTraces(ctx, q, 2000)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 10 || info.TracesAnalysed != 10 || info.Examined != 10 {
		t.Fatalf("sample of %d traces (info %+v), want the cap of 10", len(ts), info)
	}
	if !info.Partial || info.TracesMatched != nil || !strings.Contains(info.Method, "2 of 2 queries reached that limit, so traces are missing there and those times and services weigh less") {
		t.Errorf("a capped fetch must say so: partial %v, matched %v, method %q", info.Partial, info.TracesMatched, info.Method)
	}
	// Five from each half of the window: the slices share the cap.
	half := base.Add(2 * time.Minute)
	early := 0
	for _, tr := range ts {
		if tr.Summary.Start.Before(half) {
			early++
		}
	}
	if early != 5 {
		t.Errorf("%d of 10 traces from the first half of the window, want 5", early)
	}
	// A budget below what was read draws by hash, plus the slow ones.
	small, sinfo, err := src.SampleTraces(ctx, q, 4)
	if err != nil {
		t.Fatal(err)
	}
	if !sinfo.Sampled || sinfo.HashSampled != 4 || len(small) != 4+sinfo.SlowAdded || sinfo.HashRate != 0.4 {
		t.Errorf("budget 4 of 10: %d traces, info %+v", len(small), sinfo)
	}
}

func TestSourceFansOutOverServices(t *testing.T) {
	j := needJaeger(t)
	a, b := jaegertest.UniqueService("src-fan-a"), jaegertest.UniqueService("src-fan-b")
	base := time.Now().Add(-5 * time.Hour).Truncate(time.Minute)
	sendAndWait(t, j, append(pipelineTraces(7, a, base.Add(time.Second), 5*time.Second), pipelineTraces(4, b, base.Add(2*time.Second), 5*time.Second)...))
	src := newSource(t, j.QueryURL, jaeger.WithSourceSlices(1), jaeger.WithSourceMaxServices(10_000)) // other tests' services too
	l, err := src.Services(context.Background(), base, base.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, s := range l.Services {
		got[s.Service] = s.Traces
	}
	if got[a] != 7 || got[b] != 4 || len(got) != 2 {
		t.Errorf("services of the window: %v, want %s: 7 and %s: 4 only", got, a, b)
	}
	limited := newSource(t, j.QueryURL, jaeger.WithSourceSlices(1), jaeger.WithSourceMaxServices(1))
	l, err = limited.Services(context.Background(), base, base.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if !l.Truncated {
		t.Errorf("one service of many read, but the list is not marked truncated: %+v", l)
	}
}

func TestSourceSharesOneFetchAndCancelsWhenEveryoneLeaves(t *testing.T) {
	j := needJaeger(t)
	g := newGate(t, j.QueryURL, false)
	src := newSource(t, g.srv.URL, jaeger.WithSourceSlices(2))
	svc := jaegertest.UniqueService("src-share")
	from := time.Now().Add(-time.Hour)
	q := collector.TraceQuery{From: from, To: from.Add(30 * time.Minute), Service: svc} // one key whatever the clock does

	// Five requests for one window while Jaeger holds the first queries:
	// one fetch, shared.
	var wg sync.WaitGroup
	errs := make([]error, 5)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = src.ListTraces(context.Background(), q)
		}()
	}
	waitFor(t, "the other four requests to join the fetch", func() bool { return src.Stats().CacheHits == 4 && g.held.Load() == 2 })
	close(g.release)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if st := src.Stats(); st.Fetches != 1 || g.seen.Load() != 2 {
		t.Errorf("five requests cost %d fetches and %d queries, want 1 and 2", st.Fetches, g.seen.Load())
	}

	// A request that goes away ends the fetch it alone waited for.
	g2 := newGate(t, j.QueryURL, true)
	src2 := newSource(t, g2.srv.URL, jaeger.WithSourceSlices(1))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := src2.ListTraces(ctx, q)
		done <- err
	}()
	waitFor(t, "the query to reach Jaeger", func() bool { return g2.held.Load() == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled request: %v, want context.Canceled", err)
	}
	waitFor(t, "Jaeger to see the query cancelled", func() bool { return g2.cancelled.Load() == 1 })
}

func TestSourceSlowOrDownJaegerIsAClearError(t *testing.T) {
	j := needJaeger(t)
	g := newGate(t, j.QueryURL, true)
	src := newSource(t, g.srv.URL, jaeger.WithSourceFetchTimeout(300*time.Millisecond))
	_, err := src.ListTraces(context.Background(), collector.TraceQuery{Service: "any"})
	if !errors.Is(err, collector.ErrUnavailable) || !strings.Contains(err.Error(), "did not answer within 300ms") {
		t.Errorf("slow Jaeger: %v, want ErrUnavailable saying it did not answer within 300ms", err)
	}
	waitFor(t, "the held queries to be cancelled", func() bool { return g.held.Load() == 0 })

	down := newSource(t, closedAddr(t))
	if _, err := down.StageBreakdown(context.Background(), time.Now().Add(-time.Hour), time.Now(), ""); !errors.Is(err, collector.ErrUnavailable) ||
		!strings.Contains(err.Error(), "unreachable") {
		t.Errorf("Jaeger down: %v, want ErrUnavailable saying it is unreachable", err)
	}
	if err := down.Ping(context.Background()); !errors.Is(err, collector.ErrUnavailable) {
		t.Errorf("ping of a Jaeger that is down: %v", err)
	}
	if st := down.Stats(); st.Fetches != 1 {
		t.Errorf("fetches %d", st.Fetches)
	}
	// A failed fetch is not cached: the next request asks again.
	if _, err := down.StageBreakdown(context.Background(), time.Now().Add(-time.Hour), time.Now(), ""); err == nil {
		t.Fatal("no error")
	}
	if st := down.Stats(); st.Fetches != 2 {
		t.Errorf("a failed fetch was reused: %d fetches after two requests", st.Fetches)
	}
}

func TestSourceCacheExpires(t *testing.T) {
	j := needJaeger(t)
	src := newSource(t, j.QueryURL, jaeger.WithSourceCache(-1, 0, 0), jaeger.WithSourceSlices(1))
	q := collector.TraceQuery{From: time.Now().Add(-10 * time.Minute), Service: jaegertest.UniqueService("src-ttl")}
	for range 2 {
		if _, err := src.ListTraces(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
	if st := src.Stats(); st.Fetches != 2 {
		t.Errorf("without reuse two requests made %d fetches", st.Fetches)
	}
}

func TestSourceCacheIsBounded(t *testing.T) {
	j := needJaeger(t)
	svc := jaegertest.UniqueService("src-bound")
	base := time.Now().Add(-6 * time.Hour).Truncate(time.Minute)
	sendAndWait(t, j, pipelineTraces(6, svc, base.Add(time.Second), time.Minute)) // one a minute
	minute := func(i int) collector.TraceQuery {
		return collector.TraceQuery{Service: svc, From: base.Add(time.Duration(i) * time.Minute), To: base.Add(time.Duration(i+1)*time.Minute - time.Nanosecond)}
	}
	read := func(src *jaeger.Source, i int) {
		t.Helper()
		p, err := src.ListTraces(context.Background(), minute(i))
		if err != nil || len(p.Traces) != 1 {
			t.Fatalf("minute %d: %d traces, %v", i, len(p.Traces), err)
		}
	}
	// At most two windows: the third pushes out the oldest.
	src := newSource(t, j.QueryURL, jaeger.WithSourceSlices(1), jaeger.WithSourceCache(time.Hour, 2, 1000))
	for _, i := range []int{0, 1, 2, 2, 1, 0} {
		read(src, i)
	}
	if st := src.Stats(); st.Fetches != 4 || st.CacheHits != 2 {
		t.Errorf("windows 0 1 2 2 1 0 with room for two: %+v, want 4 fetches (0 again) and 2 hits", st)
	}
	// At most two traces: each window holds one.
	src = newSource(t, j.QueryURL, jaeger.WithSourceSlices(1), jaeger.WithSourceCache(time.Hour, 100, 2))
	for _, i := range []int{3, 4, 5, 3} {
		read(src, i)
	}
	if st := src.Stats(); st.Fetches != 4 {
		t.Errorf("windows 3 4 5 3 with room for two traces: %+v, want 4 fetches", st)
	}
}
