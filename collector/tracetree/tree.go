package tracetree

import (
	"slices"
	"time"

	"github.com/stagescope/stagescope/spans"
)

// Flags describe how a span sits in its trace.
type Flags uint8

const (
	// Orphan: the span's parent is not in the trace; the root adopted it.
	Orphan Flags = 1 << iota
	// ClockSkew: the span starts before its parent, or (parent of another
	// service) ends after it by no more than the skew bound.
	ClockSkew
	// FireAndForget: the span ends after its parent did: the parent
	// returned without waiting for it.
	FireAndForget
	// Unreachable: the span is in a parent cycle, not under the root.
	Unreachable
)

// Anomalies counts the flagged spans of a trace. MissingRoot counts traces,
// not spans: 1 when the trace's root span never arrived — it has no span
// without a parent, and its top-level spans name parents it does not hold
// (the request's outermost span was never ended and exported, or was
// dropped) — so its outcome and its end-to-end latency are unknown.
type Anomalies struct {
	Orphans       int `json:"orphans"`
	ClockSkew     int `json:"clock_skew"`
	FireAndForget int `json:"fire_and_forget"`
	Unreachable   int `json:"unreachable"`
	MissingRoot   int `json:"missing_root"`
}

// Any reports whether any span is flagged.
func (a Anomalies) Any() bool { return a != Anomalies{} }

// Add adds b to a.
func (a *Anomalies) Add(b Anomalies) {
	a.Orphans += b.Orphans
	a.ClockSkew += b.ClockSkew
	a.FireAndForget += b.FireAndForget
	a.Unreachable += b.Unreachable
	a.MissingRoot += b.MissingRoot
}

// Node is one span of a built trace.
type Node struct {
	Span *spans.Span // nil for a virtual root
	// Start and End are nanoseconds from Tree.Base; End ≥ Start (an
	// unended span has End = Start).
	Start, End int64
	// Parent is the parent node (the adopting root for an orphan), -1 for
	// the root and for unreachable nodes.
	Parent int32
	Flags  Flags
	first  int32 // children are Tree.kids[first : first+num]
	num    int32
}

// Duration returns End − Start.
func (n *Node) Duration() int64 { return n.End - n.Start }

// Tree is a trace arranged as a tree. Build fills it; a Tree is reused from
// trace to trace, and the slices it returns are valid until the next Build.
type Tree struct {
	// Base is the earliest span start of the trace: time 0 of the nodes.
	Base time.Time
	// Nodes holds one node per non-nil span, in the order of Trace.Spans,
	// then the virtual root when there is one.
	Nodes []Node
	// Root is the root node's index.
	Root int32
	// Order is the nodes reachable from the root, breadth first, root
	// first.
	Order []int32
	// Anomalies counts the flagged nodes.
	Anomalies Anomalies

	baseNs            int64 // Base as Unix nanoseconds
	maxTol, skewBound int64
	kids              []int32
	index             map[spans.SpanID]int32
	count             []int32
	ivals             []Interval
}

// New returns an empty Tree.
func New(opts ...Option) *Tree {
	t := &Tree{index: map[spans.SpanID]int32{}, maxTol: int64(DefaultMaxTolerance), skewBound: int64(DefaultSkewBound)}
	for _, o := range opts {
		o(t)
	}
	return t
}

// Build arranges t. It returns false, and leaves the tree empty, for a trace
// without spans.
func (tr *Tree) Build(t Trace) bool {
	tr.Nodes, tr.kids, tr.Order = tr.Nodes[:0], tr.kids[:0], tr.Order[:0]
	tr.Anomalies = Anomalies{}
	tr.Root = -1
	// Offsets are taken from the first span's start, then shifted to the
	// earliest: one pass over the spans, and Time.Sub keeps using the
	// monotonic clock of in-process spans.
	tr.Nodes = slices.Grow(tr.Nodes, len(t.Spans)+1)
	tr.Order = slices.Grow(tr.Order, len(t.Spans)+1)
	var ref time.Time
	var earliest int64
	first := -1
	for _, s := range t.Spans {
		if s == nil {
			continue
		}
		if first < 0 {
			ref, first = s.Start, len(tr.Nodes)
		}
		start := int64(s.Start.Sub(ref))
		end := start
		if !s.End.IsZero() {
			end = max(int64(s.End.Sub(ref)), start)
		}
		if start < earliest {
			earliest, first = start, len(tr.Nodes)
		}
		tr.Nodes = append(tr.Nodes, Node{Span: s, Start: start, End: end, Parent: -1})
	}
	if first < 0 {
		return false
	}
	tr.Base = tr.Nodes[first].Span.Start
	tr.baseNs = tr.Base.UnixNano()
	if earliest != 0 {
		for i := range tr.Nodes {
			tr.Nodes[i].Start -= earliest
			tr.Nodes[i].End -= earliest
		}
	}
	n := int32(len(tr.Nodes))
	// Parents are found by a scan in small traces, by a map in large ones.
	useIndex := n > smallTrace
	if useIndex {
		clear(tr.index)
		for i := range tr.Nodes {
			tr.index[tr.Nodes[i].Span.SpanID] = int32(i)
		}
	}

	// Link parents; the longest (then earliest) parentless span is the
	// root candidate.
	roots, root := 0, int32(-1)
	for i := range tr.Nodes {
		s := tr.Nodes[i].Span
		if s.ParentID.IsZero() {
			roots++
			if root < 0 || tr.longer(int32(i), root) {
				root = int32(i)
			}
			continue
		}
		if p, ok := tr.find(s.ParentID, useIndex); ok && p != int32(i) {
			tr.Nodes[i].Parent = p
		} else {
			tr.Nodes[i].Flags |= Orphan
			tr.Anomalies.Orphans++
		}
	}
	if roots == 0 && tr.Anomalies.Orphans > 0 {
		tr.Anomalies.MissingRoot = 1
	}
	if roots != 1 {
		// A virtual root over every top-level span.
		v := Node{Parent: -1}
		firstTop := true
		for i := range tr.Nodes {
			nd := &tr.Nodes[i]
			if nd.Span.ParentID.IsZero() || nd.Flags&Orphan != 0 {
				if firstTop || nd.Start < v.Start {
					v.Start = nd.Start
				}
				if firstTop || nd.End > v.End {
					v.End = nd.End
				}
				firstTop = false
			}
		}
		if firstTop { // every span is in a parent cycle
			v.Start, v.End = 0, 0
		}
		tr.Nodes = append(tr.Nodes, v)
		root = n
		n++
	}
	tr.Root = root
	for i := range tr.Nodes {
		nd := &tr.Nodes[i]
		if int32(i) == root || nd.Span == nil {
			continue
		}
		if nd.Span.ParentID.IsZero() || nd.Flags&Orphan != 0 {
			nd.Parent = root
		}
	}

	// Children in compressed rows.
	tr.count = slices.Grow(tr.count[:0], int(n)+1)[:n+1]
	clear(tr.count)
	for i := range tr.Nodes {
		if p := tr.Nodes[i].Parent; p >= 0 {
			tr.count[p+1]++
		}
	}
	for i := int32(1); i <= n; i++ {
		tr.count[i] += tr.count[i-1]
	}
	for i := range tr.Nodes {
		tr.Nodes[i].first, tr.Nodes[i].num = tr.count[i], tr.count[i+1]-tr.count[i]
	}
	tr.kids = slices.Grow(tr.kids[:0], int(n))[:n]
	for i := range tr.Nodes {
		if p := tr.Nodes[i].Parent; p >= 0 {
			tr.kids[tr.count[p]] = int32(i)
			tr.count[p]++
		}
	}

	// Breadth-first from the root; children sorted by start on the way,
	// and checked against their parent.
	tr.Order = append(tr.Order, tr.Root)
	for i := 0; i < len(tr.Order); i++ {
		v := tr.Order[i]
		kids := tr.Children(v)
		tr.sortByStart(kids)
		if tr.Nodes[v].Span != nil {
			for _, c := range kids {
				tr.checkClock(v, c)
			}
		}
		tr.Order = append(tr.Order, kids...)
	}
	if len(tr.Order) < len(tr.Nodes) {
		reached := make([]bool, len(tr.Nodes)) // parent cycles only: rare
		for _, v := range tr.Order {
			reached[v] = true
		}
		for i := range tr.Nodes {
			if !reached[i] {
				tr.Nodes[i].Flags |= Unreachable
				tr.Nodes[i].Parent = -1
				tr.Anomalies.Unreachable++
			}
		}
	}
	return true
}

// smallTrace is the span count up to which parents are found by scanning
// the nodes rather than through a map.
const smallTrace = 32

// find returns the node of span id: the last one, if the ID is repeated.
func (tr *Tree) find(id spans.SpanID, useIndex bool) (int32, bool) {
	if useIndex {
		p, ok := tr.index[id]
		return p, ok
	}
	for i := len(tr.Nodes) - 1; i >= 0; i-- {
		if tr.Nodes[i].Span.SpanID == id {
			return int32(i), true
		}
	}
	return -1, false
}

// checkClock flags child c when it lies outside its parent p by more than
// the clocks' tolerance. Orphans are not checked: their real parent is
// unknown.
func (tr *Tree) checkClock(p, c int32) {
	pn, cn := &tr.Nodes[p], &tr.Nodes[c]
	if cn.Flags&Orphan != 0 {
		return
	}
	var f Flags
	tol := max(tr.spanTick(pn), tr.spanTick(cn))
	if early := pn.Start - cn.Start; early > 0 && early > tol {
		f = ClockSkew
	}
	if late := cn.End - pn.End; late > 0 && f == 0 && late > tol {
		f = FireAndForget
		if late <= tr.skewBound && pn.Span.Service() != cn.Span.Service() {
			f = ClockSkew
		}
	}
	switch f {
	case ClockSkew:
		tr.Anomalies.ClockSkew++
	case FireAndForget:
		tr.Anomalies.FireAndForget++
	}
	cn.Flags |= f
}

// longer reports whether node a is a better trace root than b: longer, and
// earlier on ties.
func (tr *Tree) longer(a, b int32) bool {
	na, nb := &tr.Nodes[a], &tr.Nodes[b]
	da, db := na.End-na.Start, nb.End-nb.Start
	return da > db || (da == db && na.Start < nb.Start)
}

// sortByStart orders sibling nodes by start, stably.
func (tr *Tree) sortByStart(kids []int32) {
	if len(kids) <= 16 {
		for i := 1; i < len(kids); i++ {
			for j := i; j > 0 && tr.Nodes[kids[j]].Start < tr.Nodes[kids[j-1]].Start; j-- {
				kids[j], kids[j-1] = kids[j-1], kids[j]
			}
		}
		return
	}
	slices.SortStableFunc(kids, func(a, b int32) int {
		sa, sb := tr.Nodes[a].Start, tr.Nodes[b].Start
		switch {
		case sa < sb:
			return -1
		case sa > sb:
			return 1
		}
		return 0
	})
}

// Children returns the children of node v in start order. The slice belongs
// to the tree: callers may reorder it only if they put it back.
func (tr *Tree) Children(v int32) []int32 {
	n := &tr.Nodes[v]
	return tr.kids[n.first : n.first+n.num]
}

// SelfTime returns node v's duration minus the union of its children's
// intervals clipped to it (see SelfTime).
func (tr *Tree) SelfTime(v int32) int64 {
	n := &tr.Nodes[v]
	if n.End <= n.Start {
		return 0
	}
	return n.End - n.Start - coveredSorted(n.Start, n.End, tr.childIntervals(v), nil)
}

// SelfIntervals appends to dst the pieces of node v's interval that none of
// its children cover — when v ran its own code — in time order, and returns
// them with their total length, SelfTime(v).
func (tr *Tree) SelfIntervals(v int32, dst []Interval) ([]Interval, int64) {
	n := &tr.Nodes[v]
	if n.End <= n.Start {
		return dst, 0
	}
	covered := coveredSorted(n.Start, n.End, tr.childIntervals(v), &dst)
	return dst, n.End - n.Start - covered
}

// childIntervals returns v's children's intervals in start order, in
// scratch space valid until the next call.
func (tr *Tree) childIntervals(v int32) []Interval {
	tr.ivals = tr.ivals[:0]
	for _, c := range tr.Children(v) {
		cn := &tr.Nodes[c]
		tr.ivals = append(tr.ivals, Interval{cn.Start, cn.End})
	}
	return tr.ivals
}

// Tick returns the resolution of timestamp t (nanoseconds from Base): the
// coarsest power-of-ten unit from 1 ns up to the maximum tolerance that
// divides it, as a Unix time or as an offset from the trace start.
func (tr *Tree) Tick(t int64) int64 {
	return min(max(unit(t), unit(tr.baseNs+t)), tr.maxTol)
}

// spanTick is the resolution of node n's timestamps: the coarser tick of
// its start and its end. An end is often the start plus an elapsed time
// read from a finer clock (the JS SDKs: Date.now() at the start, then
// performance.now()), so it carries the start's rounding however fine it
// looks; comparing two spans' ends takes the coarser of their span ticks.
//
// The trace's earliest start is 0 from Base, which every unit divides: its
// tick is read as a Unix time only.
func (tr *Tree) spanTick(n *Node) int64 {
	start := min(unit(tr.baseNs), tr.maxTol)
	if n.Start != 0 {
		start = tr.Tick(n.Start)
	}
	return max(start, tr.Tick(n.End))
}

// Tolerance returns the overlap between timestamps a and b (nanoseconds from
// Base) that is taken for clock rounding: the coarser of their ticks.
func (tr *Tree) Tolerance(a, b int64) int64 { return max(tr.Tick(a), tr.Tick(b)) }

// unit returns the coarsest of 1 ns … 1 ms that divides x (1 ms for 0).
// Finest first: a nanosecond clock leaves on the first test.
func unit(x int64) int64 {
	switch {
	case x%10 != 0:
		return 1
	case x%100 != 0:
		return 10
	case x%1_000 != 0:
		return 100
	case x%10_000 != 0:
		return 1_000
	case x%100_000 != 0:
		return 10_000
	case x%1_000_000 != 0:
		return 100_000
	}
	return 1_000_000
}
