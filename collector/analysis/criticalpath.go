package analysis

import (
	"slices"
	"time"

	"github.com/stagescope/stagescope/collector/tracetree"
	"github.com/stagescope/stagescope/spans"
)

// PathSegment is one stretch of a trace's critical path during which Span
// itself (not one of its children) was what the trace waited for.
type PathSegment struct {
	SpanID spans.SpanID `json:"span_id"` // zero for the virtual root of a trace without a single root
	Name   string       `json:"name"`
	Stage  spans.Stage  `json:"stage"`
	// ChargedTo is the stage the time is attributed to: Stage, except
	// inside a failed retry attempt (retry) or while a pool job waited for
	// a worker (pool).
	ChargedTo  spans.Stage   `json:"charged_to"`
	Start      time.Time     `json:"start"`
	End        time.Time     `json:"end"`
	Duration   time.Duration `json:"duration_ns"`
	DurationMs float64       `json:"duration_ms"`
}

// CriticalPath returns the critical path of t in time order. The segments
// tile the root's interval: their durations add up to the end-to-end
// latency.
func CriticalPath(t Trace) []PathSegment {
	tr := newTree()
	if !tr.build(t) {
		return nil
	}
	segs := make([]PathSegment, 0, len(tr.nodes)+1) // a path usually visits each span once or twice
	w := pathWalker{tree: tr, segs: &segs}
	r := &tr.nodes[tr.root]
	w.walk(tr.root, r.start, r.end, interval{}, false)
	slices.Reverse(segs)
	return segs
}

// pathWalker walks a tree's critical path and charges its time per stage.
type pathWalker struct {
	tree *tree
	attr []int64 // critical-path time per charged stage
	segs *[]PathSegment
	// byEnd is scratch for the children being walked, a stack shared by
	// the levels of the recursion.
	byEnd []int32
	// visit, when set, is told of every node on the path and the stretch
	// [lo, hi] of the path it (with its descendants) occupies.
	visit func(v int32, lo, hi int64)
}

// walk charges the critical path of node v, which occupies [lo, hi] on its
// parent's path. wait is a window in which path time is charged to the
// pool (a job's queue wait); failed is set inside a failed retry attempt.
//
// Walking back from hi, it takes the child that ends last before the
// current point, then the one that ends last before that child started, and
// so on; time between them is v's own. A child that ends after the current
// point overlaps the step already taken: by no more than the clocks'
// tolerance (tracetree.Tree.Tolerance: one tick of the coarser timestamp,
// ≤ 1 ms) it is a sequential step whose end was rounded, and is taken with
// its end clipped; by more, it ran concurrently and is not on the path.
// Children are clipped to v; a child that v did not wait for (flagged
// fire-and-forget: it outlived v) is never on v's path.
func (w *pathWalker) walk(v int32, lo, hi int64, wait interval, failed bool) {
	tr := w.tree
	if w.visit != nil {
		w.visit(v, lo, hi)
	}
	mark := len(w.byEnd)
	w.byEnd = append(w.byEnd, tr.children(v)...)
	kids := w.byEnd[mark:]
	// Children latest end first (ends clipped to hi), earlier start first
	// on ties: of two children ending together the longer bounds the wait.
	if len(kids) > 1 {
		less := func(a, b int32) bool {
			ea, eb := min(tr.nodes[a].end, hi), min(tr.nodes[b].end, hi)
			return ea > eb || (ea == eb && tr.nodes[a].start < tr.nodes[b].start)
		}
		if len(kids) <= 16 {
			for i := 1; i < len(kids); i++ {
				for j := i; j > 0 && less(kids[j], kids[j-1]); j-- {
					kids[j], kids[j-1] = kids[j-1], kids[j]
				}
			}
		} else {
			slices.SortStableFunc(kids, func(a, b int32) int {
				switch {
				case less(a, b):
					return -1
				case less(b, a):
					return 1
				}
				return 0
			})
		}
	}
	cur := hi
	for _, c := range kids {
		cn := &tr.nodes[c]
		if cn.flags&tracetree.FireAndForget != 0 {
			continue // v returned without waiting for it
		}
		cs, ce := max(cn.start, lo), min(cn.end, hi)
		if ce > cur {
			if ce-cur > tr.tt.Tolerance(cn.end, cur) {
				continue // concurrent with the chain already taken
			}
			ce = cur // sequential; its end was rounded past the next start
		}
		if ce <= cs {
			continue
		}
		if ce < cur {
			w.charge(v, ce, cur, wait, failed)
		}
		w.walk(c, cs, ce, wait, failed || cn.failed)
		if cn.waitOutside > 0 {
			wait = interval{cs - cn.waitOutside, cs}
		}
		cur = cs
		if cur <= lo {
			break
		}
	}
	if cur > lo {
		w.charge(v, lo, cur, wait, failed)
	}
	w.byEnd = w.byEnd[:mark]
}

func (w *pathWalker) charge(v int32, lo, hi int64, wait interval, failed bool) {
	n := &w.tree.nodes[v]
	d := hi - lo
	bucket := n.stage
	if failed {
		bucket = spans.StageRetry
	}
	var pooled int64
	if wait.hi > wait.lo {
		pooled = max(min(hi, wait.hi)-max(lo, wait.lo), 0)
	}
	if w.attr != nil {
		w.attr[bucket] += d - pooled
		w.attr[spans.StagePool] += pooled
	}
	if w.segs == nil {
		return
	}
	seg := func(lo, hi int64, to spans.Stage) {
		if hi <= lo {
			return
		}
		s := PathSegment{Stage: n.stage, ChargedTo: to,
			Start: w.tree.base.Add(time.Duration(lo)), End: w.tree.base.Add(time.Duration(hi)),
			Duration: time.Duration(hi - lo), DurationMs: ms(hi - lo)}
		if n.span != nil {
			s.SpanID, s.Name = n.span.SpanID, n.span.Name
		}
		*w.segs = append(*w.segs, s)
	}
	if pooled == 0 {
		seg(lo, hi, bucket)
		return
	}
	// Segments are collected latest first; split around the wait window.
	pl, ph := max(lo, wait.lo), min(hi, wait.hi)
	seg(ph, hi, bucket)
	seg(pl, ph, spans.StagePool)
	seg(lo, pl, bucket)
}
