package collector

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/spans"
)

// The body column holds what a query never filters on, in a compact binary
// form: a version byte, then length-prefixed strings and typed attributes.
// It is cheaper to write than JSON (no reflection, no quoting) and keeps
// int64 and float64 apart.
//
// Span bodies of version 2 add, after the version, one fields byte — the
// span kind in the low three bits, fieldResource and fieldScopeVersion —
// then the resource id (a uvarint into the resources table) and the scope
// version when their bits are set, then the version-1 layout. A span without
// kind, resource or scope version pays one byte over version 1. Version-1
// bodies (written before kinds and resources were kept) still decode.
const (
	bodyVersion1 = 1
	bodyVersion2 = 2
	// spanBodyVersion is what appendSpanBody writes; eventBodyVersion what
	// appendEventBody writes (events did not change).
	spanBodyVersion  = bodyVersion2
	eventBodyVersion = bodyVersion1
)

// Bits of a version-2 span body's fields byte.
const (
	fieldKindMask     = 0x07 // spans.SpanKind, 0..5
	fieldResource     = 0x08 // a resource id follows
	fieldScopeVersion = 0x10 // the scope version follows
)

var errCorruptBody = errors.New("corrupt body")

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendAttrs(b []byte, attrs []spans.Attribute) []byte {
	b = binary.AppendUvarint(b, uint64(len(attrs)))
	for _, a := range attrs {
		b = appendString(b, a.Key)
		v := a.Value
		b = append(b, byte(v.Kind()))
		switch v.Kind() {
		case spans.KindString:
			b = appendString(b, v.AsString())
		case spans.KindInt64:
			b = binary.AppendVarint(b, v.AsInt64())
		case spans.KindFloat64:
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v.AsFloat64()))
		case spans.KindBool:
			b = append(b, boolByte(v.AsBool()))
		case spans.KindStringSlice:
			s := v.AsStrings()
			b = binary.AppendUvarint(b, uint64(len(s)))
			for _, x := range s {
				b = appendString(b, x)
			}
		case spans.KindInt64Slice:
			s := v.AsInt64s()
			b = binary.AppendUvarint(b, uint64(len(s)))
			for _, x := range s {
				b = binary.AppendVarint(b, x)
			}
		case spans.KindFloat64Slice:
			s := v.AsFloat64s()
			b = binary.AppendUvarint(b, uint64(len(s)))
			for _, x := range s {
				b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
			}
		case spans.KindBoolSlice:
			s := v.AsBools()
			b = binary.AppendUvarint(b, uint64(len(s)))
			for _, x := range s {
				b = append(b, boolByte(x))
			}
		}
	}
	return b
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

func appendTags(b []byte, tags []spans.Tag) []byte {
	b = binary.AppendUvarint(b, uint64(len(tags)))
	for _, t := range tags {
		b = appendString(b, t.Key)
		b = appendString(b, t.Value)
	}
	return b
}

// appendSpanBody encodes a span without its resource (see
// appendSpanBodyResource).
func appendSpanBody(b []byte, s *spans.Span) []byte { return appendSpanBodyResource(b, s, 0) }

// appendSpanBodyResource encodes kind, resource id (0: none), scope and its
// version, error text, attributes, tags and links. It returns b unchanged
// (nil body) when all are empty.
func appendSpanBodyResource(b []byte, s *spans.Span, resourceID int64) []byte {
	return appendSpanBodyTags(b, s, resourceID, s.Tags, s.Scope)
}

// appendSpanBodyTags is appendSpanBodyResource with tags and scope in place
// of the span's (a chunk part stores the tags its records share, and the
// scopes, once).
func appendSpanBodyTags(b []byte, s *spans.Span, resourceID int64, tags []spans.Tag, scope string) []byte {
	if s.Kind == spans.SpanKindUnspecified && resourceID == 0 && s.ScopeVersion == "" &&
		scope == "" && s.Err == "" && len(s.Attrs) == 0 && len(tags) == 0 && len(s.Links) == 0 {
		return b
	}
	fields := byte(s.Kind) & fieldKindMask
	if resourceID != 0 {
		fields |= fieldResource
	}
	if s.ScopeVersion != "" {
		fields |= fieldScopeVersion
	}
	b = append(b, spanBodyVersion, fields)
	if resourceID != 0 {
		b = binary.AppendUvarint(b, uint64(resourceID))
	}
	if s.ScopeVersion != "" {
		b = appendString(b, s.ScopeVersion)
	}
	b = appendString(b, scope)
	b = appendString(b, s.Err)
	b = appendAttrs(b, s.Attrs)
	b = appendTags(b, tags)
	b = binary.AppendUvarint(b, uint64(len(s.Links)))
	for _, l := range s.Links {
		b = append(b, l.TraceID[:]...)
		b = append(b, l.SpanID[:]...)
		b = appendAttrs(b, l.Attrs)
	}
	return b
}

// appendEventBody encodes an event's attributes and tags.
func appendEventBody(b []byte, r *event.Record) []byte { return appendEventBodyTags(b, r, r.Tags) }

// appendEventBodyTags is appendEventBody with tags in place of the event's.
func appendEventBodyTags(b []byte, r *event.Record, tags []spans.Tag) []byte {
	if len(r.Attrs) == 0 && len(tags) == 0 {
		return b
	}
	b = append(b, eventBodyVersion)
	b = appendAttrs(b, r.Attrs)
	return appendTags(b, tags)
}

// bodyReader decodes a body; the first error sticks and later reads return
// zero values, so callers check err once at the end.
type bodyReader struct {
	b   []byte
	err error
}

func (r *bodyReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: truncated or invalid %s", errCorruptBody, what)
	}
	r.b = nil
}

func (r *bodyReader) uvarint(what string) uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *bodyReader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("integer")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a length and checks it against the bytes left, so a corrupt
// length cannot make us allocate gigabytes.
func (r *bodyReader) count(what string, minSize int) int {
	n := r.uvarint(what)
	if n > uint64(len(r.b)/max(minSize, 1)) {
		r.fail(what)
		return 0
	}
	return int(n)
}

func (r *bodyReader) bytes(n int, what string) []byte {
	if n > len(r.b) {
		r.fail(what)
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *bodyReader) string() string { return string(r.bytes(r.count("string", 1), "string")) }

func (r *bodyReader) byte(what string) byte {
	b := r.bytes(1, what)
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

func (r *bodyReader) float() float64 {
	b := r.bytes(8, "float")
	if len(b) < 8 {
		return 0
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(b))
}

func (r *bodyReader) attrs() []spans.Attribute {
	n := r.count("attribute count", 2)
	if n == 0 {
		return nil
	}
	out := make([]spans.Attribute, 0, n)
	for i := 0; i < n && r.err == nil; i++ {
		key := r.string()
		kind := spans.Kind(r.byte("kind"))
		var a spans.Attribute
		switch kind {
		case spans.KindString:
			a = spans.String(key, r.string())
		case spans.KindInt64:
			a = spans.Int64(key, r.varint())
		case spans.KindFloat64:
			a = spans.Float64(key, r.float())
		case spans.KindBool:
			a = spans.Bool(key, r.byte("bool") == 1)
		case spans.KindStringSlice:
			s := make([]string, r.count("slice", 1))
			for j := range s {
				s[j] = r.string()
			}
			a = spans.Strings(key, s)
		case spans.KindInt64Slice:
			s := make([]int64, r.count("slice", 1))
			for j := range s {
				s[j] = r.varint()
			}
			a = spans.Int64s(key, s)
		case spans.KindFloat64Slice:
			s := make([]float64, r.count("slice", 8))
			for j := range s {
				s[j] = r.float()
			}
			a = spans.Float64s(key, s)
		case spans.KindBoolSlice:
			s := make([]bool, r.count("slice", 1))
			for j := range s {
				s[j] = r.byte("bool") == 1
			}
			a = spans.Bools(key, s)
		default:
			r.fail(fmt.Sprintf("attribute kind %d", kind))
		}
		out = append(out, a)
	}
	return out
}

func (r *bodyReader) tags() []spans.Tag {
	n := r.count("tag count", 2)
	if n == 0 {
		return nil
	}
	out := make([]spans.Tag, n)
	for i := range out {
		out[i] = spans.Tag{Key: r.string(), Value: r.string()}
	}
	return out
}

// version reads the version byte and checks it is one of known.
func (r *bodyReader) version(known ...byte) byte {
	v := r.byte("version")
	if r.err == nil && !slices.Contains(known, v) {
		r.err = fmt.Errorf("%w: unknown body version %d", errCorruptBody, v)
	}
	return v
}

// decodeSpanBody fills the body fields of s from b (nil b: all empty); a
// resource id in b is checked but not resolved.
func decodeSpanBody(b []byte, s *spans.Span) error {
	_, err := decodeSpanBodyResource(b, s)
	return err
}

// decodeSpanBodyResource fills the body fields of s from b and returns the
// id of the span's resource, 0 when it has none (the caller resolves it).
func decodeSpanBodyResource(b []byte, s *spans.Span) (resourceID int64, err error) {
	if len(b) == 0 {
		return 0, nil
	}
	r := bodyReader{b: b}
	if r.version(bodyVersion1, bodyVersion2) == bodyVersion2 {
		fields := r.byte("fields")
		if fields&^(fieldKindMask|fieldResource|fieldScopeVersion) != 0 || fields&fieldKindMask > byte(spans.SpanKindConsumer) {
			r.fail("fields")
		}
		s.Kind = spans.SpanKind(fields & fieldKindMask)
		if fields&fieldResource != 0 {
			id := r.uvarint("resource id")
			if id == 0 || id > math.MaxInt64 {
				r.fail("resource id")
			}
			resourceID = int64(id)
		}
		if fields&fieldScopeVersion != 0 {
			s.ScopeVersion = r.string()
		}
	}
	s.Scope = r.string()
	s.Err = r.string()
	s.Attrs = r.attrs()
	s.Tags = r.tags()
	if n := r.count("link count", 25); n > 0 {
		s.Links = make([]spans.Link, n)
		for i := range s.Links {
			copy(s.Links[i].TraceID[:], r.bytes(16, "link trace id"))
			copy(s.Links[i].SpanID[:], r.bytes(8, "link span id"))
			s.Links[i].Attrs = r.attrs()
		}
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%w: %d trailing bytes", errCorruptBody, len(r.b))
	}
	if r.err != nil {
		return 0, r.err
	}
	return resourceID, nil
}

// decodeAttrs decodes a resource's attributes (appendAttrs's encoding).
func decodeAttrs(b []byte) ([]spans.Attribute, error) {
	r := bodyReader{b: b}
	attrs := r.attrs()
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%w: %d trailing bytes", errCorruptBody, len(r.b))
	}
	return attrs, r.err
}

// decodeEventBody fills the attributes and tags of e from b.
func decodeEventBody(b []byte, e *event.Record) error {
	if len(b) == 0 {
		return nil
	}
	r := bodyReader{b: b}
	r.version(eventBodyVersion)
	e.Attrs = r.attrs()
	e.Tags = r.tags()
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%w: %d trailing bytes", errCorruptBody, len(r.b))
	}
	return r.err
}
