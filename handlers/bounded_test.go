package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/handlers"
	"github.com/stagescope/stagescope/spans"
)

// A filtered list over a store larger than the scan budget stops at the
// budget: where nothing matches, the answer is empty, partial, says how far
// back it looked, and its cursor continues from there.
// newBigStore serves a store of collector.TraceScanBudget+1500 one-span
// traces a millisecond apart, all of service "bulk" and ok but the oldest
// two, which failed. It returns the traces' starts, oldest first, and the
// failed ones.
func newBigStore(t *testing.T, opts ...handlers.Option) (*seeded, []time.Time, map[spans.TraceID]bool) {
	t.Helper()
	const extra = 1500
	n := collector.TraceScanBudget + extra
	store, err := collector.OpenSQLite(filepath.Join(t.TempDir(), "big.db"))
	if err != nil {
		t.Fatal(err)
	}
	coll := collector.New(store, collector.WithErrorHandler(func(err error) { t.Errorf("collector: %v", err) }))
	ctx := context.Background()
	base := time.Now().Add(-30 * time.Minute).Truncate(time.Second)
	starts := make([]time.Time, n)
	failed := map[spans.TraceID]bool{}
	batch := make([]spans.Span, 0, 1000)
	for i := range n {
		starts[i] = base.Add(time.Duration(i) * time.Millisecond)
		sp := spans.Span{TraceID: spans.NewTraceID(), SpanID: spans.NewSpanID(), Name: "bulk", Stage: spans.StageQuery,
			Start: starts[i], End: starts[i].Add(5 * time.Millisecond), Status: spans.StatusOK,
			Attrs: []spans.Attribute{spans.String(spans.KeyService, "bulk")}}
		if i < 2 {
			sp.Status, sp.Err = spans.StatusError, "failed early"
			failed[sp.TraceID] = true
		}
		batch = append(batch, sp)
		if len(batch) == cap(batch) || i == n-1 {
			if err := coll.Ingest(ctx, batch, nil); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if err := coll.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	s := &seeded{t: t, store: store, coll: coll, client: &http.Client{Timeout: time.Minute}}
	s.srv = handlers.New(store, coll, opts...)
	s.ts = httptest.NewServer(s.srv.Handler())
	t.Cleanup(s.close)
	return s, starts, failed
}

func TestFilteredTraceListStopsAtScanBudget(t *testing.T) {
	s, starts, failed := newBigStore(t)
	n := len(starts)

	// The newest TraceScanBudget traces are the ones examined: the scan
	// stops at the budget-th newest.
	stop := starts[n-collector.TraceScanBudget]
	for _, filter := range []string{"status=error", "stage=tool", "min_duration=1s", "name=nothing", "status=error&stage=query"} {
		var first handlers.TraceList
		s.getJSON("/api/traces?"+filter, http.StatusOK, &first)
		if len(first.Traces) != 0 || !first.Partial || first.NextCursor == "" || first.ScannedTo == nil {
			t.Fatalf("%s, first page: %d traces, partial %v, cursor %q, scanned to %v; want empty, partial, a cursor",
				filter, len(first.Traces), first.Partial, first.NextCursor, first.ScannedTo)
		}
		if !first.ScannedTo.Equal(stop) || first.ScannedMs != stop.UnixMilli() {
			t.Errorf("%s: scanned to %v (%d ms), want %v", filter, first.ScannedTo, first.ScannedMs, stop)
		}
		// The second page examines the remaining traces and ends.
		var second handlers.TraceList
		s.getJSON("/api/traces?"+filter+"&cursor="+url.QueryEscape(first.NextCursor), http.StatusOK, &second)
		want := 0
		if filter == "status=error" || filter == "status=error&stage=query" {
			want = 2
		}
		if len(second.Traces) != want || second.Partial || second.NextCursor != "" {
			t.Errorf("%s, second page: %d traces, partial %v, cursor %q; want %d, complete, no cursor",
				filter, len(second.Traces), second.Partial, second.NextCursor, want)
		}
		for _, r := range second.Traces {
			if !failed[mustTraceID(t, r.TraceID)] {
				t.Errorf("%s: trace %s is not one of the failed ones", filter, r.TraceID)
			}
		}
	}

	// Filters an index answers are exact in one page: the window, and no
	// filter at all.
	var recent handlers.TraceList
	s.getJSON(fmt.Sprintf("/api/traces?limit=1000&from=%d", starts[n-10].UnixMilli()), http.StatusOK, &recent)
	if len(recent.Traces) != 10 || recent.Partial || recent.NextCursor != "" {
		t.Errorf("last ten: %d traces, partial %v, cursor %q", len(recent.Traces), recent.Partial, recent.NextCursor)
	}
	// A service is an index range (traces_by_service): exact and complete
	// at once, even when the service has no trace at all.
	var svc, nobody handlers.TraceList
	s.getJSON("/api/traces?service=bulk", http.StatusOK, &svc)
	if len(svc.Traces) != collector.DefaultTraceLimit || svc.Partial || svc.NextCursor == "" {
		t.Errorf("service=bulk: %d traces, partial %v, cursor %q", len(svc.Traces), svc.Partial, svc.NextCursor)
	}
	s.getJSON("/api/traces?service=nobody", http.StatusOK, &nobody)
	if len(nobody.Traces) != 0 || nobody.Partial || nobody.NextCursor != "" {
		t.Errorf("service=nobody: %d traces, partial %v, cursor %q; want a complete empty answer", len(nobody.Traces), nobody.Partial, nobody.NextCursor)
	}
	// A page that fills up before the budget is not partial: its cursor
	// is its last trace's.
	var page handlers.TraceList
	s.getJSON("/api/traces?limit=5&stage=query", http.StatusOK, &page)
	if len(page.Traces) != 5 || page.Partial || page.NextCursor == "" {
		t.Errorf("a full filtered page: %d traces, partial %v, cursor %q", len(page.Traces), page.Partial, page.NextCursor)
	}

	// The report's sample examines up to collector.SampleFrameBudget
	// traces of the window (index entries and their rows, no trace read
	// whole), so a sparse filter over this window is complete: both failed
	// traces, and it says so.
	var r handlers.ReportResponse
	s.getJSON("/api/report?status=error", http.StatusOK, &r)
	if r.Partial || r.TracesAnalysed != 2 || r.Examined != 2 || r.TracesMatched == nil || *r.TracesMatched != 2 {
		t.Errorf("report of a sparse filter: partial %v, analysed %d, examined %d, matched %v", r.Partial, r.TracesAnalysed, r.Examined, r.TracesMatched)
	}
}

func mustTraceID(t *testing.T, s string) spans.TraceID {
	t.Helper()
	id, err := spans.ParseTraceID(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// A sorted list is sorted by the server over the window, not over the
// rows a page loaded: the longest trace comes first though it is older
// than the first page. Past the scan budget the newest traces are sorted
// and the page says so; a window within the budget is sorted whole.
func TestSortedTraceListInBrowser(t *testing.T) {
	bin := chromium(t)
	s, starts, _ := newBigStore(t)
	n := len(starts)
	ctx := context.Background()
	long := func(at time.Time, d time.Duration) spans.TraceID {
		sp := spans.Span{TraceID: spans.NewTraceID(), SpanID: spans.NewSpanID(), Name: "long", Stage: spans.StageQuery,
			Start: at, End: at.Add(d), Status: spans.StatusOK, Attrs: []spans.Attribute{spans.String(spans.KeyService, "bulk")}}
		if err := s.coll.Ingest(ctx, []spans.Span{sp}, nil); err != nil {
			t.Fatal(err)
		}
		return sp.TraceID
	}
	inside := long(starts[n-5000].Add(time.Microsecond), 900*time.Millisecond) // among the newest, not on the first page
	outside := long(starts[100].Add(time.Microsecond), 2*time.Second)          // older than the budget reaches
	if err := s.coll.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// The API: partial on every page, the same traces sorted.
	var first, second handlers.TraceList
	s.getJSON("/api/traces?sort=-duration&limit=2", http.StatusOK, &first)
	if len(first.Traces) != 2 || first.Traces[0].TraceID != inside.String() || !first.Partial || first.Sort != "-duration" || first.NextCursor == "" {
		t.Fatalf("first sorted page: %+v", first)
	}
	stop := starts[n-collector.TraceScanBudget+1] // the long trace inside is one of the newest TraceScanBudget
	if !first.ScannedTo.Equal(stop) {
		t.Errorf("sorted back to %v, want %v", first.ScannedTo, stop)
	}
	s.getJSON("/api/traces?sort=-duration&limit=2&cursor="+url.QueryEscape(first.NextCursor), http.StatusOK, &second)
	if len(second.Traces) != 2 || !second.Partial || !second.ScannedTo.Equal(stop) || second.Traces[0].DurationMs != 5 {
		t.Errorf("second sorted page: %+v", second)
	}
	for _, bad := range []string{"sort=name", "sort=--duration", "sort=duration&attr=a%3Db", "sort=duration&cursor=s1_2"} {
		if msg := s.errorOf("/api/traces?"+bad, http.StatusBadRequest); msg == "" {
			t.Errorf("%s: no error message", bad)
		}
	}

	b := startBrowser(t, bin, s)
	b.open("traces", "traces")
	b.click(`th[data-sort="duration"]`)
	b.waitFor("the server's order", `document.querySelector('#trace-list').dataset.sort === '-duration' && document.body.dataset.state === 'ready'`)
	rowIDs := `[...document.querySelectorAll('.traces-table tbody tr')].map(r => r.dataset.traceId)`
	if ids := b.evalStrings(rowIDs); len(ids) != 100 || ids[0] != inside.String() || contains(ids, outside.String()) {
		t.Fatalf("sorted rows: %d, first %s", len(ids), ids[0])
	}
	if got := b.text("#trace-scanned"); !strings.HasPrefix(got, "Sorted over the traces back to ") || !strings.Contains(got, "narrow the window") {
		t.Errorf("note %q", got)
	}
	if got := b.text("#load-more"); got != "Load more" {
		t.Errorf("button %q", got)
	}
	if got := b.text("#trace-count"); got != "100+ traces" {
		t.Errorf("count %q", got)
	}
	b.click("#load-more")
	b.waitFor("the second page", `document.querySelectorAll('.traces-table tbody tr').length === 200`)
	if ids := b.evalStrings(rowIDs); ids[0] != inside.String() || contains(ids[1:], inside.String()) {
		t.Error("the second page repeats or reorders the first")
	}
	// A window the budget covers is sorted whole: the oldest long trace
	// comes first, and nothing says partial.
	b.open(fmt.Sprintf("traces?sort=-duration&from=%d&to=%d", starts[0].UnixMilli(), starts[1000].UnixMilli()), "traces")
	b.waitFor("the window sorted", `document.querySelector('#trace-list').dataset.sort === '-duration'`)
	if ids := b.evalStrings(rowIDs); len(ids) != 100 || ids[0] != outside.String() {
		t.Errorf("narrow window: %d rows, first %s", len(ids), ids[0])
	}
	if b.evalInt(`document.querySelector('#trace-scanned').hidden ? 1 : 0`) != 1 {
		t.Errorf("a whole-window sort says %q", b.text("#trace-scanned"))
	}
	b.shot("traces-sorted-by-server")
	b.checkClean("sorted list")
}
