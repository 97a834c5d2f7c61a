package collector

import (
	"cmp"
	"encoding/binary"
	"slices"
)

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
// parent is handled by writtenIndex.
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

// maxCoverParts is how many disjoint pieces of a span's children coverage
// the writer remembers; parallel children merge into one piece, so a span
// with more pieces than this is rare, and is simply not corrected.
const maxCoverParts = 4

// untracked marks a writtenSpan whose coverage had too many pieces.
const untracked = 255

// writtenSpan is what the writer remembers of a committed span so that a
// child arriving after it — typically from another process whose exporter
// flushed later — can still be subtracted from its self time in the
// rollups. It holds no pointers, so a ring of them costs the GC nothing.
type writtenSpan struct {
	minute     int64
	run        uint32 // index into writtenIndex.runs
	stage      uint8
	nparts     uint8 // pieces in parts, or untracked
	start, end int64
	self       int64
	parts      [maxCoverParts]interval // the children's coverage: disjoint, sorted, clipped
}

// coverage returns the pieces of the union of kids clipped to [start, end),
// sorted; n is untracked when there are more than maxCoverParts.
func coverage(start, end int64, kids []interval) (parts [maxCoverParts]interval, n uint8) {
	slices.SortFunc(kids, func(a, b interval) int { return cmp.Compare(a.start, b.start) })
	for _, c := range kids {
		s, e := max(c.start, start), min(c.end, end)
		if e <= s {
			continue
		}
		if n > 0 && s <= parts[n-1].end {
			parts[n-1].end = max(parts[n-1].end, e)
			continue
		}
		if n == maxCoverParts {
			return parts, untracked
		}
		parts[n] = interval{s, e}
		n++
	}
	return parts, n
}

// writtenIndex remembers recently committed spans in a direct-mapped table
// indexed by the low bits of the (random) span ID: one store per written
// span, no map, no pointers for the GC to scan. A newer span that lands on
// the same slot replaces the older, so the index is a bounded, best-effort
// memory; a child whose parent has been replaced is not subtracted.
type writtenIndex struct {
	table  []writtenEntry // len is a power of two; allocated on first use
	mask   uint64
	runs   []string // run ids by index; runs are few (one per benchmark run)
	runIdx map[string]uint32
}

type writtenEntry struct {
	key spanKey
	writtenSpan
}

// maxTrackedRuns bounds the run table; spans of further runs are not
// remembered.
const maxTrackedRuns = 1 << 12

// newWrittenIndex makes an index of limit slots, rounded up to a power of
// two; the table is allocated on first use, so a collector that never tracks
// late children pays nothing.
func newWrittenIndex(limit int) *writtenIndex {
	size := 1
	for size < limit {
		size <<= 1
	}
	return &writtenIndex{mask: uint64(size - 1), runs: []string{""}, runIdx: map[string]uint32{"": 0}}
}

func (wi *writtenIndex) slot(k spanKey) *writtenEntry {
	if wi.table == nil {
		wi.table = make([]writtenEntry, wi.mask+1)
	}
	return &wi.table[binary.LittleEndian.Uint64(k.span[:])&wi.mask]
}

// remember records a committed span with its rollup row and children.
func (wi *writtenIndex) remember(k spanKey, rk rollupKey, start, end, self int64, kids []interval) {
	run, ok := wi.runIdx[rk.run]
	if !ok {
		if len(wi.runs) >= maxTrackedRuns {
			return
		}
		run = uint32(len(wi.runs))
		wi.runs = append(wi.runs, rk.run)
		wi.runIdx[rk.run] = run
	}
	e := wi.slot(k)
	e.key = k
	e.writtenSpan = writtenSpan{minute: rk.minute, run: run, stage: rk.stage, start: start, end: end, self: self}
	e.parts, e.nparts = coverage(start, end, kids)
}

func (wi *writtenIndex) rollupKey(ws writtenSpan) rollupKey {
	return rollupKey{minute: ws.minute, run: wi.runs[ws.run], stage: ws.stage}
}

// put updates the entry of k, if k still holds its slot.
func (wi *writtenIndex) put(k spanKey, ws writtenSpan) {
	if e := wi.slot(k); e.key == k {
		e.writtenSpan = ws
	}
}

func (wi *writtenIndex) get(k spanKey) (writtenSpan, bool) {
	if wi.table == nil {
		return writtenSpan{}, false
	}
	if e := wi.slot(k); e.key == k {
		return e.writtenSpan, true
	}
	return writtenSpan{}, false
}

func (wi *writtenIndex) has(k spanKey) bool {
	return wi.table != nil && wi.slot(k).key == k
}

func (wi *writtenIndex) reset() {
	clear(wi.table)
}

// lateChild is a child whose parent was committed in an earlier batch.
type lateChild struct {
	parent spanKey
	iv     interval
}
