package otlpconv

import (
	"errors"
	"math"
	"strings"
	"unicode/utf8"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
)

// A decoder of the binary ExportTraceServiceRequest written for OTLP's own
// messages. It fills the same generated types as proto.Unmarshal, with the
// same rules (fields in any order; a repeated field appends; a scalar seen
// twice keeps the last value; a message seen twice merges; a known field
// of an unexpected wire type is skipped like an unknown one), except that
// unknown fields are dropped rather than kept and that strings that are not
// valid UTF-8 get U+FFFD for their bad bytes instead of failing the
// request, and that byte fields share the body's memory. proto.Unmarshal,
// driven by reflection over the descriptors, was the largest single cost
// of OTLP ingest (28% of the server's CPU at 200k spans/s), most of it
// allocating: here the messages of a request come from a few slabs, and a
// string seen before in the request (attribute keys, names, most values)
// is the same string, not a new one (BENCHMARKS.md has the figures).
// The tests check it against proto.Unmarshal on recorded and fuzzed
// requests.

// maxWireDepth is proto.Unmarshal's default recursion limit: AnyValue
// nests through arrays and key-value lists.
const maxWireDepth = 10_000

var (
	errWireDepth  = errors.New("exceeded maximum recursion depth")
	errWireNumber = errors.New("invalid field number")
)

// wireField is one field of a message: its number and wire type, and its
// value (x for varint and fixed types, v for length-delimited ones).
type wireField struct {
	num protowire.Number
	typ protowire.Type
	x   uint64
	v   []byte
}

// eachField calls fn for every field of the message b, skipping groups
// (no OTLP message has one; an unknown field may).
func eachField(b []byte, fn func(f wireField) error) error {
	for len(b) > 0 {
		var f wireField
		var n int
		f.num, f.typ, n = protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		if f.num > protowire.MaxValidNumber {
			return errWireNumber
		}
		b = b[n:]
		switch f.typ {
		case protowire.VarintType:
			f.x, n = protowire.ConsumeVarint(b)
		case protowire.Fixed64Type:
			f.x, n = protowire.ConsumeFixed64(b)
		case protowire.Fixed32Type:
			var x uint32
			x, n = protowire.ConsumeFixed32(b)
			f.x = uint64(x)
		case protowire.BytesType:
			f.v, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(f.num, f.typ, b)
			if n < 0 {
				return protowire.ParseError(n)
			}
			b = b[n:]
			continue
		}
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

func (f wireField) is(num protowire.Number, typ protowire.Type) bool {
	return f.num == num && f.typ == typ
}

// slab hands out the messages of one kind for one request, allocated a
// run at a time (runs grow to slabMax).
type slab[T any] struct {
	free []T
	next int
}

const slabMax = 256

func (s *slab[T]) new() *T {
	if len(s.free) == 0 {
		s.next = min(max(2*s.next, 8), slabMax)
		s.free = make([]T, s.next)
	}
	p := &s.free[0]
	s.free = s.free[1:]
	return p
}

// wireDecoder decodes one request.
type wireDecoder struct {
	spans     slab[tracepb.Span]
	events    slab[tracepb.Span_Event]
	kvs       slab[commonpb.KeyValue]
	values    slab[commonpb.AnyValue]
	strs      slab[commonpb.AnyValue_StringValue]
	ints      slab[commonpb.AnyValue_IntValue]
	doubles   slab[commonpb.AnyValue_DoubleValue]
	bools     slab[commonpb.AnyValue_BoolValue]
	statuses  slab[tracepb.Status]
	interned  map[string]string
	internLen int
}

// Strings of at most internMax bytes are interned, up to internBytes of
// them per request.
const (
	internMax   = 128
	internBytes = 1 << 20
)

// str is a string field's value, its invalid UTF-8 replaced; a short one
// seen before in the request is the same string.
func (d *wireDecoder) str(v []byte) string {
	if len(v) == 0 {
		return ""
	}
	if len(v) <= internMax {
		if s, ok := d.interned[string(v)]; ok {
			return s
		}
	}
	var s string
	if utf8.Valid(v) {
		s = string(v)
	} else {
		s = strings.ToValidUTF8(string(v), "\uFFFD")
	}
	if len(v) <= internMax && d.internLen < internBytes {
		if d.interned == nil {
			d.interned = make(map[string]string, 64)
		}
		d.interned[string(v)] = s
		d.internLen += len(v)
	}
	return s
}

// bytes is a bytes field's value: b's own memory.
func (d *wireDecoder) bytes(v []byte) []byte {
	if len(v) == 0 {
		return nil
	}
	return v[:len(v):len(v)]
}

func decodeWireRequest(b []byte) (*coltracepb.ExportTraceServiceRequest, error) {
	var d wireDecoder
	req := &coltracepb.ExportTraceServiceRequest{}
	err := eachField(b, func(f wireField) error {
		if !f.is(1, protowire.BytesType) {
			return nil
		}
		rs := &tracepb.ResourceSpans{}
		req.ResourceSpans = append(req.ResourceSpans, rs)
		return d.resourceSpans(f.v, rs)
	})
	return req, err
}

func (d *wireDecoder) resourceSpans(b []byte, rs *tracepb.ResourceSpans) error {
	return eachField(b, func(f wireField) error {
		switch {
		case f.is(1, protowire.BytesType):
			if rs.Resource == nil {
				rs.Resource = &resourcepb.Resource{}
			}
			return d.resource(f.v, rs.Resource)
		case f.is(2, protowire.BytesType):
			ss := &tracepb.ScopeSpans{}
			rs.ScopeSpans = append(rs.ScopeSpans, ss)
			return d.scopeSpans(f.v, ss)
		case f.is(3, protowire.BytesType):
			rs.SchemaUrl = d.str(f.v)
		}
		return nil
	})
}

func (d *wireDecoder) resource(b []byte, r *resourcepb.Resource) error {
	return eachField(b, func(f wireField) error {
		switch {
		case f.is(1, protowire.BytesType):
			return d.appendKeyValue(&r.Attributes, f.v, 3)
		case f.is(2, protowire.VarintType):
			r.DroppedAttributesCount = uint32(f.x)
		case f.is(3, protowire.BytesType):
			e := &commonpb.EntityRef{}
			r.EntityRefs = append(r.EntityRefs, e)
			return d.entityRef(f.v, e)
		}
		return nil
	})
}

func (d *wireDecoder) entityRef(b []byte, e *commonpb.EntityRef) error {
	return eachField(b, func(f wireField) error {
		if f.typ != protowire.BytesType {
			return nil
		}
		switch f.num {
		case 1:
			e.SchemaUrl = d.str(f.v)
		case 2:
			e.Type = d.str(f.v)
		case 3:
			e.IdKeys = append(e.IdKeys, d.str(f.v))
		case 4:
			e.DescriptionKeys = append(e.DescriptionKeys, d.str(f.v))
		}
		return nil
	})
}

func (d *wireDecoder) scopeSpans(b []byte, ss *tracepb.ScopeSpans) error {
	return eachField(b, func(f wireField) error {
		switch {
		case f.is(1, protowire.BytesType):
			if ss.Scope == nil {
				ss.Scope = &commonpb.InstrumentationScope{}
			}
			return d.scope(f.v, ss.Scope)
		case f.is(2, protowire.BytesType):
			sp := d.spans.new()
			ss.Spans = append(ss.Spans, sp)
			return d.span(f.v, sp)
		case f.is(3, protowire.BytesType):
			ss.SchemaUrl = d.str(f.v)
		}
		return nil
	})
}

func (d *wireDecoder) scope(b []byte, s *commonpb.InstrumentationScope) error {
	return eachField(b, func(f wireField) error {
		switch {
		case f.is(1, protowire.BytesType):
			s.Name = d.str(f.v)
		case f.is(2, protowire.BytesType):
			s.Version = d.str(f.v)
		case f.is(3, protowire.BytesType):
			return d.appendKeyValue(&s.Attributes, f.v, 4)
		case f.is(4, protowire.VarintType):
			s.DroppedAttributesCount = uint32(f.x)
		}
		return nil
	})
}

func (d *wireDecoder) span(b []byte, sp *tracepb.Span) error {
	return eachField(b, func(f wireField) error {
		switch f.typ {
		case protowire.BytesType:
			switch f.num {
			case 1:
				sp.TraceId = d.bytes(f.v)
			case 2:
				sp.SpanId = d.bytes(f.v)
			case 3:
				sp.TraceState = d.str(f.v)
			case 4:
				sp.ParentSpanId = d.bytes(f.v)
			case 5:
				sp.Name = d.str(f.v)
			case 9:
				return d.appendKeyValue(&sp.Attributes, f.v, 4)
			case 11:
				e := d.events.new()
				sp.Events = append(sp.Events, e)
				return d.event(f.v, e)
			case 13:
				l := &tracepb.Span_Link{}
				sp.Links = append(sp.Links, l)
				return d.link(f.v, l)
			case 15:
				if sp.Status == nil {
					sp.Status = d.statuses.new()
				}
				return d.status(f.v, sp.Status)
			}
		case protowire.VarintType:
			switch f.num {
			case 6:
				sp.Kind = tracepb.Span_SpanKind(int32(f.x))
			case 10:
				sp.DroppedAttributesCount = uint32(f.x)
			case 12:
				sp.DroppedEventsCount = uint32(f.x)
			case 14:
				sp.DroppedLinksCount = uint32(f.x)
			}
		case protowire.Fixed64Type:
			switch f.num {
			case 7:
				sp.StartTimeUnixNano = f.x
			case 8:
				sp.EndTimeUnixNano = f.x
			}
		case protowire.Fixed32Type:
			if f.num == 16 {
				sp.Flags = uint32(f.x)
			}
		}
		return nil
	})
}

func (d *wireDecoder) event(b []byte, e *tracepb.Span_Event) error {
	return eachField(b, func(f wireField) error {
		switch {
		case f.is(1, protowire.Fixed64Type):
			e.TimeUnixNano = f.x
		case f.is(2, protowire.BytesType):
			e.Name = d.str(f.v)
		case f.is(3, protowire.BytesType):
			return d.appendKeyValue(&e.Attributes, f.v, 5)
		case f.is(4, protowire.VarintType):
			e.DroppedAttributesCount = uint32(f.x)
		}
		return nil
	})
}

func (d *wireDecoder) link(b []byte, l *tracepb.Span_Link) error {
	return eachField(b, func(f wireField) error {
		switch {
		case f.is(1, protowire.BytesType):
			l.TraceId = d.bytes(f.v)
		case f.is(2, protowire.BytesType):
			l.SpanId = d.bytes(f.v)
		case f.is(3, protowire.BytesType):
			l.TraceState = d.str(f.v)
		case f.is(4, protowire.BytesType):
			return d.appendKeyValue(&l.Attributes, f.v, 5)
		case f.is(5, protowire.VarintType):
			l.DroppedAttributesCount = uint32(f.x)
		case f.is(6, protowire.Fixed32Type):
			l.Flags = uint32(f.x)
		}
		return nil
	})
}

func (d *wireDecoder) status(b []byte, s *tracepb.Status) error {
	return eachField(b, func(f wireField) error {
		switch {
		case f.is(2, protowire.BytesType):
			s.Message = d.str(f.v)
		case f.is(3, protowire.VarintType):
			s.Code = tracepb.Status_StatusCode(int32(f.x))
		}
		return nil
	})
}

// appendKeyValue decodes a KeyValue at nesting depth and appends it.
func (d *wireDecoder) appendKeyValue(dst *[]*commonpb.KeyValue, b []byte, depth int) error {
	kv := d.kvs.new()
	*dst = append(*dst, kv)
	return d.keyValue(b, kv, depth)
}

func (d *wireDecoder) keyValue(b []byte, kv *commonpb.KeyValue, depth int) error {
	if depth > maxWireDepth {
		return errWireDepth
	}
	return eachField(b, func(f wireField) error {
		switch {
		case f.is(1, protowire.BytesType):
			kv.Key = d.str(f.v)
		case f.is(2, protowire.BytesType):
			if kv.Value == nil {
				kv.Value = d.values.new()
			}
			return d.anyValue(f.v, kv.Value, depth+1)
		case f.is(3, protowire.VarintType):
			kv.KeyStrindex = int32(f.x)
		}
		return nil
	})
}

func (d *wireDecoder) anyValue(b []byte, av *commonpb.AnyValue, depth int) error {
	if depth > maxWireDepth {
		return errWireDepth
	}
	return eachField(b, func(f wireField) error {
		switch {
		case f.is(1, protowire.BytesType):
			v := d.strs.new()
			v.StringValue = d.str(f.v)
			av.Value = v
		case f.is(2, protowire.VarintType):
			v := d.bools.new()
			v.BoolValue = f.x != 0
			av.Value = v
		case f.is(3, protowire.VarintType):
			v := d.ints.new()
			v.IntValue = int64(f.x)
			av.Value = v
		case f.is(4, protowire.Fixed64Type):
			v := d.doubles.new()
			v.DoubleValue = math.Float64frombits(f.x)
			av.Value = v
		case f.is(5, protowire.BytesType):
			// A oneof message seen twice merges when the oneof still
			// holds it, as proto.Unmarshal does.
			arr, ok := av.Value.(*commonpb.AnyValue_ArrayValue)
			if !ok || arr.ArrayValue == nil {
				arr = &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{}}
				av.Value = arr
			}
			return eachField(f.v, func(g wireField) error {
				if !g.is(1, protowire.BytesType) {
					return nil
				}
				v := d.values.new()
				arr.ArrayValue.Values = append(arr.ArrayValue.Values, v)
				return d.anyValue(g.v, v, depth+2)
			})
		case f.is(6, protowire.BytesType):
			kvs, ok := av.Value.(*commonpb.AnyValue_KvlistValue)
			if !ok || kvs.KvlistValue == nil {
				kvs = &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{}}
				av.Value = kvs
			}
			return eachField(f.v, func(g wireField) error {
				if !g.is(1, protowire.BytesType) {
					return nil
				}
				return d.appendKeyValue(&kvs.KvlistValue.Values, g.v, depth+2)
			})
		case f.is(7, protowire.BytesType):
			av.Value = &commonpb.AnyValue_BytesValue{BytesValue: append([]byte{}, f.v...)}
		case f.is(8, protowire.VarintType):
			av.Value = &commonpb.AnyValue_StringValueStrindex{StringValueStrindex: int32(f.x)}
		}
		return nil
	})
}
