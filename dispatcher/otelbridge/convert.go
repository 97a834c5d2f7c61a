package otelbridge

import (
	"go.opentelemetry.io/otel/attribute"

	"github.com/stagescope/stagescope/spans"
	"github.com/stagescope/stagescope/spans/semconv"
)

// KeyValue converts one stagescope attribute.
func KeyValue(a spans.Attribute) attribute.KeyValue {
	v := a.Value
	switch v.Kind() {
	case spans.KindString:
		return attribute.String(a.Key, v.AsString())
	case spans.KindInt64:
		return attribute.Int64(a.Key, v.AsInt64())
	case spans.KindFloat64:
		return attribute.Float64(a.Key, v.AsFloat64())
	case spans.KindBool:
		return attribute.Bool(a.Key, v.AsBool())
	case spans.KindStringSlice:
		return attribute.StringSlice(a.Key, v.AsStrings())
	case spans.KindInt64Slice:
		return attribute.Int64Slice(a.Key, v.AsInt64s())
	case spans.KindFloat64Slice:
		return attribute.Float64Slice(a.Key, v.AsFloat64s())
	case spans.KindBoolSlice:
		return attribute.BoolSlice(a.Key, v.AsBools())
	}
	return attribute.String(a.Key, "")
}

// spanAttributes renders a span's attributes with the convention aliases
// of semconv (the same the OTLP exporters write), its context tags as
// "tag."-prefixed attributes, and its "dropped" status, which OTel's status
// cannot say.
func spanAttributes(s *spans.Span) []attribute.KeyValue {
	aliases := semconv.Aliases(s)
	out := make([]attribute.KeyValue, 0, len(s.Attrs)+len(aliases)+len(s.Tags)+1)
	for _, a := range s.Attrs {
		out = append(out, KeyValue(a))
	}
	for _, a := range aliases {
		if _, ok := s.Attr(a.Key); !ok {
			out = append(out, KeyValue(a))
		}
	}
	for _, t := range s.Tags {
		out = append(out, attribute.String("tag."+t.Key, t.Value))
	}
	if s.Status == spans.StatusDropped {
		out = append(out, attribute.String("stagescope.status", "dropped"))
	}
	return out
}

func attrs(in []spans.Attribute) []attribute.KeyValue {
	out := make([]attribute.KeyValue, len(in))
	for i, a := range in {
		out[i] = KeyValue(a)
	}
	return out
}
