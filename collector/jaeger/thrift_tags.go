package jaeger

import (
	"encoding/json"
	"strings"

	"github.com/opentracing/opentracing-go/log"

	"github.com/stagescope/stagescope/collector/otlpconv"
	"github.com/stagescope/stagescope/spans"
	"github.com/stagescope/stagescope/spans/semconv"
)

// Tag keys by which Jaeger turns Thrift tags back into an OpenTelemetry
// status and span kind.
const (
	tagError             = "error"
	tagStatusCode        = "otel.status_code"
	tagStatusDescription = "otel.status_description"
	tagSpanKind          = "span.kind"
	tagScopeName         = "otel.scope.name"
	tagScopeVersion      = "otel.scope.version"
	logEventField        = "event"
)

// thriftTag is one Thrift tag before it is handed to the tracer: values are
// string, int64, float64 or bool, the types jaeger.thrift can carry.
type thriftTag struct {
	key   string
	value any
}

// thriftValue renders an attribute value as a Thrift tag value. Slices,
// which jaeger.thrift lacks, become their JSON text.
func thriftValue(v spans.Value) any {
	switch v.Kind() {
	case spans.KindString:
		return v.AsString()
	case spans.KindInt64:
		return v.AsInt64()
	case spans.KindFloat64:
		return v.AsFloat64()
	case spans.KindBool:
		return v.AsBool()
	case spans.KindStringSlice, spans.KindInt64Slice, spans.KindFloat64Slice, spans.KindBoolSlice:
		b, err := json.Marshal(v.AsAny())
		if err != nil { // NaN or Inf in a float slice
			return v.Emit()
		}
		return string(b)
	}
	return ""
}

// spanTags lists what a span holds as Thrift tags. A span that came from
// another instrumentation keeps exactly its attributes; one stagescope made
// itself also gets the convention aliases (semconv.Aliases) and its context
// tags, as over OTLP. Scope, kind and status use the tags by which Jaeger
// turns Thrift back into OpenTelemetry.
func spanTags(s *spans.Span) []thriftTag {
	native := semconv.IsNative(s)
	out := make([]thriftTag, 0, len(s.Attrs)+len(s.Tags)+8)
	kind := s.Kind
	if native && kind == spans.SpanKindUnspecified {
		kind = spans.SpanKindInternal
	}
	if kind != spans.SpanKindUnspecified {
		out = append(out, thriftTag{tagSpanKind, kind.String()})
	}
	if s.Scope != "" {
		out = append(out, thriftTag{tagScopeName, s.Scope})
	}
	if s.ScopeVersion != "" {
		out = append(out, thriftTag{tagScopeVersion, s.ScopeVersion})
	}
	for _, a := range s.Attrs {
		out = append(out, thriftTag{a.Key, thriftValue(a.Value)})
	}
	if native {
		for _, a := range semconv.Aliases(s) {
			if _, ok := s.Attr(a.Key); !ok {
				out = append(out, thriftTag{a.Key, thriftValue(a.Value)})
			}
		}
		for _, t := range s.Tags {
			out = append(out, thriftTag{otlpconv.TagPrefix + t.Key, t.Value})
		}
	}
	switch s.Status {
	case spans.StatusOK:
		out = append(out, thriftTag{tagStatusCode, "OK"})
	case spans.StatusError, spans.StatusDropped:
		out = append(out, thriftTag{tagError, true}, thriftTag{tagStatusCode, "ERROR"})
		if s.Err != "" {
			out = append(out, thriftTag{tagStatusDescription, s.Err})
		}
		if s.Status == spans.StatusDropped {
			out = append(out, thriftTag{otlpconv.KeyStatus, "dropped"})
		}
	}
	return out
}

// processOf names the Jaeger process a span belongs to: its service, and
// for a span that came from elsewhere the rest of its resource as process
// tags. key tells processes apart.
func processOf(s *spans.Span, fallback string) (key, service string, tags []thriftTag) {
	service = s.Service()
	if service == "" {
		service = fallback
	}
	if semconv.IsNative(s) {
		return "service\x00" + service, service, nil
	}
	var b strings.Builder
	b.WriteString("resource\x00")
	for _, a := range s.Resource.Attrs {
		if a.Key == spans.KeyService {
			continue
		}
		tags = append(tags, thriftTag{a.Key, thriftValue(a.Value)})
		b.WriteString(a.Key)
		b.WriteByte(0)
		b.WriteString(a.Value.Emit())
		b.WriteByte(0)
	}
	b.WriteString(service)
	return b.String(), service, tags
}

// logFields renders an event as the fields of a Thrift log; the event name
// goes in the "event" field, where Jaeger looks for it.
func logFields(name string, attrs []spans.Attribute) []log.Field {
	out := make([]log.Field, 0, len(attrs)+1)
	out = append(out, log.String(logEventField, name))
	for _, a := range attrs {
		switch v := thriftValue(a.Value).(type) {
		case string:
			out = append(out, log.String(a.Key, v))
		case int64:
			out = append(out, log.Int64(a.Key, v))
		case float64:
			out = append(out, log.Float64(a.Key, v))
		case bool:
			out = append(out, log.Bool(a.Key, v))
		}
	}
	return out
}
