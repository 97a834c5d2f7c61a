package handlers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/stagescope/stagescope/spans"
)

func TestTraceListInBrowser(t *testing.T) {
	bin := chromium(t)
	s := newSeeded(t)
	// A trace still running: one child span arrived, its root not yet.
	inflight := spans.NewTraceID()
	start := time.Now().Add(-2 * time.Minute)
	if err := s.coll.Ingest(context.Background(), []spans.Span{{TraceID: inflight, SpanID: spans.NewSpanID(), ParentID: spans.NewSpanID(),
		Name: "retrieve", Stage: spans.StageRetrieve, Start: start, End: start.Add(5 * time.Millisecond), Status: spans.StatusOK}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.coll.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	total := seedTotal + 1
	b0 := startBrowser(t, bin, s)
	durations := `[...document.querySelectorAll('.traces-table tbody tr td:nth-child(3)')].map(td => td.textContent)`

	t.Run("in-flight traces are marked", func(t *testing.T) {
		b := b0.with(t)
		b.open("traces", "traces")
		if n := b.count(".traces-table tbody tr"); n != total {
			t.Fatalf("%d rows, want %d", n, total)
		}
		row := fmt.Sprintf(`tr[data-trace-id=%q]`, inflight.String())
		if got := b.text(row + " .badge.in-flight"); got != "in flight" {
			t.Errorf("in-flight badge %q", got)
		}
		if strings.Contains(b.viewText(), "no root span") {
			t.Error("the list still says (no root span)")
		}
		b.click(row + " a.trace-name")
		b.waitFor("the in-flight trace", `document.body.dataset.page === 'trace' && document.body.dataset.state === 'ready'`)
		if got := b.text(".trace-head .badge.in-flight"); got != "in flight" {
			t.Errorf("trace page badge %q", got)
		}
		b.checkClean("in flight")
	})

	t.Run("sortable columns", func(t *testing.T) {
		b := b0.with(t)
		b.open("traces", "traces")
		b.click(`th[data-sort="duration"]`)
		b.waitFor("sorted by duration", `location.hash.includes('sort=-duration') && document.querySelector('#trace-list').dataset.sort === '-duration'`)
		if got := b.text("#trace-count"); got != fmt.Sprintf("%d traces", total) {
			t.Errorf("count %q of a list the server sorted", got)
		}
		d := b.evalStrings(durations)
		if len(d) != total || d[0] != "880 ms" || d[1] != "880 ms" || d[len(d)-1] != "5.00 ms" {
			t.Errorf("longest first: %v", d)
		}
		if got := b.evalStrings(`[document.querySelector('th[data-sort="duration"]').getAttribute('aria-sort')]`)[0]; got != "descending" {
			t.Errorf("aria-sort %q", got)
		}
		b.click(`th[data-sort="duration"]`)
		b.waitFor("ascending", `location.hash.includes('sort=duration') && !location.hash.includes('sort=-') && document.querySelector('#trace-list').dataset.sort === 'duration'`)
		if d = b.evalStrings(durations); d[0] != "5.00 ms" || d[len(d)-1] != "880 ms" {
			t.Errorf("shortest first: %v", d)
		}
		b.click(`th[data-sort="name"]`)
		names := b.evalStrings(`[...document.querySelectorAll('.traces-table tbody tr td:nth-child(2)')].map(td => td.textContent)`)
		// A to Z; the in-flight trace has no name yet and comes first.
		if !strings.Contains(names[0], "in flight") || names[1] != nameHostile || !strings.HasPrefix(names[2], "query: acme") {
			t.Errorf("by name: %q", names[:3])
		}
		// Names sort the loaded rows (durations were sorted by the server).
		if got := b.text("#trace-count"); got != fmt.Sprintf("%d traces (the loaded ones sorted)", total) {
			t.Errorf("count %q", got)
		}
		// The order survives a reload.
		b.open("traces?sort=-duration", "traces")
		if d = b.evalStrings(durations); d[0] != "880 ms" {
			t.Errorf("after reload: %v", d[:3])
		}
		b.checkClean("sort")
	})

	t.Run("trace id lookup", func(t *testing.T) {
		b := b0.with(t)
		b.open("traces", "traces")
		b.setValue("#trace-id-input", "not-an-id")
		b.click(`#trace-lookup button[type="submit"]`)
		b.waitFor("the refusal", `!document.querySelector('#trace-id-error').hidden`)
		if got := b.text("#trace-id-error"); !strings.Contains(got, "not a trace id") {
			t.Errorf("error %q", got)
		}
		id := s.ids["slow"][1].String()
		b.setValue("#trace-id-input", " "+strings.ToUpper(id)+" ")
		b.click(`#trace-lookup button[type="submit"]`)
		b.waitFor("the trace", fmt.Sprintf(`document.body.dataset.page === 'trace' && document.body.dataset.state === 'ready' && location.hash.includes(%q)`, id))
		if got := b.text(".trace-title"); got != nameSlow {
			t.Errorf("opened %q", got)
		}
		b.checkClean("lookup")
	})

	t.Run("min and max duration", func(t *testing.T) {
		b := b0.with(t)
		b.open("traces", "traces")
		b.setValue(`input[name="min_duration"]`, "150ms")
		b.setValue(`input[name="max_duration"]`, "500ms")
		b.click(`#trace-filters button[type="submit"]`)
		b.waitFor("the filter", fmt.Sprintf(`location.hash.includes('max_duration=500ms') && document.body.dataset.state === 'ready' && document.querySelectorAll('.traces-table tbody tr').length === %d`, seedRun))
		for _, d := range b.evalStrings(durations) {
			if d != "200 ms" {
				t.Errorf("150–500 ms shows a trace of %s", d)
			}
		}
		b.checkClean("durations")
	})

	t.Run("scatter box selects traces", func(t *testing.T) {
		b := b0.with(t)
		b.open("traces", "traces")
		b.waitFor("the scatter", `!!document.querySelector('#duration-scatter .u-over')`)
		left, top, width, height := b.rect("#duration-scatter .u-over")
		// The y axis runs from 0 to 1.08 × the longest (880 ms): a box from
		// the top down to 500 ms, across all of time, holds the slow traces.
		y500 := top + height*(1-500/(880*1.08))
		dragBox := func(x0, y0, x1, y1 float64) {
			acts := []chromedp.Action[chromedp.Void]{chromedp.MouseEvent(chromedp.MousePressed, x0, y0, chromedp.ButtonLeft)}
			for k := 1; k <= 6; k++ {
				f := float64(k) / 6
				acts = append(acts, chromedp.MouseEvent(chromedp.MouseMoved, x0+(x1-x0)*f, y0+(y1-y0)*f, chromedp.ButtonLeft))
			}
			acts = append(acts, chromedp.MouseEvent(chromedp.MouseReleased, x1, y1, chromedp.ButtonLeft))
			if err := chromedp.Do(b.ctx, acts...); err != nil {
				t.Fatal(err)
			}
		}
		dragBox(left+1, top+1, left+width-1, y500)
		b.waitFor("the box filter", fmt.Sprintf(`location.hash.includes('min_duration=') && location.hash.includes('from=') && document.body.dataset.state === 'ready' && document.querySelectorAll('.traces-table tbody tr').length === %d`, seedSlow))
		hash := b.evalStrings(`[location.hash]`)[0]
		for _, d := range b.evalStrings(durations) {
			if d != "880 ms" {
				t.Errorf("the box kept a trace of %s (%s)", d, hash)
			}
		}
		// The box's times are the window of the page, shown in the picker.
		if got := b.evalStrings(`[document.querySelector('#range').value]`)[0]; got != "custom" {
			t.Errorf("window picker shows %q after the box, want custom", got)
		}
		b.shot("traces-scatter-box")
		b.checkClean("scatter")
	})

	t.Run("window in the URL", func(t *testing.T) {
		b := b0.with(t)
		b.open("traces?range=24h", "traces")
		if got := b.evalStrings(`[document.querySelector('#range').value]`)[0]; got != "24h" {
			t.Errorf("picker %q, want 24h from the URL", got)
		}
		for _, href := range b.evalStrings(`[...document.querySelectorAll('#nav a')].map(a => a.getAttribute('href'))`) {
			if !strings.Contains(href, "range=24h") {
				t.Errorf("nav link %q loses the window", href)
			}
		}
		b.pick("#range", "6h")
		b.waitFor("the new window", `location.hash.includes('range=6h') && document.body.dataset.state === 'ready'`)
		// A window that holds no trace: the list says so.
		to := time.Now().Add(-48 * time.Hour).UnixMilli()
		b.open(fmt.Sprintf("traces?from=%d&to=%d", to-3600_000, to), "traces")
		if n := b.count(".traces-table tbody tr"); n != 0 {
			t.Errorf("%d rows in an empty window", n)
		}
		b.checkClean("window")
	})

	for _, d := range b0.dialogs.take() {
		t.Errorf("a script ran: %s", d)
	}
}
