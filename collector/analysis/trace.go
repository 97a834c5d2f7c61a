package analysis

import (
	"slices"
	"time"

	"github.com/stagescope/stagescope/collector/tracetree"
	"github.com/stagescope/stagescope/spans"
)

// Trace is the spans of one trace, in any order: tracetree's one trace
// model. How its tree is built — orphans adopted by the root, a virtual root
// (charged to StageOther) for a trace without a single root — is described in
// package tracetree.
type Trace = tracetree.Trace

// node is what the analysis reads of one span of a trace, in nanoseconds
// from the trace's earliest start: the tracetree node with the stage folded
// and the analysis' own annotations.
type node struct {
	span       *spans.Span // nil for the virtual root
	start, end int64
	stage      spans.Stage
	parent     int32
	flags      tracetree.Flags
	// failed marks an attempt span of a retry that ended in error.
	failed bool
	// waitOutside is a pool job's queue wait that happened before its span
	// started (0 when the span includes the wait or the span is no job).
	waitOutside int64
}

// tree is a trace arranged for analysis: a tracetree.Tree (the one tree
// builder) and a node per tracetree node. It is reused from trace to trace to
// keep Analyze's allocations per trace small.
type tree struct {
	tt    *tracetree.Tree
	base  time.Time
	nodes []node
	order []int32 // breadth-first from root: the reachable nodes
	root  int32
}

type interval struct{ lo, hi int64 }

func newTree() *tree { return &tree{tt: tracetree.New()} }

// stageIndex maps a span's stage to a slot, folding unknown stages to other.
func stageIndex(s spans.Stage) spans.Stage {
	if !s.Valid() {
		return spans.StageOther
	}
	return s
}

// build arranges t; it returns false for a trace without spans.
func (tr *tree) build(t Trace) bool {
	tt := tr.tt
	if !tt.Build(t) {
		tr.nodes, tr.order = tr.nodes[:0], tr.order[:0]
		return false
	}
	tr.base, tr.order, tr.root = tt.Base, tt.Order, tt.Root
	tr.nodes = slices.Grow(tr.nodes[:0], len(tt.Nodes))
	for i := range tt.Nodes {
		tn := &tt.Nodes[i]
		n := node{span: tn.Span, start: tn.Start, end: tn.End, stage: spans.StageOther, parent: tn.Parent, flags: tn.Flags}
		if s := tn.Span; s != nil {
			n.stage = stageIndex(s.Stage)
			if s.Status == spans.StatusError || s.Status == spans.StatusDropped {
				if v, ok := s.Attr(spans.KeyRetryAttempt); ok && v.Kind() != spans.KindInvalid {
					n.failed = true
				}
			}
			if w := intAttr(s, spans.KeyPoolQueueNanos); w > 0 {
				run := intAttr(s, spans.KeyPoolRunNanos)
				dur := n.end - n.start
				included := dur >= w
				if run > 0 {
					included = dur-run >= w/2
				}
				if !included {
					n.waitOutside = w
				}
			}
		}
		tr.nodes = append(tr.nodes, n)
	}
	return true
}

// children returns the children of v in start order.
func (tr *tree) children(v int32) []int32 { return tr.tt.Children(v) }

// selfTime returns v's self time (tracetree's one computation).
func (tr *tree) selfTime(v int32) int64 { return tr.tt.SelfTime(v) }

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
