package collector

import (
	"cmp"
	"encoding/binary"
	"math/bits"
	"slices"
	"unsafe"

	"github.com/stagescope/stagescope/collector/tracetree"
)

// interval is a span's [Start, End) in Unix nanoseconds: a tracetree
// interval under a local name (so the package's positional literals stay
// idiomatic), and with its memory layout, so a []interval is handed to
// tracetree as it is.
type interval tracetree.Interval

// asTree views kids as tracetree intervals, without copying: the two types
// have one underlying struct (the conversion below fails to compile if they
// ever part).
func asTree(kids []interval) []tracetree.Interval {
	_ = tracetree.Interval(interval{})
	return unsafe.Slice((*tracetree.Interval)(unsafe.Pointer(unsafe.SliceData(kids))), len(kids))
}

// selfTime returns end−start minus the union of the children's intervals
// clipped to [start, end): tracetree's one self-time computation. Children
// may overlap (parallel work), so summing their durations would count time
// twice and could even go negative. The children slice is sorted in place.
//
// Spans are rolled up as they arrive, so a child whose parent never arrives
// (an orphan) is not subtracted from anything: unlike the report and the
// trace view, which see whole traces and hang orphans under the root, the
// rollups leave the root's self time as its own spans describe it.
func selfTime(start, end int64, children []interval) int64 {
	return tracetree.SelfTime(start, end, asTree(children))
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
// the writer keeps inline; a span with more (a chain of many sequential
// children) keeps them in writtenIndex.spill.
const maxCoverParts = 4

// untracked marks a writtenSpan whose coverage is not known (more pieces
// than a uint8 counts); late children of it are not subtracted.
const untracked = 255

// maxSpilled bounds the spans whose coverage has more than maxCoverParts
// pieces; beyond it the oldest-found is forgotten (marked untracked).
const maxSpilled = 1 << 12

// writtenSpan is what the writer remembers of a committed span so that a
// child arriving after it — typically from another process whose exporter
// flushed later — can still be subtracted from its self time in the
// rollups. It holds no pointers, so a ring of them costs the GC nothing.
type writtenSpan struct {
	minute     int64
	run        uint32 // index into writtenIndex.runs
	stage      uint8
	nparts     uint8 // pieces of the coverage, or untracked
	start, end int64
	self       int64
	// parts is the children's coverage (disjoint, sorted, clipped) when it
	// has at most maxCoverParts pieces, else its first pieces: the whole is
	// in writtenIndex.spill.
	parts [maxCoverParts]interval
}

// coverage returns the pieces of the union of kids clipped to [start, end),
// sorted: the first maxCoverParts of them, and how many there are (untracked
// past 254).
func coverage(start, end int64, kids []interval) (parts [maxCoverParts]interval, n uint8) {
	var count int
	var last interval
	slices.SortFunc(kids, func(a, b interval) int { return cmp.Compare(a.Start, b.Start) })
	for _, c := range kids {
		s, e := max(c.Start, start), min(c.End, end)
		if e <= s {
			continue
		}
		if count > 0 && s <= last.End {
			last.End = max(last.End, e)
		} else {
			count++
			last = interval{Start: s, End: e}
		}
		if count <= maxCoverParts {
			parts[count-1] = last
		}
	}
	if count >= untracked {
		return parts, untracked
	}
	return parts, uint8(count)
}

// appendCoverage appends the pieces of the union of kids clipped to
// [start, end) to dst, sorted. kids is sorted in place.
func appendCoverage(dst []interval, start, end int64, kids []interval) []interval {
	slices.SortFunc(kids, func(a, b interval) int { return cmp.Compare(a.Start, b.Start) })
	first := len(dst)
	for _, c := range kids {
		s, e := max(c.Start, start), min(c.End, end)
		if e <= s {
			continue
		}
		if len(dst) > first && s <= dst[len(dst)-1].End {
			dst[len(dst)-1].End = max(dst[len(dst)-1].End, e)
			continue
		}
		dst = append(dst, interval{Start: s, End: e})
	}
	return dst
}

// writtenIndex remembers recently committed spans in a direct-mapped table
// indexed by a hash of the trace and span IDs: one store per written span,
// no map, no pointers for the GC to scan. A newer span that lands on the
// same slot replaces the older, so the index is a bounded, best-effort
// memory; a child whose parent has been replaced is not subtracted.
type writtenIndex struct {
	table  []writtenEntry // len is a power of two; allocated on first use
	mask   uint64
	runs   []string // run ids by index; runs are few (one per benchmark run)
	runIdx map[string]uint32
	// spill holds the coverage of remembered spans with more than
	// maxCoverParts pieces (entries whose nparts is above it); spilled has
	// a bit per slot, set when the slot's span is in spill, so that
	// remember need not read the slot it overwrites (a cache miss on the
	// hot path, where a store is not).
	spill   map[spanKey][]interval
	spilled []uint64
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
	return &writtenIndex{mask: uint64(size - 1), runs: []string{""}, runIdx: map[string]uint32{"": 0}, spill: map[spanKey][]interval{}}
}

// slotHash mixes the whole key: span IDs need not be random (some SDKs and
// tests count them up), so no byte range of them can index the table alone.
func slotHash(k spanKey) uint64 {
	// Counters sit in the last bytes of both IDs: rotating one trace half
	// keeps (trace n, span m) and (trace m, span n) apart.
	h := binary.LittleEndian.Uint64(k.span[:]) ^ bits.RotateLeft64(binary.LittleEndian.Uint64(k.trace[8:]), 32)
	h ^= binary.LittleEndian.Uint64(k.trace[:8]) * 0x9e3779b97f4a7c15
	// splitmix64's finaliser: every input bit moves every output bit.
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

func (wi *writtenIndex) slot(k spanKey) *writtenEntry {
	return &wi.table[wi.slotIndex(k)]
}

func (wi *writtenIndex) slotIndex(k spanKey) uint64 {
	if wi.table == nil {
		wi.table = make([]writtenEntry, wi.mask+1)
		wi.spilled = make([]uint64, (wi.mask+64)/64)
	}
	return slotHash(k) & wi.mask
}

// spillBit returns the word and mask of slot i's bit in wi.spilled.
func (wi *writtenIndex) spillBit(i uint64) (*uint64, uint64) {
	return &wi.spilled[i/64], 1 << (i % 64)
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
	i := wi.slotIndex(k)
	e := &wi.table[i]
	word, bit := wi.spillBit(i)
	if *word&bit != 0 { // the slot's last span, k or another, kept a spill
		delete(wi.spill, e.key)
		*word &^= bit
	}
	e.key = k
	e.writtenSpan = writtenSpan{minute: rk.minute, run: run, stage: rk.stage, start: start, end: end, self: self}
	e.parts, e.nparts = coverage(start, end, kids)
	if e.spilled() {
		wi.keepSpill(k, appendCoverage(nil, start, end, kids))
	}
}

// spilled reports whether the span's coverage lives in writtenIndex.spill.
func (ws *writtenSpan) spilled() bool { return ws.nparts > maxCoverParts && ws.nparts != untracked }

// keepSpill stores the coverage of k, which holds its slot, forgetting
// another span's if the spill is full (that span becomes untracked).
func (wi *writtenIndex) keepSpill(k spanKey, parts []interval) {
	if _, ok := wi.spill[k]; !ok && len(wi.spill) >= maxSpilled {
		for old := range wi.spill {
			wi.dropSpill(old)
			if e := wi.slot(old); e.key == old {
				e.nparts = untracked
			}
			break
		}
	}
	wi.spill[k] = parts
	word, bit := wi.spillBit(wi.slotIndex(k))
	*word |= bit
}

// dropSpill forgets the spill of k, which holds its slot.
func (wi *writtenIndex) dropSpill(k spanKey) {
	delete(wi.spill, k)
	word, bit := wi.spillBit(wi.slotIndex(k))
	*word &^= bit
}

// coveredWith appends to dst the coverage of ws, the remembered span k, and
// the late child iv — the intervals whose union is now covered — and keeps
// their merged coverage in the spill when it has more than maxCoverParts
// pieces, so that coverage(ws.start, ws.end, dst) and put(k, ws) record it
// whole.
func (wi *writtenIndex) coveredWith(k spanKey, ws writtenSpan, dst []interval, iv interval) []interval {
	if ws.spilled() {
		dst = append(dst, wi.spill[k]...)
	} else {
		dst = append(dst, ws.parts[:ws.nparts]...)
	}
	dst = append(dst, iv)
	if _, n := coverage(ws.start, ws.end, dst); n > maxCoverParts && n != untracked {
		wi.keepSpill(k, appendCoverage(wi.spill[k][:0], ws.start, ws.end, dst))
	} else if ws.spilled() {
		wi.dropSpill(k)
	}
	return dst
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
	clear(wi.spill)
	clear(wi.spilled)
}

// lateChild is a child whose parent was committed in an earlier batch.
type lateChild struct {
	parent spanKey
	iv     interval
}
