package collector

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/spans"
)

// ragSpan is one span of ragRequest's trace: times in ms after t0.
type ragSpan struct {
	name, parent, kind string
	from, to           int
	failed             bool
	events             int
}

// The trace of ragRequest: a root with parallel llm calls (self times need
// a union), a tool under one llm and an embed under retrieve.
var ragShape = []ragSpan{
	{name: "query", kind: "CHAIN", from: 0, to: 100, events: 1},
	{name: "retrieve", parent: "query", kind: "RETRIEVER", from: 10, to: 40, events: 1},
	{name: "embed", parent: "retrieve", kind: "EMBEDDING", from: 12, to: 20},
	{name: "llm", parent: "query", kind: "LLM", from: 45, to: 95, failed: true, events: 2},
	{name: "llm2", parent: "query", kind: "LLM", from: 50, to: 90},
	{name: "tool", parent: "llm", kind: "TOOL", from: 60, to: 70},
}

var (
	ragPartA = []string{"retrieve", "embed", "tool"}
	ragPartB = []string{"query", "llm", "llm2"}
)

// ragTraceIDs names a trace's span ids by span name.
type ragTraceIDs struct {
	trace spans.TraceID
	span  map[string]spans.SpanID
}

func newRagTraceIDs() ragTraceIDs {
	ids := ragTraceIDs{trace: spans.NewTraceID(), span: map[string]spans.SpanID{}}
	for _, s := range ragShape {
		ids.span[s.name] = spans.NewSpanID()
	}
	return ids
}

// ragRequest makes an OTLP request with the spans of ragShape named in only
// (all when empty), from one resource and scope.
func ragRequest(ids ragTraceIDs, only ...string) *coltracepb.ExportTraceServiceRequest {
	var ps []*tracepb.Span
	base := uint64(t0.UnixNano())
	for _, s := range ragShape {
		if len(only) > 0 && !contains(only, s.name) {
			continue
		}
		sid := ids.span[s.name]
		p := &tracepb.Span{TraceId: ids.trace[:], SpanId: sid[:], Name: s.name, Kind: tracepb.Span_SPAN_KIND_INTERNAL,
			StartTimeUnixNano: base + uint64(s.from)*1e6, EndTimeUnixNano: base + uint64(s.to)*1e6,
			Attributes: []*commonpb.KeyValue{kv("openinference.span.kind", s.kind)}}
		if s.parent != "" {
			pid := ids.span[s.parent]
			p.ParentSpanId = pid[:]
		}
		if s.failed {
			p.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: "rate limited"}
		}
		for e := 0; e < s.events; e++ {
			p.Events = append(p.Events, &tracepb.Span_Event{Name: fmt.Sprintf("%s.event%d", s.name, e), TimeUnixNano: p.StartTimeUnixNano + uint64(e+1)*1000,
				Attributes: []*commonpb.KeyValue{kv("n", e)}})
		}
		ps = append(ps, p)
	}
	return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource:   &resourcepb.Resource{Attributes: []*commonpb.KeyValue{kv("service.name", "rag"), kv("service.version", "1.0")}},
		ScopeSpans: []*tracepb.ScopeSpans{{Scope: &commonpb.InstrumentationScope{Name: "openinference", Version: "0.3"}, Spans: ps}},
	}}}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// otlpSink is a collector behind the real OTLP handler on a test server.
type otlpSink struct {
	s   *SQLiteStore
	c   *Collector
	srv *httptest.Server
}

func openSink(t *testing.T, path string) *otlpSink {
	t.Helper()
	s, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	c := New(s, WithLateChildren())
	k := &otlpSink{s: s, c: c, srv: httptest.NewServer(NewOTLPHandler(c))}
	t.Cleanup(k.close)
	return k
}

// close stops the server and the collector and closes the store (a
// restart); it may be called twice.
func (k *otlpSink) close() {
	if k.srv == nil {
		return
	}
	k.srv.Close()
	k.c.Shutdown(context.Background())
	k.s.Close()
	k.srv = nil
}

func (k *otlpSink) post(t *testing.T, req *coltracepb.ExportTraceServiceRequest) {
	t.Helper()
	body, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	resp, b := post(t, k.srv.URL+"/v1/traces", "application/x-protobuf", body, false)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
}

// rows returns every row of a query, each as a []any, for comparing two
// stores.
func rows(t *testing.T, s *SQLiteStore, query string, args ...any) [][]any {
	t.Helper()
	r, err := s.DB().Query(query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cols, _ := r.Columns()
	var out [][]any
	for r.Next() {
		row := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range row {
			ptrs[i] = &row[i]
		}
		if err := r.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out = append(out, row)
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

const (
	rollupRows = "SELECT minute, run_id, stage, count, errors, total_ns, self_ns, dur_hist, self_hist FROM stage_rollups ORDER BY minute, run_id, stage"
	// Everything but the id ranges, which depend on arrival order.
	traceRowColumns = "SELECT start_ns, end_ns, root_name, root_status, service, span_count, error_count, stages, run_id FROM traces WHERE trace_id = ?"
)

// sameStored checks that trace ids.trace is stored in got exactly as in
// want: spans, events, summary row and every stage rollup.
func sameStored(t *testing.T, got, want *SQLiteStore, ids ragTraceIDs) {
	t.Helper()
	ctx := context.Background()
	g, err := got.GetTrace(ctx, ids.trace)
	if err != nil {
		t.Fatal(err)
	}
	w, err := want.GetTrace(ctx, ids.trace)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g.Spans, w.Spans) {
		t.Errorf("spans differ:\n got %+v\nwant %+v", g.Spans, w.Spans)
	}
	if !reflect.DeepEqual(g.Events, w.Events) {
		t.Errorf("events differ:\n got %+v\nwant %+v", g.Events, w.Events)
	}
	gs, ws := g.Summary, w.Summary
	gs.row, ws.row = 0, 0 // where each store put the row
	if !reflect.DeepEqual(gs, ws) {
		t.Errorf("summary differs:\n got %+v\nwant %+v", g.Summary, w.Summary)
	}
	if gr, wr := rows(t, got, traceRowColumns, ids.trace[:]), rows(t, want, traceRowColumns, ids.trace[:]); !reflect.DeepEqual(gr, wr) {
		t.Errorf("trace row differs:\n got %v\nwant %v", gr, wr)
	}
	if gr, wr := rows(t, got, rollupRows), rows(t, want, rollupRows); !reflect.DeepEqual(gr, wr) || len(wr) == 0 {
		t.Errorf("stage rollups differ:\n got %v\nwant %v", gr, wr)
	}
}

// checkTree checks that trace ids.trace has one row per span of ragShape
// and that every parent is there.
func checkTree(t *testing.T, s *SQLiteStore, ids ragTraceIDs) {
	t.Helper()
	if n := storedSpanCount(t, s.DB(), ids.trace); n != len(ragShape) {
		t.Fatalf("%d spans stored, want %d", n, len(ragShape))
	}
	tr, err := s.GetTrace(context.Background(), ids.trace)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[spans.SpanID]bool{}
	for _, sp := range tr.Spans {
		if seen[sp.SpanID] {
			t.Fatalf("span %s stored twice", sp.Name)
		}
		seen[sp.SpanID] = true
	}
	roots := 0
	for _, sp := range tr.Spans {
		if sp.IsRoot() {
			roots++
		} else if !seen[sp.ParentID] {
			t.Fatalf("span %s lost its parent", sp.Name)
		}
	}
	events := 0
	for _, s := range ragShape {
		events += s.events
	}
	if roots != 1 || len(tr.Events) != events || tr.Summary.SpanCount != len(ragShape) || tr.Summary.ErrorCount != 1 {
		t.Fatalf("%d roots, %d events (want %d), summary %+v", roots, len(tr.Events), events, tr.Summary)
	}
}

func TestOTLPRetriedRequestStoredOnce(t *testing.T) {
	dir := t.TempDir()
	retried, once := openSink(t, filepath.Join(dir, "retried.db")), openSink(t, filepath.Join(dir, "once.db"))
	ids := newRagTraceIDs()
	req := ragRequest(ids)
	for range 3 {
		retried.post(t, req)
	}
	once.post(t, req)

	checkTree(t, retried.s, ids)
	sameStored(t, retried.s, once.s, ids)
	n := uint64(len(ragShape))
	if m := retried.c.Metrics(); m.SpansDuplicate != 2*n || m.SpansWritten != n || m.SpansAccepted != 3*n {
		t.Fatalf("metrics %+v, want %d duplicates of %d spans", m, 2*n, n)
	}
	// /metrics serves the collector's Prometheus collector.
	reg := prometheus.NewRegistry()
	reg.MustRegister(retried.c.PrometheusCollector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var dup float64 = -1
	for _, mf := range mfs {
		if mf.GetName() == "stagescope_collector_spans_duplicate_total" {
			dup = mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	if dup != float64(2*n) {
		t.Fatalf("stagescope_collector_spans_duplicate_total = %v, want %d", dup, 2*n)
	}
}

func TestDuplicatesWithinOneRequest(t *testing.T) {
	dir := t.TempDir()
	dupd, once := openSink(t, filepath.Join(dir, "dup.db")), openSink(t, filepath.Join(dir, "once.db"))
	ids := newRagTraceIDs()
	// Every span twice (the resource spans repeated, as a client that
	// re-batches after a timeout sends them), the root a third time in the
	// same scope, and a 40-span trace twice (larger than the pairwise check).
	req := ragRequest(ids)
	rs := req.ResourceSpans[0]
	root := proto.Clone(rs.ScopeSpans[0].Spans[0]).(*tracepb.Span)
	req.ResourceSpans = append(req.ResourceSpans, proto.Clone(rs).(*tracepb.ResourceSpans))
	rs.ScopeSpans[0].Spans = append(rs.ScopeSpans[0].Spans, root)
	big, bigID, _ := otlpRequest(40, t0)
	req.ResourceSpans = append(req.ResourceSpans, big.ResourceSpans[0], proto.Clone(big.ResourceSpans[0]).(*tracepb.ResourceSpans))
	dupd.post(t, req)
	once.post(t, ragRequest(ids))
	once.post(t, big)

	checkTree(t, dupd.s, ids)
	sameStored(t, dupd.s, once.s, ids)
	tr, err := dupd.s.GetTrace(context.Background(), bigID)
	if err != nil || len(tr.Spans) != 40 || tr.Summary.SpanCount != 40 {
		t.Fatalf("40-span trace: %v, summary %+v", err, tr.Summary)
	}
	if m := dupd.c.Metrics(); m.SpansDuplicate != uint64(len(ragShape)+1+40) || m.SpansWritten != uint64(len(ragShape)+40) {
		t.Fatalf("metrics %+v", m)
	}
}

// A retry that arrives after the collector restarted (nothing in memory) is
// found in the store: the trace's first part arrives, the collector
// restarts, then the client resends the whole trace.
func TestDuplicateAfterRestart(t *testing.T) {
	dir := t.TempDir()
	ids := newRagTraceIDs()
	// The same arrival without the duplicates, for comparison.
	clean := openSink(t, filepath.Join(dir, "clean.db"))
	clean.post(t, ragRequest(ids, ragPartA...))
	clean.close()
	clean = openSink(t, filepath.Join(dir, "clean.db"))
	clean.post(t, ragRequest(ids, ragPartB...))

	path := filepath.Join(dir, "restarted.db")
	k := openSink(t, path)
	k.post(t, ragRequest(ids, ragPartA...))
	k.close()
	k = openSink(t, path)
	k.post(t, ragRequest(ids))
	k.post(t, ragRequest(ids, ragPartA...))

	checkTree(t, k.s, ids)
	sameStored(t, k.s, clean.s, ids)
	a := uint64(len(ragPartA))
	if m := k.c.Metrics(); m.SpansDuplicate != 2*a || m.SpansWritten != uint64(len(ragPartB)) {
		t.Fatalf("metrics %+v, want %d duplicates", m, 2*a)
	}
}

// Children that arrive after their parent are subtracted from its self
// time once; their retries, and the parent's, change nothing.
func TestLateChildRetriesKeepSelfTime(t *testing.T) {
	dir := t.TempDir()
	ids := newRagTraceIDs()
	once := openSink(t, filepath.Join(dir, "once.db"))
	once.post(t, ragRequest(ids, ragPartB...))
	once.post(t, ragRequest(ids, ragPartA...))

	retried := openSink(t, filepath.Join(dir, "retried.db"))
	retried.post(t, ragRequest(ids, ragPartB...))
	retried.post(t, ragRequest(ids, ragPartA...))
	retried.post(t, ragRequest(ids, ragPartA...))
	retried.post(t, ragRequest(ids))

	checkTree(t, retried.s, ids)
	sameStored(t, retried.s, once.s, ids)
	// The late children did reach the parents' self times: llm (50 ms)
	// minus tool (10 ms), the root (an OpenInference CHAIN, 100 ms) minus
	// retrieve and the llm calls.
	var llmSelf, querySelf int64
	if err := once.s.DB().QueryRow("SELECT self_ns FROM stage_rollups WHERE stage = ?", int64(spans.StageLLM)).Scan(&llmSelf); err != nil {
		t.Fatal(err)
	}
	if err := once.s.DB().QueryRow("SELECT self_ns FROM stage_rollups WHERE stage = ?", int64(spans.StageChain)).Scan(&querySelf); err != nil {
		t.Fatal(err)
	}
	if llmSelf != int64(40*time.Millisecond+40*time.Millisecond) || querySelf != int64(100*time.Millisecond-30*time.Millisecond-50*time.Millisecond) {
		t.Fatalf("llm self %v, query self %v", time.Duration(llmSelf), time.Duration(querySelf))
	}
}

// What the live mirror (WithOnIngested) is given is what the store wrote: a
// client's retry, a request holding copies of its own spans, and a retry of
// a trace's first part together with its second part are mirrored once.
func TestOnIngestedSkipsDuplicates(t *testing.T) {
	s, err := OpenSQLite(filepath.Join(t.TempDir(), "mirror.db"))
	if err != nil {
		t.Fatal(err)
	}
	c := New(s, WithLateChildren())
	var mu sync.Mutex
	spanSeen := map[spans.SpanID]int{}
	events, calls := 0, 0
	srv := httptest.NewServer(NewOTLPHandler(c, WithOnIngested(func(ss []spans.Span, evs []event.Record) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		for _, sp := range ss {
			spanSeen[sp.SpanID]++
		}
		events += len(evs)
	})))
	k := &otlpSink{s: s, c: c, srv: srv}
	t.Cleanup(k.close)

	ids := newRagTraceIDs()
	k.post(t, ragRequest(ids, ragPartA...))
	k.post(t, ragRequest(ids, ragPartA...)) // a retry: nothing new
	whole := ragRequest(ids)                // part A again with part B
	whole.ResourceSpans = append(whole.ResourceSpans, proto.Clone(whole.ResourceSpans[0]).(*tracepb.ResourceSpans))
	k.post(t, whole)

	mu.Lock()
	defer mu.Unlock()
	if calls != 2 {
		t.Errorf("the mirror was called %d times, want 2 (the retry adds nothing)", calls)
	}
	wantEvents := 0
	for _, sp := range ragShape {
		if n := spanSeen[ids.span[sp.name]]; n != 1 {
			t.Errorf("span %s mirrored %d times, want once", sp.name, n)
		}
		wantEvents += sp.events
	}
	if len(spanSeen) != len(ragShape) || events != wantEvents {
		t.Errorf("mirrored %d spans and %d events, want %d and %d", len(spanSeen), events, len(ragShape), wantEvents)
	}
	if m := c.Metrics(); m.SpansWritten != uint64(len(ragShape)) {
		t.Errorf("%d spans written, want %d", m.SpansWritten, len(ragShape))
	}
}
