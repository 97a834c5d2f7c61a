package otelbridge

import (
	"go.opentelemetry.io/otel/attribute"

	"github.com/stagescope/stagescope/spans"
)

// OpenInferenceKind maps a stage to the openinference.span.kind value.
func OpenInferenceKind(s spans.Stage) string {
	switch s {
	case spans.StageLLM:
		return "LLM"
	case spans.StageEmbed:
		return "EMBEDDING"
	case spans.StageRetrieve:
		return "RETRIEVER"
	case spans.StageRerank:
		return "RERANKER"
	case spans.StageTool:
		return "TOOL"
	case spans.StageAgent:
		return "AGENT"
	default:
		return "CHAIN"
	}
}

// GenAIOperation maps a stage to gen_ai.operation.name, or "" when the GenAI
// conventions have no name for it.
func GenAIOperation(s spans.Stage) string {
	switch s {
	case spans.StageLLM:
		return "chat"
	case spans.StageEmbed:
		return "embeddings"
	case spans.StageRetrieve:
		return "retrieval"
	case spans.StageTool:
		return "execute_tool"
	case spans.StageAgent:
		return "invoke_agent"
	}
	return ""
}

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

// spanAttributes renders everything a stagescope span knows as OTel
// attributes, including the semantic-convention aliases.
func spanAttributes(s *spans.Span) []attribute.KeyValue {
	out := make([]attribute.KeyValue, 0, len(s.Attrs)+len(s.Tags)+8)
	out = append(out,
		attribute.String(spans.KeyStage, s.Stage.String()),
		attribute.String("openinference.span.kind", OpenInferenceKind(s.Stage)),
	)
	if op := GenAIOperation(s.Stage); op != "" {
		out = append(out, attribute.String("gen_ai.operation.name", op))
	}
	if s.Scope != "" {
		out = append(out, attribute.String("stagescope.scope", s.Scope))
	}
	for _, a := range s.Attrs {
		out = append(out, KeyValue(a))
		switch a.Key {
		case spans.KeyLLMModel:
			out = append(out, attribute.String("gen_ai.request.model", a.Value.AsString()), attribute.String("llm.model_name", a.Value.AsString()))
		case spans.KeyLLMPromptTokens:
			out = append(out, attribute.Int64("gen_ai.usage.input_tokens", a.Value.AsInt64()), attribute.Int64("llm.token_count.prompt", a.Value.AsInt64()))
		case spans.KeyLLMCompletionTokens:
			out = append(out, attribute.Int64("gen_ai.usage.output_tokens", a.Value.AsInt64()), attribute.Int64("llm.token_count.completion", a.Value.AsInt64()))
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
