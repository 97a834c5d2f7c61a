package collector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/spans"
)

func TestMain(m *testing.M) {
	if runChild() {
		return
	}
	code := m.Run()
	if benchDB != nil { // the benchmarks' shared synthetic database
		benchDB.Close()
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

func openStore(t testing.TB) *SQLiteStore {
	t.Helper()
	s, err := OpenSQLite(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newCollector(t testing.TB, s *SQLiteStore, opts ...Option) *Collector {
	t.Helper()
	c := New(s, opts...)
	t.Cleanup(func() { c.Shutdown(context.Background()) })
	return c
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)

// fullSpan uses every field and every attribute kind.
func fullSpan() spans.Span {
	tid, sid, pid := spans.NewTraceID(), spans.NewSpanID(), spans.NewSpanID()
	return spans.Span{
		TraceID: tid, SpanID: sid, ParentID: pid, Name: "llm.chat", Scope: "engine.llm", Stage: spans.StageLLM,
		Start: t0, End: t0.Add(1234567 * time.Nanosecond), Status: spans.StatusError, Err: "rate limited: 429",
		Attrs: []spans.Attribute{
			spans.String("s", "héllo"), spans.String("empty", ""), spans.Int64("i", math.MinInt64), spans.Int("i2", 42),
			spans.Float64("f", 3.25), spans.Float64("nan", math.NaN()), spans.Float64("inf", math.Inf(-1)), spans.Bool("b", true), spans.Bool("bf", false),
			spans.Strings("ss", []string{"a", "", "c"}), spans.Int64s("is", []int64{-1, 0, math.MaxInt64}),
			spans.Float64s("fs", []float64{0.5, -2}), spans.Bools("bs", []bool{true, false, true}),
		},
		Tags:  []spans.Tag{{Key: "tenant", Value: "acme"}, {Key: spans.KeyRunID, Value: "run-7"}},
		Links: []spans.Link{{TraceID: spans.NewTraceID(), SpanID: spans.NewSpanID(), Attrs: []spans.Attribute{spans.String("why", "batch")}}, {TraceID: spans.NewTraceID(), SpanID: spans.NewSpanID()}},
	}
}

func sameValue(a, b spans.Value) bool {
	if a.Kind() == spans.KindFloat64 && math.IsNaN(a.AsFloat64()) {
		return b.Kind() == spans.KindFloat64 && math.IsNaN(b.AsFloat64())
	}
	return a.Equal(b)
}

func sameAttrs(t *testing.T, what string, got, want []spans.Attribute) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d attributes, want %d", what, len(got), len(want))
	}
	for i := range want {
		if got[i].Key != want[i].Key || !sameValue(got[i].Value, want[i].Value) {
			t.Fatalf("%s: attribute %d = %s:%v (%s), want %s:%v (%s)", what, i, got[i].Key, got[i].Value.Emit(), got[i].Value.Kind(), want[i].Key, want[i].Value.Emit(), want[i].Value.Kind())
		}
	}
}

func sameSpan(t *testing.T, got, want *spans.Span) {
	t.Helper()
	if got.TraceID != want.TraceID || got.SpanID != want.SpanID || got.ParentID != want.ParentID || got.Name != want.Name ||
		got.Scope != want.Scope || got.Stage != want.Stage || !got.Start.Equal(want.Start) || !got.End.Equal(want.End) ||
		got.Status != want.Status || got.Err != want.Err {
		t.Fatalf("span differs:\n got %+v\nwant %+v", *got, *want)
	}
	sameAttrs(t, "span "+want.Name, got.Attrs, want.Attrs)
	if len(got.Tags) != len(want.Tags) {
		t.Fatalf("tags %v, want %v", got.Tags, want.Tags)
	}
	for i := range want.Tags {
		if got.Tags[i] != want.Tags[i] {
			t.Fatalf("tags %v, want %v", got.Tags, want.Tags)
		}
	}
	if len(got.Links) != len(want.Links) {
		t.Fatalf("%d links, want %d", len(got.Links), len(want.Links))
	}
	for i := range want.Links {
		if got.Links[i].TraceID != want.Links[i].TraceID || got.Links[i].SpanID != want.Links[i].SpanID {
			t.Fatalf("link %d differs", i)
		}
		sameAttrs(t, "link", got.Links[i].Attrs, want.Links[i].Attrs)
	}
}

func TestRoundTripEveryField(t *testing.T) {
	s := openStore(t)
	c := newCollector(t, s)
	ctx := context.Background()
	sp := fullSpan()
	root := spans.Span{TraceID: sp.TraceID, SpanID: sp.ParentID, Name: "query", Stage: spans.StageQuery, Start: t0.Add(-time.Millisecond), End: t0.Add(5 * time.Millisecond), Status: spans.StatusOK}
	bare := spans.Span{TraceID: sp.TraceID, SpanID: spans.NewSpanID(), ParentID: sp.ParentID, Name: "bare"} // zero times, no body
	ev := event.Record{Header: event.Header{Time: t0.Add(time.Microsecond), TraceID: sp.TraceID, SpanID: sp.SpanID, Tags: []spans.Tag{{Key: "k", Value: "v"}}},
		Name: "llm.end", Stage: spans.StageLLM, Attrs: []spans.Attribute{spans.Int("llm.prompt_tokens", 12), spans.Float64s("x", []float64{1, 2})}}
	ev2 := event.Record{Header: event.Header{Time: t0.Add(2 * time.Microsecond), TraceID: sp.TraceID, SpanID: sp.SpanID}, Name: "bare.event"}
	in := []spans.Span{sp, root, bare}
	if err := c.Ingest(ctx, in, []event.Record{ev, ev2}); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetTrace(ctx, sp.TraceID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Spans) != 3 || len(got.Events) != 2 {
		t.Fatalf("got %d spans, %d events", len(got.Spans), len(got.Events))
	}
	byID := map[spans.SpanID]*spans.Span{}
	for i := range got.Spans {
		byID[got.Spans[i].SpanID] = got.Spans[i]
	}
	for i := range in {
		g := byID[in[i].SpanID]
		if g == nil {
			t.Fatalf("span %s missing", in[i].Name)
		}
		sameSpan(t, g, &in[i])
	}
	e := got.Events[0]
	if e.Name != ev.Name || e.Stage != ev.Stage || !e.Time.Equal(ev.Time) || e.TraceID != ev.TraceID || e.SpanID != ev.SpanID || len(e.Tags) != 1 || e.Tags[0] != ev.Tags[0] {
		t.Fatalf("event differs: %+v", e)
	}
	sameAttrs(t, "event", e.Attrs, ev.Attrs)
	if got.Events[1].Name != "bare.event" || got.Events[1].Attrs != nil {
		t.Fatalf("bare event: %+v", got.Events[1])
	}
	sum := got.Summary
	if sum.RootName != "query" || sum.Status != spans.StatusOK || sum.SpanCount != 3 || sum.ErrorCount != 1 || sum.RunID != "run-7" ||
		!sum.Start.Equal(time.Time{}) && sum.Start.UnixNano() != 0 {
		// the bare span has zero times, so the trace starts at 0
		t.Fatalf("summary %+v", sum)
	}
	if _, err := s.GetTrace(ctx, spans.NewTraceID()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown trace: %v", err)
	}
}

func TestCodecRejectsCorruptBodies(t *testing.T) {
	sp := fullSpan()
	b := appendSpanBody(nil, &sp)
	for i := 0; i < len(b); i++ {
		var out spans.Span
		if err := decodeSpanBody(b[:i], &out); err == nil && i > 0 {
			t.Fatalf("truncated body of %d/%d bytes decoded without error", i, len(b))
		}
	}
	var out spans.Span
	if err := decodeSpanBody(append(b, 0), &out); err == nil {
		t.Fatal("trailing byte accepted")
	}
}

// trace makes a RAG-shaped trace: query root with retrieve and two
// overlapping llm children (parallel), so self time needs a union.
func ragTrace(start time.Time, failLLM bool) []spans.Span {
	tid := spans.NewTraceID()
	root := spans.Span{TraceID: tid, SpanID: spans.NewSpanID(), Name: "query", Stage: spans.StageQuery, Start: start, End: start.Add(100 * time.Millisecond), Status: spans.StatusOK,
		Attrs: []spans.Attribute{spans.String(spans.KeyService, "rag-api")}}
	mk := func(name string, st spans.Stage, from, to time.Duration) spans.Span {
		return spans.Span{TraceID: tid, SpanID: spans.NewSpanID(), ParentID: root.SpanID, Name: name, Stage: st, Start: start.Add(from), End: start.Add(to), Status: spans.StatusOK}
	}
	ret := mk("retrieve", spans.StageRetrieve, 0, 20*time.Millisecond)
	l1 := mk("llm1", spans.StageLLM, 30*time.Millisecond, 80*time.Millisecond)
	l2 := mk("llm2", spans.StageLLM, 50*time.Millisecond, 90*time.Millisecond)
	if failLLM {
		l2.Status, l2.Err = spans.StatusError, "boom"
	}
	// Children first, root last: the order a dispatcher ends them.
	return []spans.Span{ret, l1, l2, root}
}

func TestQueriesAndBreakdown(t *testing.T) {
	s := openStore(t)
	c := newCollector(t, s, WithBatchSize(5)) // traces straddle batches
	ctx := context.Background()
	var all []spans.Span
	for i := 0; i < 20; i++ {
		all = append(all, ragTrace(t0.Add(time.Duration(i)*time.Second), i%4 == 0)...)
	}
	for _, sp := range all {
		sp := sp
		c.Handler().SpanEnded(&sp)
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	m := c.Metrics()
	if m.SpansWritten != 80 || m.SpansAccepted != 80 || m.SpansDropped != 0 || m.Batches < 16 {
		t.Fatalf("metrics %+v", m)
	}

	page, err := s.ListTraces(ctx, TraceQuery{Limit: 7})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Traces) != 7 || page.NextCursor == "" {
		t.Fatalf("page 1: %d traces, cursor %q", len(page.Traces), page.NextCursor)
	}
	first := page.Traces[0]
	if !first.Start.Equal(t0.Add(19*time.Second)) || first.Duration != 100*time.Millisecond || first.SpanCount != 4 || first.RootName != "query" || first.Service != "rag-api" {
		t.Fatalf("newest trace %+v", first)
	}
	if got := first.Stages; len(got) != 3 || got[0] != spans.StageRetrieve || got[1] != spans.StageLLM || got[2] != spans.StageQuery {
		t.Fatalf("stages %v", got)
	}
	seen := len(page.Traces)
	for page.NextCursor != "" {
		page, err = s.ListTraces(ctx, TraceQuery{Limit: 7, Cursor: page.NextCursor})
		if err != nil {
			t.Fatal(err)
		}
		seen += len(page.Traces)
	}
	if seen != 20 {
		t.Fatalf("paged through %d traces, want 20", seen)
	}
	for _, tc := range []struct {
		q    TraceQuery
		want int
	}{
		// Five traces have a failed span under a root that succeeded: none
		// failed as a request.
		{TraceQuery{Status: StatusWithErrors, Limit: 100}, 5},
		{TraceQuery{Status: "error", Limit: 100}, 0},
		{TraceQuery{Status: "ok", Limit: 100}, 20},
		{TraceQuery{Stage: "llm", Limit: 100}, 20},
		{TraceQuery{Stage: "rerank", Limit: 100}, 0},
		{TraceQuery{Service: "rag-api", Limit: 100}, 20},
		{TraceQuery{Service: "other", Limit: 100}, 0},
		{TraceQuery{From: t0.Add(10 * time.Second), To: t0.Add(12 * time.Second), Limit: 100}, 3},
		{TraceQuery{MinDuration: 100 * time.Millisecond, Limit: 100}, 20},
		{TraceQuery{MinDuration: 101 * time.Millisecond, Limit: 100}, 0},
		{TraceQuery{MaxDuration: 100 * time.Millisecond, Limit: 100}, 20},
		{TraceQuery{MaxDuration: 99 * time.Millisecond, Limit: 100}, 0},
		{TraceQuery{MinDuration: 100 * time.Millisecond, MaxDuration: 100 * time.Millisecond, Limit: 100}, 20},
		{TraceQuery{NameContains: "uer", Limit: 100}, 20},
		{TraceQuery{Attr: "service.name=rag-api", Limit: 3}, 3},
		{TraceQuery{Attr: "service.name=nope", Limit: 100}, 0},
	} {
		p, err := s.ListTraces(ctx, tc.q)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Traces) != tc.want {
			t.Errorf("%+v: %d traces, want %d", tc.q, len(p.Traces), tc.want)
		}
	}
	if _, err := s.ListTraces(ctx, TraceQuery{Cursor: "garbage"}); err == nil {
		t.Error("bad cursor accepted")
	}

	br, err := s.StageBreakdown(ctx, time.Time{}, time.Time{}, "")
	if err != nil {
		t.Fatal(err)
	}
	got := map[spans.Stage]StageStats{}
	for _, b := range br {
		got[b.Stage] = b
	}
	q, llm, ret := got[spans.StageQuery], got[spans.StageLLM], got[spans.StageRetrieve]
	// query self = 100 − union(0–20, 30–90) = 100 − 80 = 20 ms.
	if q.Count != 20 || q.Self != 20*20*time.Millisecond || q.Total != 20*100*time.Millisecond {
		t.Fatalf("query stats %+v", q)
	}
	if llm.Count != 40 || llm.Errors != 5 || llm.Total != 20*90*time.Millisecond || llm.Self != llm.Total {
		t.Fatalf("llm stats %+v", llm)
	}
	// Histogram percentiles are within a bucket (±10%).
	if p := q.SelfP50; p < 18*time.Millisecond || p > 22*time.Millisecond {
		t.Fatalf("query self p50 %v, want ≈20ms", p)
	}
	if p := ret.P99; p < 18*time.Millisecond || p > 22*time.Millisecond {
		t.Fatalf("retrieve p99 %v, want ≈20ms", p)
	}
	// Self shares: (20 query + 20 retrieve + 50 + 40 parallel llm) / 100 ms.
	// Parallel siblings make the sum exceed 1.
	var share float64
	for _, b := range br {
		share += b.SelfShare
	}
	if math.Abs(share-1.3) > 1e-9 {
		t.Fatalf("self shares sum to %v", share)
	}

	pts, err := s.Timeseries(ctx, t0.Add(-time.Minute), t0.Add(time.Minute), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var traces int64
	for _, p := range pts {
		traces += p.Traces
	}
	if len(pts) != 3 || traces != 20 || pts[1].Traces != 20 || pts[1].P50 < 90*time.Millisecond || pts[1].P50 > 110*time.Millisecond {
		t.Fatalf("timeseries %+v", pts)
	}

	loaded, err := s.LoadTraces(ctx, TraceQuery{Status: StatusWithErrors, Limit: 100})
	if err != nil || len(loaded) != 5 || len(loaded[0].Spans) != 4 {
		t.Fatalf("LoadTraces: %d %v", len(loaded), err)
	}
}

func TestRuns(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	r, err := s.CreateRun(ctx, Run{Name: "baseline", Config: json.RawMessage(`{"workers":4}`)})
	if err != nil {
		t.Fatal(err)
	}
	if r.ID == "" || r.Started.IsZero() || !r.Finished.IsZero() || string(r.Config) != `{"workers":4}` {
		t.Fatalf("created %+v", r)
	}
	if _, err := s.CreateRun(ctx, Run{Name: "bad", Config: json.RawMessage(`{`)}); err == nil {
		t.Fatal("invalid JSON accepted")
	}
	if err := s.FinishRun(ctx, r.ID, json.RawMessage(`{"p95_ms":12}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishRun(ctx, "nope", nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown run: %v", err)
	}
	runs, err := s.Runs(ctx)
	if err != nil || len(runs) != 1 || runs[0].Finished.IsZero() || string(runs[0].Summary) != `{"p95_ms":12}` {
		t.Fatalf("runs %+v %v", runs, err)
	}
}

func TestRetention(t *testing.T) {
	s := openStore(t)
	c := newCollector(t, s)
	ctx := context.Background()
	now := time.Now()
	var old, fresh []spans.Span
	for i := 0; i < 1200; i++ { // more than two retention chunks
		old = append(old, ragTrace(now.Add(-48*time.Hour).Add(time.Duration(i)*time.Second), false)...)
	}
	for i := 0; i < 30; i++ {
		fresh = append(fresh, ragTrace(now.Add(-time.Duration(i)*time.Second), false)...)
	}
	if err := c.Ingest(ctx, old, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Ingest(ctx, fresh, []event.Record{{Header: event.Header{Time: now, TraceID: fresh[0].TraceID, SpanID: fresh[0].SpanID}, Name: "e"}}); err != nil {
		t.Fatal(err)
	}
	n, err := s.ApplyRetention(ctx, 24*time.Hour, 0)
	if err != nil || n != 1200 {
		t.Fatalf("retention deleted %d, %v; want 1200", n, err)
	}
	count := func(q string) int {
		var n int
		if err := s.DB().QueryRow(q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if got := count("SELECT count(*) FROM traces"); got != 30 {
		t.Fatalf("%d traces left", got)
	}
	if got := storedSpanCount(t, s.DB(), spans.TraceID{}); got != 120 {
		t.Fatalf("%d spans left, want 120", got)
	}
	// Consistency: every stored span belongs to a kept trace (the old
	// traces' chunks went with them).
	kept := map[spans.TraceID]bool{}
	for _, f := range fresh {
		kept[f.TraceID] = true
	}
	for _, sp := range storedSpans(t, s.DB()) {
		if !kept[sp.trace] {
			t.Fatalf("span %s of deleted trace %s still stored", sp.span, sp.trace)
		}
	}
	if tr, err := s.GetTrace(ctx, fresh[0].TraceID); err != nil || len(tr.Events) != 1 {
		t.Fatalf("kept trace after retention: %v", err)
	}
	if _, err := s.GetTrace(ctx, old[0].TraceID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted trace: %v, want ErrNotFound", err)
	}
	if got := count("SELECT count(*) FROM stage_rollups WHERE minute < " + itoa(rollupMinute(now.Add(-24*time.Hour).UnixNano()))); got != 0 {
		t.Fatalf("%d old rollups kept", got)
	}
	br, err := s.StageBreakdown(ctx, time.Time{}, time.Time{}, "")
	if err != nil || len(br) == 0 || br[len(br)-1].Count != 30 {
		t.Fatalf("breakdown after retention: %+v %v", br, err)
	}
	// Size: shrink to (almost) nothing; the newest traces go last.
	n, err = s.ApplyRetention(ctx, 0, 1)
	if err != nil || n != 30 {
		t.Fatalf("size retention deleted %d, %v", n, err)
	}
	if got := storedSpanCount(t, s.DB(), spans.TraceID{}); got != 0 {
		t.Fatalf("%d spans after size retention", got)
	}
	var ic string
	if err := s.DB().QueryRow("PRAGMA integrity_check").Scan(&ic); err != nil || ic != "ok" {
		t.Fatalf("integrity %q %v", ic, err)
	}
	// Writing goes on after retention.
	if err := c.Ingest(ctx, ragTrace(now, false), nil); err != nil {
		t.Fatal(err)
	}
	if got := storedSpanCount(t, s.DB(), spans.TraceID{}); got != 4 {
		t.Fatalf("%d spans after new ingest", got)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
