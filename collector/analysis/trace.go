package analysis

import (
	"slices"
	"time"

	"github.com/stagescope/stagescope/spans"
)

// Trace is the spans of one trace, in any order. Spans whose parent is
// missing are attached to the trace's root span when the trace has exactly
// one; otherwise every top-level span hangs under a virtual root that covers
// them all (its own time is charged to StageOther).
type Trace struct {
	Spans []*spans.Span `json:"spans"`
}

// ID returns the trace ID of the first span (zero for an empty trace).
func (t Trace) ID() spans.TraceID {
	for _, s := range t.Spans {
		if s != nil {
			return s.TraceID
		}
	}
	return spans.TraceID{}
}

// node is one span of a trace, in nanoseconds from the trace's earliest start.
type node struct {
	span       *spans.Span // nil for the virtual root
	start, end int64
	stage      spans.Stage
	parent     int32
	first, num int32 // children in tree.kids[first : first+num]
	// failed marks an attempt span of a retry that ended in error.
	failed bool
	// waitOutside is a pool job's queue wait that happened before its span
	// started (0 when the span includes the wait or the span is no job).
	waitOutside int64
}

// tree is a trace arranged for analysis. It is reused from trace to trace to
// keep Analyze's allocations per trace small.
type tree struct {
	base  time.Time
	nodes []node
	kids  []int32
	order []int32 // breadth-first from root: the reachable nodes
	root  int32
	index map[spans.SpanID]int32
	count []int32
	ivals []interval
}

type interval struct{ lo, hi int64 }

func newTree() *tree { return &tree{index: make(map[spans.SpanID]int32)} }

// stageIndex maps a span's stage to a slot, folding unknown stages to other.
func stageIndex(s spans.Stage) spans.Stage {
	if !s.Valid() {
		return spans.StageOther
	}
	return s
}

// build arranges t; it returns false for a trace without spans.
func (tr *tree) build(t Trace) bool {
	tr.nodes, tr.kids, tr.order = tr.nodes[:0], tr.kids[:0], tr.order[:0]
	clear(tr.index)
	first := true
	for _, s := range t.Spans {
		if s == nil {
			continue
		}
		if first || s.Start.Before(tr.base) {
			tr.base, first = s.Start, false
		}
	}
	if first {
		return false
	}
	for _, s := range t.Spans {
		if s == nil {
			continue
		}
		start := int64(s.Start.Sub(tr.base))
		end := start
		if !s.End.IsZero() {
			end = max(int64(s.End.Sub(tr.base)), start)
		}
		n := node{span: s, start: start, end: end, stage: stageIndex(s.Stage), parent: -1}
		if v, ok := s.Attr(spans.KeyRetryAttempt); ok && v.Kind() != spans.KindInvalid &&
			(s.Status == spans.StatusError || s.Status == spans.StatusDropped) {
			n.failed = true
		}
		if w := intAttr(s, spans.KeyPoolQueueNanos); w > 0 {
			run := intAttr(s, spans.KeyPoolRunNanos)
			dur := end - start
			included := dur >= w
			if run > 0 {
				included = dur-run >= w/2
			}
			if !included {
				n.waitOutside = w
			}
		}
		tr.index[s.SpanID] = int32(len(tr.nodes))
		tr.nodes = append(tr.nodes, n)
	}
	n := int32(len(tr.nodes))
	// Link parents; count true roots.
	roots, root := 0, int32(-1)
	for i := range tr.nodes {
		s := tr.nodes[i].span
		if s.ParentID.IsZero() {
			roots++
			if root < 0 || tr.longer(int32(i), root) {
				root = int32(i)
			}
			continue
		}
		if p, ok := tr.index[s.ParentID]; ok && p != int32(i) {
			tr.nodes[i].parent = p
		}
	}
	if roots == 1 {
		for i := range tr.nodes {
			if int32(i) != root && tr.nodes[i].parent < 0 {
				tr.nodes[i].parent = root
			}
		}
		tr.root = root
	} else {
		v := node{stage: spans.StageOther, parent: -1}
		firstTop := true
		for i := range tr.nodes {
			if tr.nodes[i].parent >= 0 {
				continue
			}
			tr.nodes[i].parent = n
			if firstTop || tr.nodes[i].start < v.start {
				v.start = tr.nodes[i].start
			}
			if firstTop || tr.nodes[i].end > v.end {
				v.end = tr.nodes[i].end
			}
			firstTop = false
		}
		tr.nodes = append(tr.nodes, v)
		tr.root = n
		n++
	}
	// Children in compressed rows, ordered by start.
	tr.count = slices.Grow(tr.count[:0], int(n)+1)[:n+1]
	clear(tr.count)
	for i := range tr.nodes {
		if p := tr.nodes[i].parent; p >= 0 {
			tr.count[p+1]++
		}
	}
	for i := int32(1); i <= n; i++ {
		tr.count[i] += tr.count[i-1]
	}
	for i := range tr.nodes {
		tr.nodes[i].first, tr.nodes[i].num = tr.count[i], tr.count[i+1]-tr.count[i]
	}
	tr.kids = slices.Grow(tr.kids[:0], int(n))[:n]
	for i := range tr.nodes {
		if p := tr.nodes[i].parent; p >= 0 {
			tr.kids[tr.count[p]] = int32(i)
			tr.count[p]++
		}
	}
	// Breadth-first order from the root (spans in parent cycles are not
	// reachable and are left out).
	tr.order = append(tr.order, tr.root)
	for i := 0; i < len(tr.order); i++ {
		v := &tr.nodes[tr.order[i]]
		tr.order = append(tr.order, tr.kids[v.first:v.first+v.num]...)
	}
	return true
}

// longer reports whether node a is a better trace root than b: longer, and
// earlier on ties.
func (tr *tree) longer(a, b int32) bool {
	na, nb := &tr.nodes[a], &tr.nodes[b]
	da, db := na.end-na.start, nb.end-nb.start
	return da > db || (da == db && na.start < nb.start)
}

// children returns the children of v.
func (tr *tree) children(v int32) []int32 {
	n := &tr.nodes[v]
	return tr.kids[n.first : n.first+n.num]
}

// selfTime returns v's duration minus the union of its children's intervals
// clipped to v.
func (tr *tree) selfTime(v int32) int64 {
	n := &tr.nodes[v]
	tr.ivals = tr.ivals[:0]
	for _, c := range tr.children(v) {
		cn := &tr.nodes[c]
		lo, hi := max(cn.start, n.start), min(cn.end, n.end)
		if hi > lo {
			tr.ivals = append(tr.ivals, interval{lo, hi})
		}
	}
	return (n.end - n.start) - unionLength(tr.ivals)
}

// unionLength sorts ivals by start and returns the length of their union.
func unionLength(ivals []interval) int64 {
	switch len(ivals) {
	case 0:
		return 0
	case 1:
		return ivals[0].hi - ivals[0].lo
	}
	if len(ivals) <= 16 {
		for i := 1; i < len(ivals); i++ {
			for j := i; j > 0 && ivals[j].lo < ivals[j-1].lo; j-- {
				ivals[j], ivals[j-1] = ivals[j-1], ivals[j]
			}
		}
	} else {
		slices.SortFunc(ivals, func(a, b interval) int {
			switch {
			case a.lo < b.lo:
				return -1
			case a.lo > b.lo:
				return 1
			}
			return 0
		})
	}
	var total int64
	lo, hi := ivals[0].lo, ivals[0].hi
	for _, iv := range ivals[1:] {
		if iv.lo > hi {
			total += hi - lo
			lo, hi = iv.lo, iv.hi
		} else if iv.hi > hi {
			hi = iv.hi
		}
	}
	return total + hi - lo
}

// SelfTime returns span's duration minus the union of its children's
// intervals. Children may overlap one another and may extend outside span;
// they are clipped to it.
func SelfTime(span *spans.Span, children []*spans.Span) time.Duration {
	if span == nil || span.End.IsZero() || !span.End.After(span.Start) {
		return 0
	}
	ivals := make([]interval, 0, len(children))
	end := int64(span.End.Sub(span.Start))
	for _, c := range children {
		if c == nil || c.End.IsZero() {
			continue
		}
		lo := max(int64(c.Start.Sub(span.Start)), 0)
		hi := min(int64(c.End.Sub(span.Start)), end)
		if hi > lo {
			ivals = append(ivals, interval{lo, hi})
		}
	}
	return time.Duration(end - unionLength(ivals))
}

// intAttr reads an integer (or float) attribute, 0 when absent.
func intAttr(s *spans.Span, key string) int64 {
	v, ok := s.Attr(key)
	if !ok {
		return 0
	}
	switch v.Kind() {
	case spans.KindInt64:
		return v.AsInt64()
	case spans.KindFloat64:
		return int64(v.AsFloat64())
	}
	return 0
}
