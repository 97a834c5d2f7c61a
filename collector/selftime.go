package collector

import (
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

// writtenSpan is what the writer remembers of a committed span so that a
// child arriving after it — typically from another process whose exporter
// flushed later — can still be subtracted from its self time in the
// rollups.
type writtenSpan struct {
	rollup     rollupKey
	start, end int64
	self       int64
	kids       []interval
}

// writtenIndex remembers the most recent committed spans in a ring, with a
// map from span ID to ring slot: the map holds no pointers (nothing for the
// GC to scan) and its keys hash on the fast 64-bit path, which keeps the cost
// per written span to one map assignment. A child that arrives after its
// parent has been pushed out of the ring is not subtracted.
type writtenIndex struct {
	slot  map[uint64]uint32
	ring  []writtenEntry
	next  int
	limit int
}

type writtenEntry struct {
	key spanKey
	writtenSpan
}

func newWrittenIndex(limit int) *writtenIndex {
	return &writtenIndex{slot: make(map[uint64]uint32, limit), ring: make([]writtenEntry, 0, limit), limit: limit}
}

func spanIDKey(k spanKey) uint64 { return binary.LittleEndian.Uint64(k.span[:]) }

func (wi *writtenIndex) put(k spanKey, ws writtenSpan) {
	id := spanIDKey(k)
	if i, ok := wi.slot[id]; ok && wi.ring[i].key == k {
		wi.ring[i].writtenSpan = ws
		return
	}
	if len(wi.ring) < wi.limit {
		wi.slot[id] = uint32(len(wi.ring))
		wi.ring = append(wi.ring, writtenEntry{k, ws})
		return
	}
	old := &wi.ring[wi.next]
	if oid := spanIDKey(old.key); wi.slot[oid] == uint32(wi.next) {
		delete(wi.slot, oid)
	}
	*old = writtenEntry{k, ws}
	wi.slot[id] = uint32(wi.next)
	wi.next = (wi.next + 1) % wi.limit
}

func (wi *writtenIndex) get(k spanKey) (writtenSpan, bool) {
	if i, ok := wi.slot[spanIDKey(k)]; ok && wi.ring[i].key == k {
		return wi.ring[i].writtenSpan, true
	}
	return writtenSpan{}, false
}

func (wi *writtenIndex) has(k spanKey) bool {
	i, ok := wi.slot[spanIDKey(k)]
	return ok && wi.ring[i].key == k
}

func (wi *writtenIndex) reset() {
	clear(wi.slot)
	clear(wi.ring)
	wi.ring, wi.next = wi.ring[:0], 0
}

// lateChild is a child whose parent was committed in an earlier batch.
type lateChild struct {
	parent spanKey
	iv     interval
}
