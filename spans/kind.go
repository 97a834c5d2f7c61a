package spans

import "fmt"

// SpanKind is the OpenTelemetry span kind: the role of the span in a
// request between processes. In-process engine spans are internal; spans
// that arrive over OTLP keep the kind their SDK gave them.
type SpanKind uint8

const (
	SpanKindUnspecified SpanKind = iota // not set by the source (OTLP's 0)
	SpanKindInternal
	SpanKindServer
	SpanKindClient
	SpanKindProducer
	SpanKindConsumer
)

// The values follow OTLP's SpanKind enum, so a conversion is a cast.
var spanKindNames = [...]string{"unspecified", "internal", "server", "client", "producer", "consumer"}

// String returns the kind's lower-case name.
func (k SpanKind) String() string {
	if int(k) < len(spanKindNames) {
		return spanKindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// ParseSpanKind is the inverse of String.
func ParseSpanKind(name string) (SpanKind, error) {
	for i, n := range spanKindNames {
		if n == name {
			return SpanKind(i), nil
		}
	}
	return SpanKindUnspecified, fmt.Errorf("unknown span kind %q", name)
}

// MarshalText implements encoding.TextMarshaler.
func (k SpanKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (k *SpanKind) UnmarshalText(b []byte) error {
	v, err := ParseSpanKind(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}

// Resource describes the entity that produced a span: the OpenTelemetry
// resource (service.name, service.version, deployment.environment,
// host.name, …) exactly as the source sent it. Many spans share one
// *Resource; it is immutable once attached to a span.
type Resource struct {
	Attrs []Attribute `json:"attrs,omitempty"`
}

// Service returns the resource's service.name, "" when it has none.
func (r *Resource) Service() string {
	if r == nil {
		return ""
	}
	for i := len(r.Attrs) - 1; i >= 0; i-- {
		if r.Attrs[i].Key == KeyService && r.Attrs[i].Value.Kind() == KindString {
			return r.Attrs[i].Value.AsString()
		}
	}
	return ""
}
