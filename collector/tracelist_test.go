package collector_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/spans"
)

// listStore writes n two-span traces a second apart (root query, child
// retrieve), each of services[i%len(services)]; the traces whose index is
// in failed have a failed child. It returns the store and the traces'
// starts, oldest first.
func listStore(t *testing.T, n int, services []string, failed map[int]bool) (*collector.SQLiteStore, []time.Time) {
	t.Helper()
	st, err := collector.OpenSQLite(filepath.Join(t.TempDir(), "list.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := collector.New(st, collector.WithErrorHandler(func(err error) { t.Errorf("collector: %v", err) }))
	ctx := context.Background()
	base := time.Now().Add(-time.Hour).Truncate(time.Minute)
	starts := make([]time.Time, n)
	var batch []spans.Span
	for i := range n {
		at := base.Add(time.Duration(i) * time.Second)
		starts[i] = at
		tid, root := spans.NewTraceID(), spans.NewSpanID()
		attrs := []spans.Attribute{spans.String(spans.KeyService, services[i%len(services)])}
		child := spans.Span{TraceID: tid, SpanID: spans.NewSpanID(), ParentID: root, Name: "retrieve", Stage: spans.StageRetrieve,
			Start: at.Add(time.Millisecond), End: at.Add(time.Duration(10+i%7) * time.Millisecond), Status: spans.StatusOK, Attrs: attrs}
		if failed[i] {
			child.Status, child.Err = spans.StatusError, "no index"
		}
		batch = append(batch, spans.Span{TraceID: tid, SpanID: root, Name: "query", Stage: spans.StageQuery,
			Start: at, End: at.Add(time.Duration(20+i%11) * time.Millisecond), Status: spans.StatusOK, Attrs: attrs}, child)
	}
	if err := c.Ingest(ctx, batch, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	return st, starts
}

// A filter no index answers examines at most ScanBudget traces per call;
// following the cursors visits every trace exactly once and finds every
// match.
func TestListTracesScanBudgetAndCursor(t *testing.T) {
	failed := map[int]bool{0: true, 1: true, 13: true}
	st, starts := listStore(t, 30, []string{"a"}, failed)
	ctx := context.Background()
	q := collector.TraceQuery{Status: collector.StatusWithErrors, ScanBudget: 10, Limit: 50}
	var found []time.Time
	var stops []time.Time
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("the cursor does not end")
		}
		p, err := st.ListTraces(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range p.Traces {
			found = append(found, s.Start)
		}
		if !p.Partial {
			if p.NextCursor != "" {
				t.Errorf("a complete page has a cursor %q", p.NextCursor)
			}
			break
		}
		stops = append(stops, p.ScannedTo)
		q.Cursor = p.NextCursor
	}
	// Newest first, ten at a time: stops at the 10th and 20th newest; the
	// last page (10 left) is complete.
	if want := []time.Time{starts[20], starts[10]}; fmt.Sprint(unixNanos(stops)) != fmt.Sprint(unixNanos(want)) {
		t.Errorf("scans stopped at %v, want %v", stops, want)
	}
	if want := []time.Time{starts[13], starts[1], starts[0]}; fmt.Sprint(unixNanos(found)) != fmt.Sprint(unixNanos(want)) {
		t.Errorf("found %v, want %v", found, want)
	}
	// A page that fills before the budget runs out is not partial.
	p, err := st.ListTraces(ctx, collector.TraceQuery{Stage: "retrieve", ScanBudget: 10, Limit: 4})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Traces) != 4 || p.Partial || !p.Traces[0].Start.Equal(starts[29]) {
		t.Errorf("full page: %d traces, partial %v", len(p.Traces), p.Partial)
	}
}

func unixNanos(ts []time.Time) []int64 {
	out := make([]int64, len(ts))
	for i, t := range ts {
		out[i] = t.UnixNano()
	}
	return out
}

// The stage breakdown computed from traces equals the one the writer's
// rollups hold, when both cover the same traces.
func TestRollupTracesAgreesWithStoredRollups(t *testing.T) {
	st, _ := listStore(t, 40, []string{"only"}, map[int]bool{3: true, 17: true})
	ctx := context.Background()
	stored, err := st.StageBreakdown(ctx, time.Time{}, time.Time{}, "")
	if err != nil {
		t.Fatal(err)
	}
	rl, err := st.RollupTraces(ctx, collector.TraceQuery{Service: "only"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := rl.StageBreakdown(time.Time{}, time.Time{})
	if len(stored) != 2 || fmt.Sprint(got) != fmt.Sprint(stored) {
		t.Errorf("from traces %+v\nfrom rollups %+v", got, stored)
	}
	if rl.Traces != 40 || rl.Partial {
		t.Errorf("read %d traces, partial %v", rl.Traces, rl.Partial)
	}
	// A bound: the newest 15, and it says where it stopped.
	part, err := st.RollupTraces(ctx, collector.TraceQuery{Service: "only"}, 15)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, s := range part.StageBreakdown(time.Time{}, time.Time{}) {
		if s.Stage == spans.StageQuery {
			n = s.Count
		}
	}
	if part.Traces != 15 || !part.Partial || n != 15 {
		t.Errorf("bounded rollup: %d traces read, partial %v, %d query spans", part.Traces, part.Partial, n)
	}
}

func TestServicesAndTheirCounts(t *testing.T) {
	st, starts := listStore(t, 30, []string{"x", "y", "z"}, nil)
	ctx := context.Background()
	l, err := st.Services(ctx, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(l.Services) != "[{x 10 false} {y 10 false} {z 10 false}]" || l.Partial || l.Truncated {
		t.Errorf("services %+v", l)
	}
	// The first four traces: x, y, z, x.
	l, err = st.Services(ctx, starts[0], starts[3])
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(l.Services) != "[{x 2 false} {y 1 false} {z 1 false}]" {
		t.Errorf("services of the first four traces %+v", l.Services)
	}
	n, atLeast, ok, err := st.CountServiceTraces(ctx, "y", starts[10], time.Time{})
	if err != nil || !ok || atLeast || n != 7 {
		t.Errorf("count of y from the 11th trace: %d (at least %v, ok %v, %v), want 7", n, atLeast, ok, err)
	}
}

// An attribute filter opens traces (a chunk to decompress each); besides
// its count it has a time budget, after which the page is partial and its
// cursor continues: on a large store no such list runs for seconds.
func TestAttrFilterStopsAtItsTimeBudget(t *testing.T) {
	st, starts := listStore(t, 300, []string{"a"}, nil)
	defer collector.SetAttrScanTime(time.Nanosecond)()
	ctx := context.Background()
	q := collector.TraceQuery{Attr: "customer=nobody", Limit: 50}
	p, err := st.ListTraces(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	// Newest first; the budget is checked every 64 traces opened.
	if !p.Partial || len(p.Traces) != 0 || !p.ScannedTo.Equal(starts[300-64]) || p.NextCursor == "" {
		t.Fatalf("partial %v, %d traces, scanned to %v (want %v), cursor %q", p.Partial, len(p.Traces), p.ScannedTo, starts[300-64], p.NextCursor)
	}
	pages := 1
	for p.NextCursor != "" {
		q.Cursor = p.NextCursor
		if p, err = st.ListTraces(ctx, q); err != nil {
			t.Fatal(err)
		}
		pages++
	}
	if pages != 5 { // 64, 128, 192, 256 opened, then the last 44
		t.Errorf("%d pages to search 300 traces, want 5", pages)
	}
}
