package collector

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/stagescope/stagescope/spans"
)

// sampleStore is a store of n synthetic traces spread over the day before
// now (one every 86400/n seconds, so none in the minute under way for the
// sizes used here).
func sampleStore(t *testing.T, n int) *SQLiteStore {
	t.Helper()
	s := openStore(t)
	if _, err := GenerateSynthetic(context.Background(), s, n, 7); err != nil {
		t.Fatal(err)
	}
	return s
}

// dayQuery is the day of synthetic traces up to ten minutes ago, so that
// no trace starts in the minute under way.
func dayQuery() TraceQuery {
	return TraceQuery{From: time.Now().Add(-25 * time.Hour), To: time.Now().Add(-10 * time.Minute)}
}

// storedIn counts the traces starting in [from, to).
func storedIn(t *testing.T, s *SQLiteStore, from, to time.Time) int64 {
	t.Helper()
	var n int64
	if err := s.DB().QueryRow("SELECT count(*) FROM traces WHERE start_ns >= ? AND start_ns < ?", from.UnixNano(), to.UnixNano()).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func sampleIDs(ts []*Trace) []spans.TraceID {
	out := make([]spans.TraceID, len(ts))
	for i, t := range ts {
		out[i] = t.Summary.TraceID
	}
	return out
}

func TestSampleTracesEveryTraceBelowBudget(t *testing.T) {
	s := sampleStore(t, 300)
	ts, info, err := s.SampleTraces(context.Background(), dayQuery(), 300)
	if err != nil {
		t.Fatal(err)
	}
	n := int(storedIn(t, s, info.From, info.To))
	if n < 295 || info.Sampled || len(ts) != n || info.TracesAnalysed != n || info.TracesMatched == nil || *info.TracesMatched != int64(n) || info.Partial {
		t.Fatalf("%d traces in the window: sampled %v, %d traces, analysed %d, matched %v, partial %v", n, info.Sampled, len(ts), info.TracesAnalysed, info.TracesMatched, info.Partial)
	}
	if want := fmt.Sprintf("every trace of the window (%d, no more than the budget of 300)", n); info.Method != want {
		t.Errorf("method %q, want %q", info.Method, want)
	}
	// Oldest first, each once.
	if !slices.IsSortedFunc(ts, func(a, b *Trace) int { return a.Summary.Start.Compare(b.Summary.Start) }) {
		t.Error("traces not in start order")
	}
	// One more than the budget samples.
	if _, info, err = s.SampleTraces(context.Background(), dayQuery(), n-1); err != nil || !info.Sampled || info.HashSampled != n-1 {
		t.Errorf("budget %d: sampled %v, %d by hash, %v", n-1, info.Sampled, info.HashSampled, err)
	}
}

func TestSampleTracesDeterministicWithEverySlowTrace(t *testing.T) {
	s := sampleStore(t, 3000)
	ctx := context.Background()
	a, ia, err := s.SampleTraces(ctx, dayQuery(), 200)
	if err != nil {
		t.Fatal(err)
	}
	// A later call with a window given differently (a second later, same
	// minutes) reads the same traces.
	q := dayQuery()
	q.From = q.From.Add(time.Second)
	b, ib, err := s.SampleTraces(ctx, q, 200)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sampleIDs(a), sampleIDs(b)) || ia.Method != ib.Method {
		t.Fatalf("two calls differ: %d and %d traces (%q, %q)", len(a), len(b), ia.Method, ib.Method)
	}
	n := storedIn(t, s, ia.From, ia.To)
	if n < 2950 || !ia.Sampled || ia.Partial || ia.HashSampled != 200 || ia.Examined != n || *ia.TracesMatched != n {
		t.Fatalf("%d traces in the window; info %+v", n, ia)
	}
	// The threshold is the window's p95 from the rollups, as the Overview
	// shows it.
	pts, err := s.Timeseries(ctx, ia.From, ia.To.Add(-time.Minute), ia.To.Sub(ia.From))
	if err != nil || len(pts) != 1 {
		t.Fatal(len(pts), err)
	}
	if ia.SlowThreshold != pts[0].P95 || ia.Window.Source != "rollups" || ia.Window.Traces != n {
		t.Errorf("slow threshold %v, window %+v; rollups p95 %v", ia.SlowThreshold, ia.Window, pts[0].P95)
	}
	// Every trace of the window at or above the threshold is in.
	slow, err := s.ListTraces(ctx, TraceQuery{From: ia.From, To: ia.To.Add(-1), MinDuration: ia.SlowThreshold, Limit: MaxTraceLimit})
	if err != nil || slow.Partial {
		t.Fatal(err)
	}
	in := map[spans.TraceID]bool{}
	for _, id := range sampleIDs(a) {
		in[id] = true
	}
	for _, st := range slow.Traces {
		if !in[st.TraceID] {
			t.Fatalf("slow trace %s (%v ≥ %v) not in the sample", st.TraceID, st.Duration, ia.SlowThreshold)
		}
	}
	// About 5% are slow (3000 traces, ±2.2% on the threshold).
	if len(slow.Traces) != ia.SlowTraces || ia.SlowTraces < 100 || ia.SlowTraces > 200 {
		t.Errorf("%d slow traces in the window, info says %d", len(slow.Traces), ia.SlowTraces)
	}
	if len(a) != 200+ia.SlowAdded || ia.TracesAnalysed != len(a) {
		t.Errorf("%d traces: 200 by hash + %d slow added, analysed %d", len(a), ia.SlowAdded, ia.TracesAnalysed)
	}
	// The hash draw is uniform: its traces span the day.
	var early int
	for _, tr := range a {
		if tr.Summary.Duration < ia.SlowThreshold && tr.Summary.Start.Before(ia.From.Add(12*time.Hour)) {
			early++
		}
	}
	if early < 60 || early > 140 {
		t.Errorf("%d of the ~190 fast traces drawn start in the first half of the day", early)
	}
}

// A window holding more than the frame is read in sub-windows: bounded,
// still deterministic, still every slow trace among those examined.
func TestSampleTracesSlicedFrame(t *testing.T) {
	s := sampleStore(t, 3000)
	defer func(v int) { sampleFrameLimit = v }(sampleFrameLimit)
	sampleFrameLimit = 800 // 20 per sub-window
	ctx := context.Background()
	a, ia, err := s.SampleTraces(ctx, dayQuery(), 100)
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := s.SampleTraces(ctx, dayQuery(), 100)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sampleIDs(a), sampleIDs(b)) {
		t.Fatal("two calls differ")
	}
	if n := storedIn(t, s, ia.From, ia.To); !ia.Sampled || !ia.Partial || ia.Examined != 800 || ia.HashSampled != 100 || ia.TracesMatched == nil || *ia.TracesMatched != n {
		t.Fatalf("%d traces in the window; info %+v", n, ia)
	}
	// The examined traces are the oldest 20 of each sub-window, so the
	// sample spans the whole day.
	first, last := a[0].Summary.Start, a[len(a)-1].Summary.Start
	if last.Sub(first) < 22*time.Hour {
		t.Errorf("sample spans only %v to %v of a day of traces", first, last)
	}
	var slowIn int
	for _, tr := range a {
		if tr.Summary.Duration >= ia.SlowThreshold {
			slowIn++
		}
	}
	if slowIn != ia.SlowTraces || ia.SlowTraces == 0 {
		t.Errorf("%d slow traces in the sample, %d examined", slowIn, ia.SlowTraces)
	}
}

// A filter the index does not answer is tested on the frame's rows.
func TestSampleTracesFiltered(t *testing.T) {
	s := sampleStore(t, 600)
	ctx := context.Background()
	q := dayQuery()
	q.Status = StatusWithErrors
	ts, info, err := s.SampleTraces(ctx, q, 1000)
	if err != nil {
		t.Fatal(err)
	}
	want, err := s.ListTraces(ctx, TraceQuery{From: info.From, To: info.To.Add(-1), Status: StatusWithErrors, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if info.Sampled || len(ts) != len(want.Traces) || len(ts) == 0 {
		t.Fatalf("%d traces sampled (sampled %v), %d listed", len(ts), info.Sampled, len(want.Traces))
	}
	for _, tr := range ts {
		if tr.Summary.ErrorCount == 0 {
			t.Fatalf("trace %s has no error", tr.Summary.TraceID)
		}
	}
}

func TestAlignWindow(t *testing.T) {
	s := openStore(t)
	now := time.Date(2026, 1, 2, 10, 30, 40, 0, time.UTC)
	for _, c := range []struct {
		from, to, wantFrom, wantTo time.Time
	}{
		// "The last hour" at 10:30:40: the minute under way is left out.
		{now.Add(-time.Hour), now, time.Date(2026, 1, 2, 9, 30, 0, 0, time.UTC), time.Date(2026, 1, 2, 10, 30, 0, 0, time.UTC)},
		// A window ending a millisecond before a minute keeps that minute.
		{time.Date(2026, 1, 2, 9, 0, 0, 0, time.UTC), time.Date(2026, 1, 2, 9, 9, 59, 999e6, time.UTC), time.Date(2026, 1, 2, 9, 0, 0, 0, time.UTC), time.Date(2026, 1, 2, 9, 10, 0, 0, time.UTC)},
		// Less than a minute is one whole minute.
		{time.Date(2026, 1, 2, 9, 0, 10, 0, time.UTC), time.Date(2026, 1, 2, 9, 0, 10, 0, time.UTC), time.Date(2026, 1, 2, 9, 0, 0, 0, time.UTC), time.Date(2026, 1, 2, 9, 1, 0, 0, time.UTC)},
	} {
		from, to, err := s.AlignWindow(context.Background(), TraceQuery{From: c.from, To: c.to}, now)
		if err != nil || !from.Equal(c.wantFrom) || !to.Equal(c.wantTo) {
			t.Errorf("[%v, %v] → [%v, %v), want [%v, %v) (%v)", c.from, c.to, from, to, c.wantFrom, c.wantTo, err)
		}
	}
}

func TestTraceHashSpreadsSequentialIDs(t *testing.T) {
	// Sequential ids must not all land in one part of the hash range.
	var low int
	for i := range 10000 {
		var id spans.TraceID
		id[15], id[14] = byte(i), byte(i>>8)
		if traceHash(id) < math.MaxUint64/2 {
			low++
		}
	}
	if low < 4700 || low > 5300 {
		t.Errorf("%d of 10000 sequential ids hash into the lower half", low)
	}
}

// The minute under way is left out of a window — unless the window holds
// no trace before it and some in it (a pipeline attached seconds ago): then
// a report right away reads them instead of answering with nothing.
func TestWindowOfTracesOnlyInTheMinuteUnderWay(t *testing.T) {
	s := openStore(t)
	c := New(s)
	ctx := context.Background()
	now := time.Now()
	var batch []spans.Span
	for range 5 {
		batch = append(batch, spans.Span{TraceID: spans.NewTraceID(), SpanID: spans.NewSpanID(), Name: "query", Stage: spans.StageQuery,
			Start: now.Add(-time.Millisecond), End: now, Status: spans.StatusOK})
	}
	if err := c.Ingest(ctx, batch, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	ts, info, err := s.SampleTraces(ctx, TraceQuery{From: now.Add(-time.Hour)}, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 5 || !info.To.After(now) {
		t.Fatalf("%d traces in [%v, %v), want the 5 that started at %v", len(ts), info.From, info.To, now)
	}
	// A window with no trace in its minute under way leaves that minute
	// out, as always.
	at := time.Date(2026, 1, 2, 10, 30, 40, 0, time.UTC)
	from, to, err := s.AlignWindow(ctx, TraceQuery{From: at.Add(-time.Hour)}, at)
	if err != nil || !to.Equal(at.Truncate(time.Minute)) || !from.Equal(at.Add(-time.Hour).Truncate(time.Minute)) {
		t.Errorf("window [%v, %v) at %v (%v)", from, to, at, err)
	}
}

// A source that reads its window in memory leaves the minute under way out
// as the store's sample does, unless the window holds nothing before it.
func TestLeaveMinuteUnderWay(t *testing.T) {
	now := time.Date(2026, 12, 4, 10, 9, 30, 0, time.UTC)
	at := func(m, s int) *Trace {
		return &Trace{Summary: TraceSummary{Start: time.Date(2026, 12, 4, 10, m, s, 0, time.UTC)}}
	}
	ts := []*Trace{at(8, 10), at(9, 5), at(8, 59), at(9, 29)}
	kept, to := LeaveMinuteUnderWay(ts, now.Truncate(time.Minute).Add(time.Minute), now)
	if len(kept) != 2 || kept[0] != ts[0] || kept[1] != ts[2] || !to.Equal(now.Truncate(time.Minute)) {
		t.Errorf("kept %d, to %v; want the two before 10:09 and a window ending at 10:09", len(kept), to)
	}
	only := []*Trace{at(9, 5), at(9, 29)}
	if kept, to := LeaveMinuteUnderWay(only, now.Add(time.Minute), now); len(kept) != 2 || !to.Equal(now.Add(time.Minute)) {
		t.Errorf("a window with traces only in the minute under way: kept %d, to %v; want both and the window unchanged", len(kept), to)
	}
	ended := now.Add(-5 * time.Minute).Truncate(time.Minute)
	if kept, to := LeaveMinuteUnderWay(ts, ended, now); len(kept) != 4 || !to.Equal(ended) {
		t.Errorf("a window that ended: kept %d, to %v; want it untouched", len(kept), to)
	}
}
