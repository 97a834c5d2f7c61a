package otlpconv

import (
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/spans"
	"github.com/stagescope/stagescope/spans/semconv"
)

// KeyStatus carries a stagescope span's "dropped" status (abandoned: a
// stream closed early, a cancelled call), which OTLP cannot say; the span
// is exported with status ERROR and this attribute.
const KeyStatus = "stagescope.status"

// TagPrefix prefixes the context tags of stagescope's own spans and events
// when they become OTLP attributes.
const TagPrefix = "tag."

// ToResourceSpans groups spans by resource and instrumentation scope for an
// OTLP export request, in the order they first appear; evs are the span
// events, matched to their spans by span id (events of spans not in ss are
// left out).
//
// A span that came from elsewhere (it has a Resource) is written exactly as
// it was received: its resource, scope and version, kind, attributes,
// status, events and links, nothing added. A span stagescope made itself
// gets a resource whose service.name is the span's service, else service;
// its dispatcher name as the scope; kind INTERNAL unless it set one; and
// the convention aliases of semconv.Aliases, its tags as "tag."-prefixed
// attributes and, when it was dropped, KeyStatus.
func ToResourceSpans(ss []*spans.Span, evs []event.Record, service string) []*tracepb.ResourceSpans {
	type scopeKey struct{ name, version string }
	type group struct {
		rs     *tracepb.ResourceSpans
		scopes map[scopeKey]*tracepb.ScopeSpans
	}
	var byResource map[*spans.Resource]*group
	var byService map[string]*group
	var out []*tracepb.ResourceSpans
	var bySpan map[spans.SpanID][]*event.Record
	if len(evs) > 0 {
		bySpan = make(map[spans.SpanID][]*event.Record, len(ss))
		for i := range evs {
			bySpan[evs[i].SpanID] = append(bySpan[evs[i].SpanID], &evs[i])
		}
	}
	newGroup := func(attrs []*commonpb.KeyValue) *group {
		g := &group{rs: &tracepb.ResourceSpans{Resource: &resourcepb.Resource{Attributes: attrs}}, scopes: map[scopeKey]*tracepb.ScopeSpans{}}
		out = append(out, g.rs)
		return g
	}
	for _, s := range ss {
		if s == nil {
			continue
		}
		native := semconv.IsNative(s)
		var g *group
		if native {
			name := s.Service()
			if name == "" {
				name = service
			}
			if g = byService[name]; g == nil {
				if byService == nil {
					byService = map[string]*group{}
				}
				g = newGroup([]*commonpb.KeyValue{keyValue(spans.String(spans.KeyService, name))})
				byService[name] = g
			}
		} else {
			if g = byResource[s.Resource]; g == nil {
				if byResource == nil {
					byResource = map[*spans.Resource]*group{}
				}
				g = newGroup(keyValues(s.Resource.Attrs))
				byResource[s.Resource] = g
			}
		}
		sk := scopeKey{s.Scope, s.ScopeVersion}
		sc := g.scopes[sk]
		if sc == nil {
			sc = &tracepb.ScopeSpans{Scope: &commonpb.InstrumentationScope{Name: s.Scope, Version: s.ScopeVersion}}
			g.scopes[sk] = sc
			g.rs.ScopeSpans = append(g.rs.ScopeSpans, sc)
		}
		sc.Spans = append(sc.Spans, toSpan(s, bySpan[s.SpanID], native))
	}
	return out
}

func toSpan(s *spans.Span, evs []*event.Record, native bool) *tracepb.Span {
	p := &tracepb.Span{
		TraceId:           append([]byte(nil), s.TraceID[:]...),
		SpanId:            append([]byte(nil), s.SpanID[:]...),
		Name:              s.Name,
		Kind:              tracepb.Span_SpanKind(s.Kind),
		StartTimeUnixNano: unixNano(s.Start),
		EndTimeUnixNano:   unixNano(s.End),
		Status:            &tracepb.Status{Message: s.Err},
	}
	if !s.ParentID.IsZero() {
		p.ParentSpanId = append([]byte(nil), s.ParentID[:]...)
	}
	switch s.Status {
	case spans.StatusOK:
		p.Status.Code = tracepb.Status_STATUS_CODE_OK
	case spans.StatusError, spans.StatusDropped:
		p.Status.Code = tracepb.Status_STATUS_CODE_ERROR
	}
	p.Attributes = keyValues(s.Attrs)
	if native {
		if s.Kind == spans.SpanKindUnspecified {
			p.Kind = tracepb.Span_SPAN_KIND_INTERNAL
		}
		for _, a := range semconv.Aliases(s) {
			if _, ok := s.Attr(a.Key); !ok {
				p.Attributes = append(p.Attributes, keyValue(a))
			}
		}
		for _, t := range s.Tags {
			p.Attributes = append(p.Attributes, keyValue(spans.String(TagPrefix+t.Key, t.Value)))
		}
		if s.Status == spans.StatusDropped {
			p.Attributes = append(p.Attributes, keyValue(spans.String(KeyStatus, "dropped")))
		}
	}
	for _, e := range evs {
		pe := &tracepb.Span_Event{Name: e.Name, TimeUnixNano: unixNano(e.Time), Attributes: keyValues(e.Attrs)}
		if native {
			for _, t := range e.Tags {
				pe.Attributes = append(pe.Attributes, keyValue(spans.String(TagPrefix+t.Key, t.Value)))
			}
		}
		p.Events = append(p.Events, pe)
	}
	for _, l := range s.Links {
		p.Links = append(p.Links, &tracepb.Span_Link{
			TraceId: append([]byte(nil), l.TraceID[:]...), SpanId: append([]byte(nil), l.SpanID[:]...),
			Attributes: keyValues(l.Attrs),
		})
	}
	return p
}

func unixNano(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	return uint64(t.UnixNano())
}

func keyValues(attrs []spans.Attribute) []*commonpb.KeyValue {
	if len(attrs) == 0 {
		return nil
	}
	out := make([]*commonpb.KeyValue, len(attrs))
	for i, a := range attrs {
		out[i] = keyValue(a)
	}
	return out
}

func keyValue(a spans.Attribute) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: a.Key, Value: anyValue(a.Value)}
}

func anyValue(v spans.Value) *commonpb.AnyValue {
	switch v.Kind() {
	case spans.KindString:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v.AsString()}}
	case spans.KindInt64:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: v.AsInt64()}}
	case spans.KindFloat64:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: v.AsFloat64()}}
	case spans.KindBool:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: v.AsBool()}}
	case spans.KindStringSlice:
		s := v.AsStrings()
		vals := make([]*commonpb.AnyValue, len(s))
		for i, x := range s {
			vals[i] = &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: x}}
		}
		return arrayValue(vals)
	case spans.KindInt64Slice:
		s := v.AsInt64s()
		vals := make([]*commonpb.AnyValue, len(s))
		for i, x := range s {
			vals[i] = &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: x}}
		}
		return arrayValue(vals)
	case spans.KindFloat64Slice:
		s := v.AsFloat64s()
		vals := make([]*commonpb.AnyValue, len(s))
		for i, x := range s {
			vals[i] = &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: x}}
		}
		return arrayValue(vals)
	case spans.KindBoolSlice:
		s := v.AsBools()
		vals := make([]*commonpb.AnyValue, len(s))
		for i, x := range s {
			vals[i] = &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: x}}
		}
		return arrayValue(vals)
	}
	return &commonpb.AnyValue{}
}

func arrayValue(vals []*commonpb.AnyValue) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: vals}}}
}
