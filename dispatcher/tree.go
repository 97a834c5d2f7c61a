package dispatcher

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/stagescope/stagescope/spans"
)

// WriteTraceTrees prints the given spans as one indented tree per trace,
// children ordered by start time, with each span's stage, duration and
// status, in the spirit of LlamaIndex's print_trace_trees:
//
//	query [query] 12.4ms
//	  retrieve [retrieve] 3.1ms
//	  synthesize [synth] 8.9ms
//	    llm.chat [llm] 8.7ms ERROR: rate limited
//
// A span whose parent is not in the set follows the rule of every trace
// view in stagescope (package collector/tracetree): the trace's root adopts
// it and it is marked "(parent missing)"; when the trace has no single
// parentless span, such spans are printed at the top level with the
// parentless ones. Traces are printed in the order their first span
// appears in set.
func WriteTraceTrees(w io.Writer, set []*spans.Span) error {
	type key struct {
		trace spans.TraceID
		span  spans.SpanID
	}
	present := make(map[key]bool, len(set))
	for _, s := range set {
		present[key{s.TraceID, s.SpanID}] = true
	}
	var order []spans.TraceID
	byTrace := map[spans.TraceID][]*spans.Span{}
	for _, s := range set {
		if _, ok := byTrace[s.TraceID]; !ok {
			order = append(order, s.TraceID)
		}
		byTrace[s.TraceID] = append(byTrace[s.TraceID], s)
	}
	byStart := func(a, b *spans.Span) int { return a.Start.Compare(b.Start) }
	var b strings.Builder
	for ti, tid := range order {
		if ti > 0 {
			b.WriteByte('\n')
		}
		var top, orphans []*spans.Span
		children := map[spans.SpanID][]*spans.Span{}
		for _, s := range byTrace[tid] {
			switch {
			case s.ParentID.IsZero():
				top = append(top, s)
			case s.ParentID == s.SpanID || !present[key{tid, s.ParentID}]:
				orphans = append(orphans, s)
			default:
				children[s.ParentID] = append(children[s.ParentID], s)
			}
		}
		if len(top) == 1 {
			children[top[0].SpanID] = append(children[top[0].SpanID], orphans...)
		} else {
			top = append(top, orphans...)
		}
		orphan := make(map[*spans.Span]bool, len(orphans))
		for _, s := range orphans {
			orphan[s] = true
		}
		seen := map[*spans.Span]bool{}
		var walk func(s *spans.Span, depth int)
		walk = func(s *spans.Span, depth int) {
			if seen[s] {
				return
			}
			seen[s] = true
			b.WriteString(strings.Repeat("  ", depth))
			fmt.Fprintf(&b, "%s [%s] %s", s.Name, s.Stage, s.Duration().Round(time.Microsecond))
			switch s.Status {
			case spans.StatusError:
				fmt.Fprintf(&b, " ERROR: %s", s.Err)
			case spans.StatusDropped:
				fmt.Fprintf(&b, " DROPPED: %s", s.Err)
			}
			if orphan[s] {
				b.WriteString(" (parent missing)")
			}
			b.WriteByte('\n')
			kids := children[s.SpanID]
			slices.SortStableFunc(kids, byStart)
			for _, k := range kids {
				walk(k, depth+1)
			}
		}
		slices.SortStableFunc(top, byStart)
		for _, r := range top {
			walk(r, 0)
		}
		// Spans in a parent cycle are reachable from no top-level span.
		for _, s := range byTrace[tid] {
			if !seen[s] {
				walk(s, 0)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteTraceTrees prints the recorder's spans as trees.
func (r *Recorder) WriteTraceTrees(w io.Writer) error { return WriteTraceTrees(w, r.Spans()) }

// TreePrinter is a SpanHandler that prints a trace's tree to its writer each
// time a root span ends. It keeps the spans of unfinished traces in memory, so
// use it for development, not for long-running production pipelines. Make one
// with NewTreePrinter.
type TreePrinter struct {
	w       io.Writer
	mu      sync.Mutex
	pending map[spans.TraceID][]*spans.Span
}

// NewTreePrinter returns a TreePrinter writing to w.
func NewTreePrinter(w io.Writer) *TreePrinter {
	return &TreePrinter{w: w, pending: map[spans.TraceID][]*spans.Span{}}
}

func (p *TreePrinter) SpanStarted(*spans.Span) {}

// EndOnly tells the dispatcher not to call SpanStarted.
func (p *TreePrinter) EndOnly() bool { return true }

func (p *TreePrinter) SpanEnded(s *spans.Span) {
	p.mu.Lock()
	p.pending[s.TraceID] = append(p.pending[s.TraceID], s)
	var done []*spans.Span
	if s.IsRoot() {
		done = p.pending[s.TraceID]
		delete(p.pending, s.TraceID)
	}
	if done != nil {
		_ = WriteTraceTrees(p.w, done)
	}
	p.mu.Unlock()
}

var _ SpanHandler = (*TreePrinter)(nil)
