package collector

import "slices"

// interval is a span's [start, end) in Unix nanoseconds.
type interval struct{ start, end int64 }

// selfTime returns end−start minus the union of the children's intervals
// clipped to [start, end). Children may overlap (parallel work), so summing
// their durations would count time twice and could even go negative. The
// children slice is sorted in place.
func selfTime(start, end int64, children []interval) int64 {
	d := end - start
	if d <= 0 {
		return 0
	}
	if len(children) == 0 {
		return d
	}
	slices.SortFunc(children, func(a, b interval) int {
		switch {
		case a.start < b.start:
			return -1
		case a.start > b.start:
			return 1
		}
		return 0
	})
	var covered int64
	curS, curE := int64(0), int64(0)
	open := false
	for _, c := range children {
		s, e := max(c.start, start), min(c.end, end)
		if e <= s {
			continue
		}
		if open && s <= curE {
			curE = max(curE, e)
			continue
		}
		if open {
			covered += curE - curS
		}
		curS, curE, open = s, e, true
	}
	if open {
		covered += curE - curS
	}
	return d - covered
}

// spanKey names a span across traces.
type spanKey struct {
	trace [16]byte
	span  [8]byte
}

// childIndex remembers, for parents not yet written, the intervals of their
// children, so that a parent's self time can be computed when it arrives
// (children end, and so usually arrive, before their parent). It is bounded:
// two generations are kept and the older is forgotten when the newer fills,
// so children of a parent that never comes (it lives in another process, or
// was dropped) cost memory only for a while. A child that arrives after its
// parent is not subtracted from the parent's self time.
type childIndex struct {
	cur, old map[spanKey][]interval
	limit    int
}

func newChildIndex(limit int) *childIndex {
	return &childIndex{cur: map[spanKey][]interval{}, old: map[spanKey][]interval{}, limit: limit}
}

func (ci *childIndex) add(parent spanKey, iv interval) {
	if len(ci.cur) >= ci.limit/2 {
		ci.old, ci.cur = ci.cur, make(map[spanKey][]interval, len(ci.cur))
	}
	ci.cur[parent] = append(ci.cur[parent], iv)
}

// take removes and returns the children recorded for k.
func (ci *childIndex) take(k spanKey) []interval {
	c, ok := ci.cur[k]
	if ok {
		delete(ci.cur, k)
	}
	if o, ok := ci.old[k]; ok {
		delete(ci.old, k)
		c = append(c, o...)
	}
	return c
}

func (ci *childIndex) len() int { return len(ci.cur) + len(ci.old) }
