package jaeger

import (
	"encoding/json"

	"github.com/opentracing/opentracing-go/log"

	"github.com/stagescope/stagescope/dispatcher/otelbridge"
	"github.com/stagescope/stagescope/spans"
)

// Tag keys by which Jaeger turns Thrift tags back into an OpenTelemetry
// status and span kind.
const (
	tagError             = "error"
	tagStatusCode        = "otel.status_code"
	tagStatusDescription = "otel.status_description"
	tagSpanKind          = "span.kind"
	keyScope             = "stagescope.scope"
	keyStatus            = "stagescope.status"
	keyOpenInferenceKind = "openinference.span.kind"
	keyGenAIOperation    = "gen_ai.operation.name"
	tagPrefix            = "tag."
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

// spanTags lists everything a stagescope span knows as Thrift tags, with the
// same stage conventions the OpenTelemetry bridge writes.
func spanTags(s *spans.Span) []thriftTag {
	out := make([]thriftTag, 0, len(s.Attrs)+len(s.Tags)+8)
	out = append(out,
		thriftTag{spans.KeyStage, s.Stage.String()},
		thriftTag{keyOpenInferenceKind, otelbridge.OpenInferenceKind(s.Stage)},
		thriftTag{tagSpanKind, "internal"},
	)
	if op := otelbridge.GenAIOperation(s.Stage); op != "" {
		out = append(out, thriftTag{keyGenAIOperation, op})
	}
	if s.Scope != "" {
		out = append(out, thriftTag{keyScope, s.Scope})
	}
	for _, a := range s.Attrs {
		if a.Key == spans.KeyService { // carried by the process
			continue
		}
		out = append(out, thriftTag{a.Key, thriftValue(a.Value)})
	}
	for _, t := range s.Tags {
		out = append(out, thriftTag{tagPrefix + t.Key, t.Value})
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
			out = append(out, thriftTag{keyStatus, "dropped"})
		}
	}
	return out
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
