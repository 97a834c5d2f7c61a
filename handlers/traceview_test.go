package handlers_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/handlers"
	"github.com/stagescope/stagescope/spans"
)

// The trace view arranges a trace by the one tree rule (package tracetree),
// as the report does: a span whose parent never arrived hangs under the
// root, flagged, and counts against the root's self time; a trace with two
// top-level spans shows both at depth 0; spans in a parent cycle are listed
// last, flagged.
func TestTraceViewUsesTheOneTreeRule(t *testing.T) {
	at := time.Now().Add(-10 * time.Minute).Truncate(time.Millisecond)
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	span := func(tid spans.TraceID, id, parent spans.SpanID, name string, from, to int) spans.Span {
		return spans.Span{TraceID: tid, SpanID: id, ParentID: parent, Name: name, Stage: spans.StageOther,
			Start: at.Add(ms(from)), End: at.Add(ms(to)), Status: spans.StatusOK}
	}
	// root 0–100 ms with retrieve 10–30; llm 40–90 names a parent that
	// never arrived.
	orphaned := spans.NewTraceID()
	root, retrieve, llm, lost := spans.NewSpanID(), spans.NewSpanID(), spans.NewSpanID(), spans.NewSpanID()
	// Two top-level spans, and a pair of spans that name each other.
	forest := spans.NewTraceID()
	a, b, c1, c2 := spans.NewSpanID(), spans.NewSpanID(), spans.NewSpanID(), spans.NewSpanID()
	s := serveIngested(t, func(ctx context.Context, coll *collector.Collector) {
		if err := coll.Ingest(ctx, []spans.Span{
			span(orphaned, root, spans.SpanID{}, "query", 0, 100),
			span(orphaned, retrieve, root, "retrieve", 10, 30),
			span(orphaned, llm, lost, "llm", 40, 90),
			span(forest, a, spans.SpanID{}, "first", 0, 20),
			span(forest, b, spans.SpanID{}, "second", 30, 50),
			span(forest, c1, c2, "cycle-1", 5, 10),
			span(forest, c2, c1, "cycle-2", 6, 9),
		}, nil); err != nil {
			t.Fatal(err)
		}
	})

	type row struct {
		name   string
		depth  int
		selfMs float64
		flags  []string
	}
	view := func(id spans.TraceID) []row {
		var d handlers.TraceDetail
		s.getJSON("/api/traces/"+id.String(), http.StatusOK, &d)
		var out []row
		for _, sp := range d.Spans {
			out = append(out, row{sp.Name, sp.Depth, sp.SelfMs, sp.Flags})
		}
		return out
	}
	same := func(got, want []row) bool {
		return slices.EqualFunc(got, want, func(x, y row) bool {
			return x.name == y.name && x.depth == y.depth && x.selfMs == y.selfMs && slices.Equal(x.flags, y.flags)
		})
	}
	if got, want := view(orphaned), []row{
		{"query", 0, 30, nil}, // 100 − retrieve 20 − llm 50
		{"retrieve", 1, 20, nil},
		{"llm", 1, 50, []string{"orphan"}},
	}; !same(got, want) {
		t.Errorf("orphaned trace:\n got %+v\nwant %+v", got, want)
	}
	if got, want := view(forest), []row{
		{"first", 0, 20, nil},
		{"second", 0, 20, nil},
		// Each of the cycle's spans is the other's child (5−3 and 3−3).
		{"cycle-1", 0, 2, []string{"unreachable"}},
		{"cycle-2", 0, 0, []string{"unreachable"}},
	}; !same(got, want) {
		t.Errorf("trace with two top-level spans and a cycle:\n got %+v\nwant %+v", got, want)
	}

	t.Run("browser", func(t *testing.T) {
		b := startBrowser(t, chromium(t), s)
		b.open("trace/"+orphaned.String(), "trace")
		if got := b.evalStrings(`[...document.querySelectorAll('.span-flag')].map(e => e.closest('.span-row').querySelector('.span-name').textContent + ':' + e.dataset.flag)`); !slices.Equal(got, []string{"llm:orphan"}) {
			t.Errorf("flag badges %q, want [llm:orphan]", got)
		}
		if got := b.evalStrings(`[...document.querySelectorAll('.span-row .wf-label')].map(e => e.style.paddingLeft)`); !slices.Equal(got, []string{"0.3em", "1.4em", "1.4em"}) {
			t.Errorf("indents %q, want the root then two children", got)
		}
		b.checkClean("trace")
	})
}
