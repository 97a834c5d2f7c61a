package jaeger

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/stagescope/stagescope/collector/otlpconv"
	"github.com/stagescope/stagescope/spans"
	"github.com/stagescope/stagescope/spans/semconv"
)

// queryAnswer is the envelope of the api/v3 answers: an OTLP/JSON
// TracesData under "result", or a gateway error.
type queryAnswer struct {
	Result json.RawMessage `json:"result"`
	Error  *gatewayDetail  `json:"error"`
}

type gatewayDetail struct {
	HTTPCode int    `json:"httpCode"`
	Message  string `json:"message"`
}

// Attributes that only carried, through Jaeger's own span model, something
// OTLP has a field for. Jaeger adds them when it stores a span sent over
// Thrift; they are dropped on the way back so a span reads as it was sent.
var transportKeys = map[string]bool{
	tagStatusCode: true, tagStatusDescription: true, tagSpanKind: true,
	tagScopeName: true, tagScopeVersion: true, "otel.library.name": true, "otel.library.version": true,
	jaegerWarnings: true,
}

// jaegerWarnings is where Jaeger's query service writes its own remarks
// about a trace ("parent span ID=… is not in the trace; skipping clock skew
// adjustment"); they are not the span's.
const jaegerWarnings = "@jaeger@warnings"

// decodeTraces turns the "result" of a query answer into traces, grouped by
// trace ID and ordered by start, through otlpconv: the same translation as
// OTLP ingest, so a span read back from Jaeger means what it meant when it
// was ingested.
func decodeTraces(result []byte) ([]Trace, error) {
	req, err := otlpconv.DecodeJSON(result)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedAnswer, err)
	}
	b := otlpconv.FromResourceSpans(req.GetResourceSpans())
	if b.Rejected > 0 {
		return nil, fmt.Errorf("%w: %d spans cannot be read: %s", ErrMalformedAnswer, b.Rejected, b.Reason)
	}
	index := map[spans.TraceID]int{}
	native := map[spans.SpanID]bool{}
	var out []Trace
	for i := range b.Spans {
		s := &b.Spans[i]
		cleanTransport(s)
		if res := s.Resource; restoreNative(s) {
			if name := res.Service(); name != "" {
				if _, ok := s.Attr(spans.KeyService); !ok {
					s.Attrs = append(s.Attrs, spans.String(spans.KeyService, name))
				}
			}
			native[s.SpanID] = true
		}
		k, ok := index[s.TraceID]
		if !ok {
			k = len(out)
			index[s.TraceID] = k
			out = append(out, Trace{})
		}
		out[k].Spans = append(out[k].Spans, s)
	}
	for _, e := range b.Events {
		if len(e.Attrs) > 0 {
			e.Attrs = without(e.Attrs, func(a spans.Attribute) bool { return a.Key == logEventField && a.Value.AsString() == e.Name })
		}
		if native[e.SpanID] {
			var own []spans.Attribute
			for _, a := range e.Attrs {
				if strings.HasPrefix(a.Key, otlpconv.TagPrefix) && a.Value.Kind() == spans.KindString {
					e.Tags = append(e.Tags, spans.Tag{Key: strings.TrimPrefix(a.Key, otlpconv.TagPrefix), Value: a.Value.AsString()})
					continue
				}
				own = append(own, a)
			}
			e.Attrs = own
		}
		k := index[e.TraceID]
		out[k].Events = append(out[k].Events, e)
	}
	sortTraces(out)
	return out, nil
}

// cleanTransport removes what Jaeger's storage model added (reading a
// scope that arrived as a tag back into the scope) and reads stagescope's
// "dropped" status back.
func cleanTransport(s *spans.Span) {
	if s.Scope == "" {
		for _, k := range [...][2]string{{tagScopeName, tagScopeVersion}, {"otel.library.name", "otel.library.version"}} {
			if v, ok := s.Attr(k[0]); ok && v.Kind() == spans.KindString {
				s.Scope = v.AsString()
				if v, ok := s.Attr(k[1]); ok && v.Kind() == spans.KindString {
					s.ScopeVersion = v.AsString()
				}
				break
			}
		}
	}
	s.Attrs = without(s.Attrs, func(a spans.Attribute) bool {
		return transportKeys[a.Key] || (a.Key == tagError && s.Status == spans.StatusError && a.Value.Kind() == spans.KindBool)
	})
	if v, ok := s.Attr(otlpconv.KeyStatus); ok && v.AsString() == "dropped" && s.Status == spans.StatusError {
		s.Status = spans.StatusDropped
	}
}

// restoreNative reads back a span that stagescope made itself and exported
// (otlpconv.ToResourceSpans, or the Thrift exporter): it carries
// stagescope.stage and the matching openinference.span.kind. Its context
// tags come back from the "tag." attributes, the aliases the exporter added
// are removed and the dropped status is read back, so the span is what was
// exported. It reports whether the span was one.
func restoreNative(s *spans.Span) bool {
	stage, ok1 := s.Attr(spans.KeyStage)
	kind, ok2 := s.Attr(semconv.KeyOpenInferenceKind)
	if !ok1 || !ok2 || stage.Kind() != spans.KindString {
		return false
	}
	st, err := spans.ParseStage(stage.AsString())
	if err != nil || kind.AsString() != semconv.OpenInferenceKind(st) {
		return false
	}
	var own []spans.Attribute
	for _, a := range s.Attrs {
		switch {
		case strings.HasPrefix(a.Key, otlpconv.TagPrefix) && a.Value.Kind() == spans.KindString:
			s.Tags = append(s.Tags, spans.Tag{Key: strings.TrimPrefix(a.Key, otlpconv.TagPrefix), Value: a.Value.AsString()})
		case a.Key == otlpconv.KeyStatus:
		default:
			own = append(own, a)
		}
	}
	s.Attrs, s.Stage = own, st
	added := map[string]string{}
	probe := *s
	probe.Attrs = nil
	for _, a := range own { // aliases come from stagescope's own keys only
		switch a.Key {
		case spans.KeyLLMModel, spans.KeyLLMPromptTokens, spans.KeyLLMCompletionTokens:
			probe.Attrs = append(probe.Attrs, a)
		}
	}
	for _, a := range semconv.Aliases(&probe) {
		added[a.Key] = a.Value.Emit()
	}
	s.Attrs = without(s.Attrs, func(a spans.Attribute) bool {
		v, ok := added[a.Key]
		return ok && v == a.Value.Emit()
	})
	s.Resource = nil // stagescope's own span again; its service is in the resource it was given
	return true
}

func without(attrs []spans.Attribute, drop func(spans.Attribute) bool) []spans.Attribute {
	out := attrs[:0]
	for _, a := range attrs {
		if !drop(a) {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
