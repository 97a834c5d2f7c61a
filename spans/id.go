package spans

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
)

// TraceID identifies a trace. It has the size and text form of an
// OpenTelemetry / W3C trace-id: 16 bytes, 32 lower-case hex digits.
type TraceID [16]byte

// SpanID identifies a span within a trace: 8 bytes, 16 lower-case hex digits.
type SpanID [8]byte

// ErrInvalidID is wrapped by every error about a malformed or all-zero ID.
var ErrInvalidID = errors.New("invalid id")

// NewTraceID returns a random, non-zero trace ID. It uses the runtime's
// per-thread generator, so it neither locks nor allocates.
func NewTraceID() TraceID {
	var t TraceID
	for t.IsZero() {
		binary.BigEndian.PutUint64(t[:8], rand.Uint64())
		binary.BigEndian.PutUint64(t[8:], rand.Uint64())
	}
	return t
}

// NewSpanID returns a random, non-zero span ID.
func NewSpanID() SpanID {
	var s SpanID
	for s.IsZero() {
		binary.BigEndian.PutUint64(s[:], rand.Uint64())
	}
	return s
}

// IsZero reports whether t is the invalid all-zero trace ID.
func (t TraceID) IsZero() bool { return t == TraceID{} }

// IsZero reports whether s is the invalid all-zero span ID.
func (s SpanID) IsZero() bool { return s == SpanID{} }

// String returns the 32-digit lower-case hex form.
func (t TraceID) String() string { return hex.EncodeToString(t[:]) }

// String returns the 16-digit lower-case hex form.
func (s SpanID) String() string { return hex.EncodeToString(s[:]) }

// MarshalText implements encoding.TextMarshaler (hex form).
func (t TraceID) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// MarshalText implements encoding.TextMarshaler (hex form).
func (s SpanID) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (t *TraceID) UnmarshalText(b []byte) error {
	v, err := ParseTraceID(string(b))
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *SpanID) UnmarshalText(b []byte) error {
	v, err := ParseSpanID(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// ParseTraceID parses 32 hex digits. Upper-case digits are accepted; the
// all-zero ID is rejected.
func ParseTraceID(s string) (TraceID, error) {
	var t TraceID
	if err := decodeHexID(t[:], s, "trace id"); err != nil {
		return TraceID{}, err
	}
	if t.IsZero() {
		return TraceID{}, fmt.Errorf("%w: trace id is all zeros", ErrInvalidID)
	}
	return t, nil
}

// ParseSpanID parses 16 hex digits; the all-zero ID is rejected.
func ParseSpanID(s string) (SpanID, error) {
	var id SpanID
	if err := decodeHexID(id[:], s, "span id"); err != nil {
		return SpanID{}, err
	}
	if id.IsZero() {
		return SpanID{}, fmt.Errorf("%w: span id is all zeros", ErrInvalidID)
	}
	return id, nil
}

func decodeHexID(dst []byte, s, what string) error {
	if len(s) != 2*len(dst) {
		return fmt.Errorf("%w: %s must be %d hex digits, got %d characters", ErrInvalidID, what, 2*len(dst), len(s))
	}
	if _, err := hex.Decode(dst, []byte(s)); err != nil {
		return fmt.Errorf("%w: %s %q is not hex", ErrInvalidID, what, s)
	}
	return nil
}
