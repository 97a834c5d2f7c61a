package spans

import "time"

// Tag is a string label scoped to a context (see WithTags) and copied onto
// every span and event made under that context.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Link points at another span, for fan-in: one batch span that serves many
// queries links to each query's span.
type Link struct {
	TraceID TraceID     `json:"trace_id"`
	SpanID  SpanID      `json:"span_id"`
	Attrs   []Attribute `json:"attrs,omitempty"`
}

// Span is the record of one timed operation. A span is written by the
// goroutine that owns it until it ends; once handed to handlers at its end it
// is immutable and may be kept.
type Span struct {
	TraceID  TraceID `json:"trace_id"`
	SpanID   SpanID  `json:"span_id"`
	ParentID SpanID  `json:"parent_id"` // zero for a root span
	Name     string  `json:"name"`
	// Scope is the dotted name of the dispatcher that made the span
	// ("engine.retrieve"), or the OTel instrumentation scope of a foreign one.
	Scope  string `json:"scope,omitempty"`
	Stage  Stage  `json:"stage"`
	Status Status `json:"status"` // next to Stage: the two bytes share one word
	// Kind is the OpenTelemetry span kind; unspecified for in-process spans
	// that did not set it.
	Kind SpanKind `json:"kind,omitempty"`
	// ScopeVersion is the version of the instrumentation scope, when the
	// source gave one.
	ScopeVersion string `json:"scope_version,omitempty"`
	// Resource is what produced the span, as the source described it; nil for
	// in-process spans (the collector's service names them).
	Resource *Resource `json:"resource,omitempty"`
	// Start and End carry Go's monotonic clock reading when they come from
	// time.Now in this process, so Duration is immune to wall-clock steps.
	Start time.Time   `json:"start"`
	End   time.Time   `json:"end"`
	Err   string      `json:"error,omitempty"` // the error text of an error or dropped span
	Attrs []Attribute `json:"attrs,omitempty"`
	Tags  []Tag       `json:"tags,omitempty"`
	Links []Link      `json:"links,omitempty"`
}

// Duration is End − Start, using the monotonic clock when both carry it, and
// zero for a span that has not ended.
func (s *Span) Duration() time.Duration {
	if s.End.IsZero() {
		return 0
	}
	return s.End.Sub(s.Start)
}

// SpanContext returns the span's identity.
func (s *Span) SpanContext() SpanContext {
	return SpanContext{TraceID: s.TraceID, SpanID: s.SpanID, Flags: 1}
}

// IsRoot reports whether the span has no parent.
func (s *Span) IsRoot() bool { return s.ParentID.IsZero() }

// Attr returns the value of the last attribute named key.
func (s *Span) Attr(key string) (Value, bool) {
	for i := len(s.Attrs) - 1; i >= 0; i-- {
		if s.Attrs[i].Key == key {
			return s.Attrs[i].Value, true
		}
	}
	return Value{}, false
}

// Tag returns the value of the tag named key.
func (s *Span) Tag(key string) (string, bool) {
	for i := len(s.Tags) - 1; i >= 0; i-- {
		if s.Tags[i].Key == key {
			return s.Tags[i].Value, true
		}
	}
	return "", false
}

// Service returns the span's service: the resource's service.name, else a
// service.name attribute on the span itself, else "".
func (s *Span) Service() string {
	if name := s.Resource.Service(); name != "" {
		return name
	}
	if v, ok := s.Attr(KeyService); ok && v.Kind() == KindString {
		return v.AsString()
	}
	return ""
}
