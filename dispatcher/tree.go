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
// A span whose parent is not in the set is printed as a root.
func WriteTraceTrees(w io.Writer, set []*spans.Span) error {
	byID := make(map[spans.SpanID]*spans.Span, len(set))
	for _, s := range set {
		byID[s.SpanID] = s
	}
	children := make(map[spans.SpanID][]*spans.Span)
	var roots []*spans.Span
	for _, s := range set {
		if _, ok := byID[s.ParentID]; ok && !s.ParentID.IsZero() {
			children[s.ParentID] = append(children[s.ParentID], s)
		} else {
			roots = append(roots, s)
		}
	}
	byStart := func(a, b *spans.Span) int { return a.Start.Compare(b.Start) }
	slices.SortStableFunc(roots, byStart)
	var b strings.Builder
	var walk func(s *spans.Span, depth int)
	walk = func(s *spans.Span, depth int) {
		b.WriteString(strings.Repeat("  ", depth))
		fmt.Fprintf(&b, "%s [%s] %s", s.Name, s.Stage, s.Duration().Round(time.Microsecond))
		switch s.Status {
		case spans.StatusError:
			fmt.Fprintf(&b, " ERROR: %s", s.Err)
		case spans.StatusDropped:
			fmt.Fprintf(&b, " DROPPED: %s", s.Err)
		}
		b.WriteByte('\n')
		kids := children[s.SpanID]
		slices.SortStableFunc(kids, byStart)
		for _, k := range kids {
			walk(k, depth+1)
		}
	}
	for i, r := range roots {
		if i > 0 && r.TraceID != roots[i-1].TraceID {
			b.WriteByte('\n')
		}
		walk(r, 0)
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
