package main

import (
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// generator hands out encoded OTLP/HTTP protobuf requests. The requests are
// made once (a few templates) and every request gets fresh trace and span
// ids and current timestamps written into a copy of a template's bytes, so
// that making a request costs a memcpy and a few thousand small writes, not
// a protobuf encoding, and no id repeats within a run.
//
// Ids are a bijective mix of per-request counters and a random key drawn
// per generator: unique by construction (not by luck), and spread like
// random ids over the whole key space, as real traffic is.
type generator struct {
	templates       []template
	tracesPerReq    uint64
	spansPerReq     uint64
	next            atomic.Uint64 // request number
	traceKey        [2]uint64
	spanKey         uint64
	maxEnd          int64 // latest end in any template, ns from the request start
	now             func() time.Time
	bytesPerRequest int // mean encoded size
}

// template is one encoded request and the places of its placeholders.
type template struct {
	body  []byte
	slots []slot
}

type slotKind uint8

const (
	slotTraceID slotKind = iota // 16 bytes; index = trace index in the request
	slotSpanID                  // 8 bytes; index = span index in the request (span id or parent span id)
	slotTime                    // fixed64; index = ns from the request start
)

type slot struct {
	off   uint32
	kind  slotKind
	index int64
}

// newGenerator encodes n templates of o.spansPerRequest spans each.
func newGenerator(n int, o fixtureOptions) (*generator, error) {
	if n < 1 || o.spansPerRequest < 1 {
		return nil, errors.New("need at least one template of at least one span")
	}
	g := &generator{
		spansPerReq:  uint64(o.spansPerRequest),
		tracesPerReq: uint64((o.spansPerRequest + spansPerTrace - 1) / spansPerTrace),
		now:          time.Now,
	}
	var k [32]byte
	if _, err := crand.Read(k[:]); err != nil {
		return nil, err
	}
	g.traceKey = [2]uint64{binary.LittleEndian.Uint64(k[0:]), binary.LittleEndian.Uint64(k[8:])}
	g.spanKey = binary.LittleEndian.Uint64(k[16:])
	total := 0
	for i := range n {
		body, err := proto.MarshalOptions{Deterministic: true}.Marshal(buildRequest(i, o))
		if err != nil {
			return nil, fmt.Errorf("cannot encode request template %d: %w", i, err)
		}
		slots, err := locateSlots(body)
		if err != nil {
			return nil, fmt.Errorf("request template %d: %w", i, err)
		}
		for _, s := range slots {
			if s.kind == slotTime {
				g.maxEnd = max(g.maxEnd, s.index)
			}
		}
		g.templates = append(g.templates, template{body: body, slots: slots})
		total += len(body)
	}
	g.bytesPerRequest = total / n
	return g, nil
}

// request is one request ready to send.
type request struct {
	body      []byte
	spans     int
	firstID   [16]byte // trace id of the request's first trace
	lastID    [16]byte // and of its last
	sequence  uint64
	templateN int
}

// next fills buf (grown as needed) with the next request of the run.
func (g *generator) nextRequest(buf []byte) request {
	n := g.next.Add(1) - 1
	return g.fill(buf, n)
}

// fill writes request number n: template n mod len, trace ids from counter
// n·tracesPerReq, span ids from n·spansPerReq, timestamps ending just now.
func (g *generator) fill(buf []byte, n uint64) request {
	t := &g.templates[n%uint64(len(g.templates))]
	buf = append(buf[:0], t.body...)
	base := uint64(g.now().UnixNano() - g.maxEnd - int64(time.Millisecond))
	traceBase, spanBase := n*g.tracesPerReq, n*g.spansPerReq
	var first, last [16]byte
	var lastIndex int64 = -1
	for _, s := range t.slots {
		b := buf[s.off:]
		switch s.kind {
		case slotTraceID:
			id := g.traceID(traceBase + uint64(s.index-1))
			copy(b[:16], id[:])
			if s.index == 1 {
				first = id
			}
			if s.index > lastIndex {
				lastIndex, last = s.index, id
			}
		case slotSpanID:
			binary.BigEndian.PutUint64(b[:8], g.spanID(spanBase+uint64(s.index-1)))
		case slotTime:
			binary.LittleEndian.PutUint64(b[:8], base+uint64(s.index))
		}
	}
	return request{body: buf, spans: int(g.spansPerReq), firstID: first, lastID: last, sequence: n, templateN: int(n % uint64(len(g.templates)))}
}

// traceID is unique per counter: its first half is a bijection of c.
func (g *generator) traceID(c uint64) [16]byte {
	var id [16]byte
	hi, lo := mix64(c+g.traceKey[0]), mix64(c^g.traceKey[1])
	if hi == 0 && lo == 0 { // all-zero is invalid; hi is 0 for one c only
		lo = 1
	}
	binary.BigEndian.PutUint64(id[:8], hi)
	binary.BigEndian.PutUint64(id[8:], lo)
	return id
}

// spanID is unique per counter (a bijection of c) and never zero: the one
// counter that would map to zero takes the id of counter 2⁶³ instead, which
// no run reaches.
func (g *generator) spanID(c uint64) uint64 {
	id := mix64(c + g.spanKey)
	if id == 0 {
		id = mix64(1<<63 + g.spanKey)
	}
	return id
}

// mix64 is SplitMix64's finaliser, a bijection on uint64.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func putUint64(b []byte, v uint64) { binary.BigEndian.PutUint64(b, v) }

// locateSlots walks an encoded ExportTraceServiceRequest and returns where
// the placeholder ids and timestamps of every span (and span event) are.
func locateSlots(body []byte) ([]slot, error) {
	var slots []slot
	span := func(b []byte, base int) error {
		return walk(b, base, func(num protowire.Number, typ protowire.Type, v []byte, off int) error {
			switch {
			case num == 1 && typ == protowire.BytesType: // trace_id
				if len(v) != 16 {
					return fmt.Errorf("trace id of %d bytes at %d", len(v), off)
				}
				slots = append(slots, slot{off: uint32(off), kind: slotTraceID, index: int64(binary.BigEndian.Uint64(v[8:]))})
			case (num == 2 || num == 4) && typ == protowire.BytesType: // span_id, parent_span_id
				if len(v) != 8 {
					return fmt.Errorf("span id of %d bytes at %d", len(v), off)
				}
				slots = append(slots, slot{off: uint32(off), kind: slotSpanID, index: int64(binary.BigEndian.Uint64(v))})
			case (num == 7 || num == 8) && typ == protowire.Fixed64Type: // start, end
				slots = append(slots, slot{off: uint32(off), kind: slotTime, index: int64(binary.LittleEndian.Uint64(v))})
			case num == 11 && typ == protowire.BytesType: // event
				return walk(v, off, func(num protowire.Number, typ protowire.Type, v []byte, off int) error {
					if num == 1 && typ == protowire.Fixed64Type {
						slots = append(slots, slot{off: uint32(off), kind: slotTime, index: int64(binary.LittleEndian.Uint64(v))})
					}
					return nil
				})
			case num == 13:
				return errors.New("span links are not supported by the placeholder walker")
			}
			return nil
		})
	}
	scopeSpans := func(b []byte, base int) error {
		return walk(b, base, func(num protowire.Number, typ protowire.Type, v []byte, off int) error {
			if num == 2 && typ == protowire.BytesType {
				return span(v, off)
			}
			return nil
		})
	}
	resourceSpans := func(b []byte, base int) error {
		return walk(b, base, func(num protowire.Number, typ protowire.Type, v []byte, off int) error {
			if num == 2 && typ == protowire.BytesType {
				return scopeSpans(v, off)
			}
			return nil
		})
	}
	err := walk(body, 0, func(num protowire.Number, typ protowire.Type, v []byte, off int) error {
		if num == 1 && typ == protowire.BytesType {
			return resourceSpans(v, off)
		}
		return nil
	})
	return slots, err
}

// walk calls f for every field of the message b (which starts at base in
// the whole buffer) with the field's value bytes and their offset.
func walk(b []byte, base int, f func(protowire.Number, protowire.Type, []byte, int) error) error {
	for pos := 0; pos < len(b); {
		num, typ, n := protowire.ConsumeTag(b[pos:])
		if n < 0 {
			return fmt.Errorf("bad tag at %d: %w", base+pos, protowire.ParseError(n))
		}
		pos += n
		var v []byte
		vstart := pos
		switch typ {
		case protowire.BytesType:
			val, m := protowire.ConsumeBytes(b[pos:])
			if m < 0 {
				return fmt.Errorf("bad length at %d: %w", base+pos, protowire.ParseError(m))
			}
			vstart = pos + m - len(val)
			v, pos = val, pos+m
		case protowire.Fixed64Type:
			if len(b)-pos < 8 {
				return fmt.Errorf("short fixed64 at %d", base+pos)
			}
			v, pos = b[pos:pos+8], pos+8
		default:
			m := protowire.ConsumeFieldValue(num, typ, b[pos:])
			if m < 0 {
				return fmt.Errorf("bad field %d at %d: %w", num, base+pos, protowire.ParseError(m))
			}
			v, pos = b[pos:pos+m], pos+m
		}
		if err := f(num, typ, v, base+vstart); err != nil {
			return err
		}
	}
	return nil
}
