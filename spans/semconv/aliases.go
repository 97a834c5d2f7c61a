package semconv

import "github.com/stagescope/stagescope/spans"

// Aliases returns the attributes under which other tools find what a span
// stagescope made itself knows: its stage as stagescope.stage,
// openinference.span.kind and gen_ai.operation.name, and its model and
// token counts under the OpenInference and GenAI keys. The exporters add
// them only to stagescope's own spans; a span that arrived from another
// instrumentation leaves exactly as it came.
func Aliases(s *spans.Span) []spans.Attribute {
	out := make([]spans.Attribute, 0, 8)
	out = append(out, spans.String(spans.KeyStage, s.Stage.String()),
		spans.String(KeyOpenInferenceKind, OpenInferenceKind(s.Stage)))
	if op := GenAIOperation(s.Stage); op != "" {
		out = append(out, spans.String(KeyGenAIOperation, op))
	}
	for _, a := range s.Attrs {
		switch a.Key {
		case spans.KeyLLMModel:
			out = append(out, spans.String(KeyGenAIRequestModel, a.Value.AsString()), spans.String(KeyOIModel, a.Value.AsString()))
		case spans.KeyLLMPromptTokens:
			out = append(out, spans.Int64(KeyGenAIInputTokens, a.Value.AsInt64()), spans.Int64(KeyOIPromptTokens, a.Value.AsInt64()))
		case spans.KeyLLMCompletionTokens:
			out = append(out, spans.Int64(KeyGenAIOutputTokens, a.Value.AsInt64()), spans.Int64(KeyOICompletionTokens, a.Value.AsInt64()))
		}
	}
	return out
}

// IsNative reports whether stagescope made the span itself (the engine, or
// any program through the dispatcher), as opposed to receiving it from
// another instrumentation with a resource that describes its source.
func IsNative(s *spans.Span) bool { return s.Resource == nil }
