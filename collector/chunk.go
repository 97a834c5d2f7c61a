package collector

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"

	"github.com/klauspost/compress/zstd"

	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/spans"
)

// A chunk holds the parts of a few dozen traces that one writer batch
// brought: for each trace, its spans and events of that batch (a part).
// Spans of one batch share resources, scopes, attribute keys and most
// values, so compressing the parts together stores a typical RAG span in
// a few dozen bytes, where a row per span took about 300.
//
// Stored form: a format byte (chunkZstd), then a zstd frame of
//
//	version byte (chunkVersion2), uvarint part count, then per part:
//	  trace id (16 bytes), uvarint length, part
//	part: uvarint span count, varint base (the first span's start, or the
//	  first event's time), the part's tags (those of its first record:
//	  uvarint count, then key and value strings), the part's string table
//	  (uvarint count, strings: span names, scopes, event names), then per
//	  span:
//	    span id (8), flags byte (spanParentID: the parent id (8) follows;
//	    spanParentIndex: the parent is the part's span of the uvarint
//	    index that follows; recordPartTags: the span's tags are the
//	    part's, its body has none; spanScopeIndex: the scope is in the
//	    table, its body has none), varint start − base, varint end −
//	    start, uvarint name index, uvarint scope index (spanScopeIndex),
//	    uvarint stage, uvarint status, uvarint body length, body
//	    (appendSpanBodyTags)
//	  then uvarint event count and per event:
//	    flags byte (eventSpanID: the span id (8) follows; eventSpanIndex:
//	    the span is the part's span of the uvarint index that follows;
//	    neither: no span; recordPartTags), varint time − the span's start
//	    (with eventSpanIndex; else − base), uvarint name index, uvarint
//	    stage, uvarint body length, body (appendEventBodyTags)
//
// Version 1 parts (written before) have no part tags and no table, names
// as strings, a flags byte with only the parent-id bit, and events that
// start with their span id (8).
// Events name their span by position: a run of 8 random bytes per event
// was a tenth of the demo's compressed chunks.
//
// Strings are uvarint length and bytes; times are Unix nanoseconds (0 for
// the zero time).
const (
	chunkZstd     = 1
	chunkVersion1 = 1
	chunkVersion2 = 2
	// chunkVersion is what the writer writes.
	chunkVersion = chunkVersion2
	// chunkTargetBytes is the encoded size at which the writer closes a
	// chunk (at a trace boundary). Reading one trace decompresses its
	// chunk: about 50 µs at this size.
	chunkTargetBytes = 64 << 10
	// chunkMaxBytes bounds a decompressed chunk, against corrupt data.
	chunkMaxBytes = 256 << 20
)

var (
	zstdEncoder *zstd.Encoder
	zstdDecoder *zstd.Decoder
	zstdOnce    sync.Once
)

func zstdCodecs() (*zstd.Encoder, *zstd.Decoder) {
	zstdOnce.Do(func() {
		var err error
		// EncodeAll and DecodeAll start no goroutines and are safe for
		// concurrent use; each call holds one of concurrency encoders, so
		// the writer's compressions run side by side up to that.
		zstdEncoder, err = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(min(runtime.GOMAXPROCS(0), 4)),
			zstd.WithWindowSize(1<<20), zstd.WithLowerEncoderMem(true))
		if err != nil {
			panic(err)
		}
		zstdDecoder, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(min(runtime.GOMAXPROCS(0), 4)), zstd.WithDecoderMaxMemory(chunkMaxBytes), zstd.WithDecoderLowmem(true))
		if err != nil {
			panic(err)
		}
	})
	return zstdEncoder, zstdDecoder
}

// chunkBuilder collects the parts of one chunk.
type chunkBuilder struct {
	raw   []byte // version, then parts (the count is added by compressChunk)
	parts int
	// keys holds, per part, the trace id, a uvarint span count and
	// spanKey of each span: the chunks.span_keys column.
	keys []byte
	// index maps the span ids of a large part to their position.
	index map[spans.SpanID]int
	// names numbers the strings of a part's table.
	names map[string]int
	table []string
}

// name returns the index of s in the part's table, adding it.
func (c *chunkBuilder) name(s string) int {
	i, ok := c.names[s]
	if !ok {
		i = len(c.table)
		c.names[s] = i
		c.table = append(c.table, s)
	}
	return i
}

func (c *chunkBuilder) reset() {
	c.raw = append(c.raw[:0], chunkVersion)
	c.parts = 0
	c.keys = c.keys[:0]
}

func (c *chunkBuilder) empty() bool { return c.parts == 0 }

// Bits of a version-2 part's span flags byte.
const (
	spanParentID    = 0x01 // the parent id (8 bytes) follows
	spanParentIndex = 0x02 // the parent is the part's span of the uvarint index that follows
	recordPartTags  = 0x04 // the record's tags are the part's tags (its body has none)
	spanScopeIndex  = 0x08 // the scope is the part's string of the uvarint index after the name's (its body has none)
)

// Bits of a version-2 part's event flags byte (recordPartTags as spans).
const (
	eventSpanID    = 0x01 // the span id (8 bytes) follows
	eventSpanIndex = 0x02 // the span is the part's span of the uvarint index that follows
)

// add appends one trace part: gs and ge belong to trace tid; resourceIDs[i]
// is the resources row of gs[i] (0: none).
func (c *chunkBuilder) add(tid spans.TraceID, gs []*spans.Span, resourceIDs []int64, ge []*event.Record, scratch []byte) []byte {
	if len(c.raw) == 0 {
		c.reset()
	}
	c.parts++
	c.raw = append(c.raw, tid[:]...)
	c.keys = append(c.keys, tid[:]...)
	c.keys = binary.AppendUvarint(c.keys, uint64(len(gs)))
	for _, sp := range gs {
		c.keys = binary.LittleEndian.AppendUint32(c.keys, spanKeyOf(sp.SpanID))
	}
	p := scratch[:0]
	p = binary.AppendUvarint(p, uint64(len(gs)))
	var base int64
	var tags []spans.Tag // the part's tags: those of its first record
	switch {
	case len(gs) > 0:
		base, tags = nanos(gs[0].Start), gs[0].Tags
	case len(ge) > 0:
		base, tags = nanos(ge[0].Time), ge[0].Tags
	}
	p = binary.AppendVarint(p, base)
	p = appendTags(p, tags)
	// The table of span names, scopes and event names.
	if c.names == nil {
		c.names = map[string]int{}
	}
	clear(c.names)
	c.table = c.table[:0]
	for _, sp := range gs {
		c.name(sp.Name)
		if sp.Scope != "" {
			c.name(sp.Scope)
		}
	}
	for _, e := range ge {
		c.name(e.Name)
	}
	p = binary.AppendUvarint(p, uint64(len(c.table)))
	for _, s := range c.table {
		p = appendString(p, s)
	}
	indexOf := c.spanIndex(gs)
	for i, sp := range gs {
		p = append(p, sp.SpanID[:]...)
		var flags byte
		parent := -1
		if !sp.ParentID.IsZero() {
			if parent = indexOf(sp.ParentID); parent >= 0 {
				flags |= spanParentIndex
			} else {
				flags |= spanParentID
			}
		}
		own := sp.Tags
		if len(tags) > 0 && slices.Equal(own, tags) {
			flags, own = flags|recordPartTags, nil
		}
		if sp.Scope != "" {
			flags |= spanScopeIndex
		}
		p = append(p, flags)
		switch {
		case parent >= 0:
			p = binary.AppendUvarint(p, uint64(parent))
		case flags&spanParentID != 0:
			p = append(p, sp.ParentID[:]...)
		}
		start, end := nanos(sp.Start), nanos(sp.End)
		p = binary.AppendVarint(p, start-base)
		p = binary.AppendVarint(p, end-start)
		p = binary.AppendUvarint(p, uint64(c.names[sp.Name]))
		if sp.Scope != "" {
			p = binary.AppendUvarint(p, uint64(c.names[sp.Scope]))
		}
		p = binary.AppendUvarint(p, uint64(sp.Stage))
		p = binary.AppendUvarint(p, uint64(sp.Status))
		n := len(p)
		p = binary.AppendUvarint(p, 0) // placeholder, usually one byte
		p = appendSpanBodyTags(p, sp, resourceIDs[i], own, "")
		p = fixLength(p, n)
	}
	p = binary.AppendUvarint(p, uint64(len(ge)))
	for _, e := range ge {
		var flags byte
		span := -1
		if !e.SpanID.IsZero() {
			if span = indexOf(e.SpanID); span >= 0 {
				flags |= eventSpanIndex
			} else {
				flags |= eventSpanID
			}
		}
		own := e.Tags
		if len(tags) > 0 && slices.Equal(own, tags) {
			flags, own = flags|recordPartTags, nil
		}
		p = append(p, flags)
		at := base
		switch {
		case span >= 0:
			p = binary.AppendUvarint(p, uint64(span))
			at = nanos(gs[span].Start)
		case flags&eventSpanID != 0:
			p = append(p, e.SpanID[:]...)
		}
		p = binary.AppendVarint(p, nanos(e.Time)-at)
		p = binary.AppendUvarint(p, uint64(c.names[e.Name]))
		p = binary.AppendUvarint(p, uint64(e.Stage))
		n := len(p)
		p = binary.AppendUvarint(p, 0)
		p = appendEventBodyTags(p, e, own)
		p = fixLength(p, n)
	}
	c.raw = binary.AppendUvarint(c.raw, uint64(len(p)))
	c.raw = append(c.raw, p...)
	return p
}

// spanIndex returns a function giving the position in gs of a span id, -1
// when gs has no such span (the first of equal ids).
func (c *chunkBuilder) spanIndex(gs []*spans.Span) func(spans.SpanID) int {
	if len(gs) <= 32 {
		return func(id spans.SpanID) int {
			return slices.IndexFunc(gs, func(sp *spans.Span) bool { return sp.SpanID == id })
		}
	}
	if c.index == nil {
		c.index = map[spans.SpanID]int{}
	}
	clear(c.index)
	for i := len(gs) - 1; i >= 0; i-- {
		c.index[gs[i].SpanID] = i
	}
	return func(id spans.SpanID) int {
		if i, ok := c.index[id]; ok {
			return i
		}
		return -1
	}
}

// fixLength rewrites the one-byte zero length written at n as the length of
// what follows it, moving the bytes when the length needs more than one.
func fixLength(p []byte, n int) []byte {
	l := len(p) - n - 1
	if l < 0x80 {
		p[n] = byte(l)
		return p
	}
	var tmp [binary.MaxVarintLen64]byte
	k := binary.PutUvarint(tmp[:], uint64(l))
	p = append(p, tmp[:k-1]...)
	copy(p[n+k:], p[n+1:n+1+l])
	copy(p[n:], tmp[:k])
	return p
}

// take hands the chunk's parts over (to compress) and starts a new chunk
// in spare, a buffer a finished compression gave back; keys is appended to
// keysDst.
func (c *chunkBuilder) take(spare, keysDst []byte) (raw []byte, parts int, keys []byte) {
	raw, parts = c.raw, c.parts
	keys = append(keysDst[:0], c.keys...)
	c.raw = append(spare[:0], chunkVersion)
	c.parts = 0
	c.keys = c.keys[:0]
	return raw, parts, keys
}

// spanKeyOf is the 4-byte key of a span id in chunks.span_keys.
func spanKeyOf(id spans.SpanID) uint32 {
	return binary.LittleEndian.Uint32(id[:4]) ^ binary.LittleEndian.Uint32(id[4:])
}

// keysMatch reports whether the span_keys of a chunk list, for trace tid,
// the key of any of ids: only then can the chunk hold one of those spans.
func keysMatch(keys []byte, tid spans.TraceID, ids []spans.SpanID) (bool, error) {
	r := bodyReader{b: keys}
	for len(r.b) > 0 && r.err == nil {
		t := r.bytes(16, "trace id")
		n := r.count("span keys", 4)
		ks := r.bytes(4*n, "span keys")
		if r.err != nil || spans.TraceID(t) != tid {
			continue
		}
		for i := 0; i < len(ks); i += 4 {
			k := binary.LittleEndian.Uint32(ks[i:])
			for _, id := range ids {
				if spanKeyOf(id) == k {
					return true, nil
				}
			}
		}
	}
	return false, r.err
}

// compressChunk returns the stored form of a chunk made of parts parts
// (raw as chunkBuilder holds it), appended to dst.
func compressChunk(dst, raw []byte, parts int) []byte {
	enc, _ := zstdCodecs()
	dst = append(dst, chunkZstd)
	return enc.EncodeAll(chunkFrameSource(raw, parts), dst)
}

// chunkFrameSource returns what a chunk's zstd frame holds: a copy of raw
// with the part count after the version byte.
func chunkFrameSource(raw []byte, parts int) []byte {
	var hdr [1 + binary.MaxVarintLen64]byte
	hdr[0] = raw[0]
	k := 1 + binary.PutUvarint(hdr[1:], uint64(parts))
	return append(hdr[:k:k], raw[1:]...)
}

// chunkBuffers recycles decompressed chunks: a report reads thousands of
// traces, each from its own chunk.
var chunkBuffers = sync.Pool{New: func() any { return new([]byte) }}

// encodedPart is one trace part as a chunk stores it, and the chunk's
// version, which says how to decode it.
type encodedPart struct {
	version byte
	data    []byte
}

// chunkParts decompresses a stored chunk and calls fn for each part; fn
// returns false to stop. part is only valid during the call. A chunk
// compressed with a dictionary reads the dictionary through q the first
// time.
func (d *chunkDicts) chunkParts(ctx context.Context, q rowQuerier, data []byte, fn func(tid spans.TraceID, part encodedPart) bool) error {
	_, dec := zstdCodecs()
	switch {
	case len(data) > 0 && data[0] == chunkZstd:
		data = data[1:]
	case len(data) > 0 && data[0] == chunkZstdDict:
		id, n := binary.Uvarint(data[1:])
		if n <= 0 || id == 0 || id > math.MaxUint32 {
			return fmt.Errorf("%w: chunk dictionary id", errCorruptBody)
		}
		var err error
		if dec, err = d.decoder(ctx, q, int64(id)); err != nil {
			return err
		}
		data = data[1+n:]
	default:
		return fmt.Errorf("%w: unknown chunk format", errCorruptBody)
	}
	buf := chunkBuffers.Get().(*[]byte)
	defer chunkBuffers.Put(buf)
	raw, err := dec.DecodeAll(data, (*buf)[:0])
	*buf = raw
	if err != nil {
		return fmt.Errorf("%w: chunk: %v", errCorruptBody, err)
	}
	r := bodyReader{b: raw}
	v := r.version(chunkVersion1, chunkVersion2)
	n := r.count("part count", 17)
	for i := 0; i < n && r.err == nil; i++ {
		var tid spans.TraceID
		copy(tid[:], r.bytes(16, "trace id"))
		part := r.bytes(r.count("part", 1), "part")
		if r.err == nil && !fn(tid, encodedPart{v, part}) {
			return nil
		}
	}
	return r.err
}

// decodedPart is one trace part read back; resources are ids, resolved by
// the caller.
type decodedPart struct {
	spans     []spans.Span
	resources []int64
	events    []event.Record
}

// decodePart decodes the part of trace tid. With timingsOnly, span bodies
// and events are skipped (a rollup needs ids, stage, status and times).
func decodePart(tid spans.TraceID, part encodedPart, timingsOnly bool, out *decodedPart) error {
	v2 := part.version >= chunkVersion2
	r := bodyReader{b: part.data}
	n := r.count("span count", 12)
	out.spans, out.resources = slices.Grow(out.spans, n), slices.Grow(out.resources, n)
	base := r.varint()
	var tags []spans.Tag
	var table []string
	if v2 {
		tags = slices.Clip(r.tags())
		table = make([]string, r.count("string table", 1))
		for i := range table {
			table[i] = r.string()
		}
	}
	// name reads a name: a string (version 1) or an index into the table.
	name := func(what string) string {
		if !v2 {
			return r.string()
		}
		i := r.uvarint(what)
		if i >= uint64(len(table)) {
			r.fail(what)
			return ""
		}
		return table[i]
	}
	first := len(out.spans)
	index := func(what string) int {
		i := r.uvarint(what)
		if i >= uint64(n) {
			r.fail(what)
			return 0
		}
		return int(i)
	}
	var parents []int // (span, parent) position pairs, resolved once all are read
	for i := 0; i < n && r.err == nil; i++ {
		sp := spans.Span{TraceID: tid}
		copy(sp.SpanID[:], r.bytes(8, "span id"))
		flags := r.byte("span flags")
		switch {
		case !v2 && flags&^spanParentID != 0, v2 && flags&^(spanParentID|spanParentIndex|recordPartTags|spanScopeIndex) != 0,
			flags&spanParentID != 0 && flags&spanParentIndex != 0:
			r.fail("span flags")
		case flags&spanParentID != 0:
			copy(sp.ParentID[:], r.bytes(8, "parent id"))
		case flags&spanParentIndex != 0:
			parents = append(parents, i, index("parent index"))
		}
		start := base + r.varint()
		end := start + r.varint()
		sp.Start, sp.End = fromNanos(start), fromNanos(end)
		if timingsOnly && !v2 {
			r.bytes(r.count("string", 1), "name")
		} else {
			sp.Name = name("span name")
		}
		scope := ""
		if flags&spanScopeIndex != 0 {
			scope = name("scope")
		}
		sp.Stage = spans.Stage(r.uvarint("stage"))
		sp.Status = spans.Status(r.uvarint("status"))
		body := r.bytes(r.count("body", 1), "body")
		var rid int64
		if !timingsOnly && r.err == nil {
			var err error
			if rid, err = decodeSpanBodyResource(body, &sp); err != nil {
				return err
			}
			if flags&recordPartTags != 0 {
				if len(sp.Tags) > 0 {
					r.fail("span tags")
				}
				sp.Tags = tags
			}
			if flags&spanScopeIndex != 0 {
				if sp.Scope != "" {
					r.fail("span scope")
				}
				sp.Scope = scope
			}
		}
		out.spans = append(out.spans, sp)
		out.resources = append(out.resources, rid)
	}
	if r.err != nil {
		return r.err
	}
	for k := 0; k < len(parents); k += 2 {
		out.spans[first+parents[k]].ParentID = out.spans[first+parents[k+1]].SpanID
	}
	if timingsOnly {
		return r.err
	}
	minEvent := 11 // span id, time, name, stage, body length
	if v2 {
		minEvent = 5 // flags, time, name, stage, body length
	}
	m := r.count("event count", minEvent)
	out.events = slices.Grow(out.events, m)
	for i := 0; i < m && r.err == nil; i++ {
		e := event.Record{}
		e.TraceID = tid
		flags := byte(eventSpanID)
		if v2 {
			flags = r.byte("event flags")
		}
		at := base
		switch {
		case flags&^(eventSpanID|eventSpanIndex|recordPartTags) != 0, flags&eventSpanID != 0 && flags&eventSpanIndex != 0:
			r.fail("event flags")
		case flags&eventSpanID != 0:
			copy(e.SpanID[:], r.bytes(8, "span id"))
		case flags&eventSpanIndex != 0:
			if k := index("span index"); r.err == nil {
				e.SpanID = out.spans[first+k].SpanID
				at = nanos(out.spans[first+k].Start)
			}
		}
		e.Time = fromNanos(at + r.varint())
		e.Name = name("event name")
		e.Stage = spans.Stage(r.uvarint("stage"))
		body := r.bytes(r.count("body", 1), "body")
		if r.err == nil {
			if err := decodeEventBody(body, &e); err != nil {
				return err
			}
			if flags&recordPartTags != 0 {
				if len(e.Tags) > 0 {
					r.fail("event tags")
				}
				e.Tags = tags
			}
		}
		out.events = append(out.events, e)
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%w: %d trailing bytes in a trace part", errCorruptBody, len(r.b))
	}
	return r.err
}

// forChunkIDs calls fn with the chunk ids of a trace row: first, then
// those listed in more (uvarints).
func forChunkIDs(first int64, more []byte, fn func(id int64) error) error {
	if first == 0 {
		return nil
	}
	if err := fn(first); err != nil {
		return err
	}
	for len(more) > 0 {
		id, n := binary.Uvarint(more)
		if n <= 0 {
			return errCorruptParts
		}
		more = more[n:]
		if err := fn(int64(id)); err != nil {
			return err
		}
	}
	return nil
}
