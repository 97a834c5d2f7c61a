package spans

import (
	"encoding/hex"
	"errors"
	"fmt"
)

// SpanContext is the part of a span that crosses process boundaries: what a
// W3C traceparent header carries.
type SpanContext struct {
	TraceID TraceID
	SpanID  SpanID
	Flags   byte // bit 0: sampled
	Remote  bool // true when it was parsed from another process
}

// IsValid reports whether both IDs are non-zero.
func (sc SpanContext) IsValid() bool { return !sc.TraceID.IsZero() && !sc.SpanID.IsZero() }

// Sampled reports the W3C sampled flag.
func (sc SpanContext) Sampled() bool { return sc.Flags&1 == 1 }

// ErrTraceparent is wrapped by every traceparent parse error.
var ErrTraceparent = errors.New("malformed traceparent")

// FormatTraceparent renders sc as a W3C Trace Context traceparent value,
// version 00: "00-<trace-id>-<span-id>-<flags>".
func FormatTraceparent(sc SpanContext) string {
	var b [55]byte
	b[0], b[1], b[2] = '0', '0', '-'
	hex.Encode(b[3:35], sc.TraceID[:])
	b[35] = '-'
	hex.Encode(b[36:52], sc.SpanID[:])
	b[52] = '-'
	hex.Encode(b[53:55], []byte{sc.Flags})
	return string(b[:])
}

// ParseTraceparent parses a W3C traceparent header value. It follows the
// specification's rules: lower-case hex only, version ff is invalid, version
// 00 must be exactly 55 characters, later versions may carry more fields after
// a dash, and all-zero IDs are invalid.
func ParseTraceparent(s string) (SpanContext, error) {
	if len(s) < 55 {
		return SpanContext{}, fmt.Errorf("%w: %q is %d characters, want 55", ErrTraceparent, s, len(s))
	}
	for i := 0; i < 55; i++ {
		c := s[i]
		switch i {
		case 2, 35, 52:
			if c != '-' {
				return SpanContext{}, fmt.Errorf("%w: %q: want '-' at offset %d", ErrTraceparent, s, i)
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return SpanContext{}, fmt.Errorf("%w: %q: character %q at offset %d is not lower-case hex", ErrTraceparent, s, c, i)
			}
		}
	}
	var ver [1]byte
	hex.Decode(ver[:], []byte(s[0:2]))
	switch {
	case ver[0] == 0xff:
		return SpanContext{}, fmt.Errorf("%w: version ff is forbidden", ErrTraceparent)
	case ver[0] == 0 && len(s) != 55:
		return SpanContext{}, fmt.Errorf("%w: version 00 must be 55 characters, got %d", ErrTraceparent, len(s))
	case len(s) > 55 && s[55] != '-':
		return SpanContext{}, fmt.Errorf("%w: %q: unexpected data after flags", ErrTraceparent, s)
	}
	var sc SpanContext
	hex.Decode(sc.TraceID[:], []byte(s[3:35]))
	hex.Decode(sc.SpanID[:], []byte(s[36:52]))
	var fl [1]byte
	hex.Decode(fl[:], []byte(s[53:55]))
	sc.Flags = fl[0]
	sc.Remote = true
	if sc.TraceID.IsZero() {
		return SpanContext{}, fmt.Errorf("%w: trace id is all zeros", ErrTraceparent)
	}
	if sc.SpanID.IsZero() {
		return SpanContext{}, fmt.Errorf("%w: parent id is all zeros", ErrTraceparent)
	}
	return sc, nil
}

// SpanContext returns sc itself, so that a SpanContext can be a Parent.
func (sc SpanContext) SpanContext() SpanContext { return sc }
