package analysis

import (
	"slices"
	"time"

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
	var segs []PathSegment
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
}

// walk charges the critical path of node v, which occupies [lo, hi] on its
// parent's path. wait is a window in which path time is charged to the
// pool (a job's queue wait); failed is set inside a failed retry attempt.
func (w *pathWalker) walk(v int32, lo, hi int64, wait interval, failed bool) {
	tr := w.tree
	kids := tr.children(v)
	// Children latest end first (ends clipped to hi).
	if len(kids) > 1 {
		end := func(c int32) int64 { return min(tr.nodes[c].end, hi) }
		if len(kids) <= 16 {
			for i := 1; i < len(kids); i++ {
				for j := i; j > 0 && end(kids[j]) > end(kids[j-1]); j-- {
					kids[j], kids[j-1] = kids[j-1], kids[j]
				}
			}
		} else {
			slices.SortFunc(kids, func(a, b int32) int {
				ea, eb := end(a), end(b)
				switch {
				case ea > eb:
					return -1
				case ea < eb:
					return 1
				}
				return 0
			})
		}
	}
	cur := hi
	for _, c := range kids {
		cn := &tr.nodes[c]
		cs, ce := max(cn.start, lo), min(cn.end, hi)
		if ce <= cs || ce > cur {
			continue // empty, or concurrent with the chain already taken
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
