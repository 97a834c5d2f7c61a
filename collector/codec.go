package collector

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/spans"
)

// The body column holds what a query never filters on, in a compact binary
// form: a version byte, then length-prefixed strings and typed attributes.
// It is cheaper to write than JSON (no reflection, no quoting) and keeps
// int64 and float64 apart.
const bodyVersion = 1

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

// appendSpanBody encodes scope, error text, attributes, tags and links. It
// returns b unchanged (nil body) when all are empty.
func appendSpanBody(b []byte, s *spans.Span) []byte {
	if s.Scope == "" && s.Err == "" && len(s.Attrs) == 0 && len(s.Tags) == 0 && len(s.Links) == 0 {
		return b
	}
	b = append(b, bodyVersion)
	b = appendString(b, s.Scope)
	b = appendString(b, s.Err)
	b = appendAttrs(b, s.Attrs)
	b = appendTags(b, s.Tags)
	b = binary.AppendUvarint(b, uint64(len(s.Links)))
	for _, l := range s.Links {
		b = append(b, l.TraceID[:]...)
		b = append(b, l.SpanID[:]...)
		b = appendAttrs(b, l.Attrs)
	}
	return b
}

// appendEventBody encodes an event's attributes and tags.
func appendEventBody(b []byte, r *event.Record) []byte {
	if len(r.Attrs) == 0 && len(r.Tags) == 0 {
		return b
	}
	b = append(b, bodyVersion)
	b = appendAttrs(b, r.Attrs)
	return appendTags(b, r.Tags)
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

func (r *bodyReader) version() {
	if v := r.byte("version"); v != bodyVersion && r.err == nil {
		r.err = fmt.Errorf("%w: unknown body version %d", errCorruptBody, v)
	}
}

// decodeSpanBody fills the body fields of s from b (nil b: all empty).
func decodeSpanBody(b []byte, s *spans.Span) error {
	if len(b) == 0 {
		return nil
	}
	r := bodyReader{b: b}
	r.version()
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
	return r.err
}

// decodeEventBody fills the attributes and tags of e from b.
func decodeEventBody(b []byte, e *event.Record) error {
	if len(b) == 0 {
		return nil
	}
	r := bodyReader{b: b}
	r.version()
	e.Attrs = r.attrs()
	e.Tags = r.tags()
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%w: %d trailing bytes", errCorruptBody, len(r.b))
	}
	return r.err
}
