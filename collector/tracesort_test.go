package collector

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stagescope/stagescope/spans"
)

// sortTrace is a trace of 1+kids spans lasting d, its root failed when fail.
func sortTrace(start time.Time, d time.Duration, kids int, fail bool) []spans.Span {
	tid := spans.NewTraceID()
	root := spans.Span{TraceID: tid, SpanID: spans.NewSpanID(), Name: "q", Stage: spans.StageQuery, Start: start, End: start.Add(d), Status: spans.StatusOK}
	if fail {
		root.Status = spans.StatusError
	}
	out := []spans.Span{}
	for range kids {
		out = append(out, spans.Span{TraceID: tid, SpanID: spans.NewSpanID(), ParentID: root.SpanID, Name: "k", Stage: spans.StageLLM, Start: start, End: start.Add(d / 2), Status: spans.StatusOK})
	}
	return append(out, root)
}

// A sorted list is sorted over the whole window, page after page; past the
// scan budget it sorts the newest traces, says so on every page, and keeps
// sorting the same traces when new ones arrive between pages.
func TestSortedTraceList(t *testing.T) {
	s := openStore(t)
	c := newCollector(t, s)
	ctx := context.Background()
	// 50 traces a second apart; durations and span counts shuffled, with
	// ties, so the tie-breaks (start, id) matter.
	var all []spans.Span
	for i := range 50 {
		d := time.Duration((i*37)%23+1) * time.Millisecond
		all = append(all, sortTrace(t0.Add(time.Duration(i)*time.Second), d, (i*7)%5, i%4 == 0)...)
	}
	if err := c.Ingest(ctx, all, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	base := TraceQuery{From: t0, To: t0.Add(time.Hour)}
	// walk reads every page of q and checks each page's partial flag.
	walk := func(q TraceQuery, wantPartial bool) []TraceSummary {
		t.Helper()
		var out []TraceSummary
		for pages := 0; ; pages++ {
			page, err := s.ListTraces(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if page.Partial != wantPartial {
				t.Fatalf("sort %s page %d: partial %v", q.Sort, pages, page.Partial)
			}
			out = append(out, page.Traces...)
			if page.NextCursor == "" {
				return out
			}
			if (q.Sort != "-start") != strings.HasPrefix(page.NextCursor, "s") || CheckCursor(page.NextCursor) != nil {
				t.Fatalf("cursor %q", page.NextCursor)
			}
			q.Cursor = page.NextCursor
		}
	}
	everything, err := s.ListTraces(ctx, TraceQuery{From: base.From, To: base.To, Limit: 100})
	if err != nil || len(everything.Traces) != 50 {
		t.Fatalf("%d traces, %v", len(everything.Traces), err)
	}
	// want sorts ts as the store should.
	want := func(ts []TraceSummary, key string, desc bool) []spans.TraceID {
		ts = slices.Clone(ts)
		val := map[string]func(TraceSummary) int64{
			"start": func(x TraceSummary) int64 { return x.Start.UnixNano() }, "duration": func(x TraceSummary) int64 { return int64(x.Duration) },
			"spans": func(x TraceSummary) int64 { return int64(x.SpanCount) },
		}[key]
		slices.SortFunc(ts, func(a, b TraceSummary) int {
			c := cmp.Or(cmp.Compare(val(a), val(b)), a.Start.Compare(b.Start), strings.Compare(string(a.TraceID[:]), string(b.TraceID[:])))
			if desc {
				return -c
			}
			return c
		})
		out := make([]spans.TraceID, len(ts))
		for i, x := range ts {
			out[i] = x.TraceID
		}
		return out
	}
	ids := func(ts []TraceSummary) []spans.TraceID {
		out := make([]spans.TraceID, len(ts))
		for i, x := range ts {
			out[i] = x.TraceID
		}
		return out
	}
	for _, key := range []string{"start", "duration", "spans"} {
		for _, desc := range []bool{false, true} {
			sort := key
			if desc {
				sort = "-" + key
			}
			q := base
			q.Sort, q.Limit = sort, 7
			got := walk(q, false)
			if !slices.Equal(ids(got), want(everything.Traces, key, desc)) {
				t.Errorf("sort %s over the whole window: wrong order", sort)
			}
		}
	}
	// The longest trace first, and the order is not the start order.
	q := base
	q.Sort, q.Limit = "-duration", 3
	page, err := s.ListTraces(ctx, q)
	if err != nil || page.Traces[0].Duration != 23*time.Millisecond || page.Traces[0].Duration < page.Traces[2].Duration {
		t.Fatalf("longest first: %+v, %v", page.Traces, err)
	}

	// With a filter the rows test (the root failed): 13 traces.
	q = base
	q.Sort, q.Status, q.Limit = "spans", "error", 5
	failed := walk(q, false)
	if len(failed) != 13 {
		t.Fatalf("%d failed traces sorted, want 13", len(failed))
	}
	var failedAll []TraceSummary
	for _, x := range everything.Traces {
		if x.Status == spans.StatusError {
			failedAll = append(failedAll, x)
		}
	}
	if !slices.Equal(ids(failed), want(failedAll, "spans", false)) {
		t.Error("failed traces by span count: wrong order")
	}

	// A budget of 20: the newest 20 are sorted, every page says partial
	// and how far back; a trace arriving between pages stays out.
	q = base
	q.Sort, q.Limit, q.ScanBudget = "-duration", 6, 20
	first, err := s.ListTraces(ctx, q)
	if err != nil || !first.Partial || !first.ScannedTo.Equal(t0.Add(30*time.Second)) {
		t.Fatalf("bounded sort: partial %v back to %s, %v", first.Partial, first.ScannedTo, err)
	}
	late := sortTrace(t0.Add(55*time.Second), time.Second, 0, false)
	if err := c.Ingest(ctx, late, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	q.Cursor = first.NextCursor
	rest := walk(q, true)
	bounded := append(slices.Clone(first.Traces), rest...)
	if !slices.Equal(ids(bounded), want(everything.Traces[:20], "duration", true)) {
		t.Errorf("bounded sort over the newest 20: wrong traces or order (%d)", len(bounded))
	}

	// Refused: an unknown key, an attribute filter, a foreign cursor.
	for _, bad := range []TraceQuery{
		{Sort: "name"},
		{Sort: "duration", Attr: "k=v"},
		{Sort: "duration", Cursor: "s12_x"},
	} {
		if _, err := s.ListTraces(ctx, bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
