package collector

import (
	"strings"

	"github.com/stagescope/stagescope/spans"
)

// Attribute keys of foreign semantic conventions that the collector maps
// onto stagescope's: OpenInference (llm.*, openinference.span.kind) and
// OpenTelemetry GenAI (gen_ai.*).
const (
	keyOpenInferenceKind   = "openinference.span.kind"
	keyGenAIOperation      = "gen_ai.operation.name"
	keyOIPromptTokens      = "llm.token_count.prompt"
	keyOICompletionTokens  = "llm.token_count.completion"
	keyOIModel             = "llm.model_name"
	keyGenAIInputTokens    = "gen_ai.usage.input_tokens"
	keyGenAIOutputTokens   = "gen_ai.usage.output_tokens"
	keyGenAIPromptTokens   = "gen_ai.usage.prompt_tokens" // older name
	keyGenAICompletionToks = "gen_ai.usage.completion_tokens"
	keyGenAIRequestModel   = "gen_ai.request.model"
	keyGenAIResponseModel  = "gen_ai.response.model"
)

var openInferenceKinds = map[string]spans.Stage{
	"LLM": spans.StageLLM, "EMBEDDING": spans.StageEmbed, "RETRIEVER": spans.StageRetrieve,
	"RERANKER": spans.StageRerank, "CHAIN": spans.StageChain, "TOOL": spans.StageTool, "AGENT": spans.StageAgent,
	"GUARDRAIL": spans.StageOther, "EVALUATOR": spans.StageOther, "UNKNOWN": spans.StageOther,
}

var genAIOperations = map[string]spans.Stage{
	"chat": spans.StageLLM, "text_completion": spans.StageLLM, "generate_content": spans.StageLLM,
	"embeddings": spans.StageEmbed, "retrieval": spans.StageRetrieve, "execute_tool": spans.StageTool,
	"invoke_agent": spans.StageAgent, "create_agent": spans.StageAgent,
}

// nameHints map words in a span name to stages, most specific first.
var nameHints = []struct {
	word  string
	stage spans.Stage
}{
	{"rerank", spans.StageRerank}, {"retriev", spans.StageRetrieve}, {"search", spans.StageRetrieve},
	{"embed", spans.StageEmbed}, {"synth", spans.StageSynth}, {"llm", spans.StageLLM}, {"chat", spans.StageLLM},
	{"completion", spans.StageLLM}, {"generate", spans.StageLLM}, {"retry", spans.StageRetry}, {"pool", spans.StagePool},
	{"tool", spans.StageTool}, {"agent", spans.StageAgent}, {"storage", spans.StageStorage}, {"persist", spans.StageStorage},
	{"query", spans.StageQuery}, {"chain", spans.StageChain},
}

// StageFor infers the stage of a foreign span: the stagescope.stage
// attribute, then openinference.span.kind, then gen_ai.operation.name, then
// words in the span name; StageOther when nothing matches.
func StageFor(name string, attrs []spans.Attribute) spans.Stage {
	get := func(k string) (string, bool) {
		for i := len(attrs) - 1; i >= 0; i-- {
			if attrs[i].Key == k && attrs[i].Value.Kind() == spans.KindString {
				return attrs[i].Value.AsString(), true
			}
		}
		return "", false
	}
	if v, ok := get(spans.KeyStage); ok {
		if st, err := spans.ParseStage(strings.ToLower(v)); err == nil {
			return st
		}
	}
	if v, ok := get(keyOpenInferenceKind); ok {
		if st, ok := openInferenceKinds[strings.ToUpper(v)]; ok {
			return st
		}
	}
	if v, ok := get(keyGenAIOperation); ok {
		if st, ok := genAIOperations[strings.ToLower(v)]; ok {
			return st
		}
	}
	lower := strings.ToLower(name)
	if st, err := spans.ParseStage(lower); err == nil {
		return st
	}
	for _, h := range nameHints {
		if strings.Contains(lower, h.word) {
			return h.stage
		}
	}
	return spans.StageOther
}

// mapConventions appends stagescope's token and model attributes when a
// foreign convention carries them and the span does not already.
func mapConventions(attrs []spans.Attribute) []spans.Attribute {
	has := func(k string) bool {
		for _, a := range attrs {
			if a.Key == k {
				return true
			}
		}
		return false
	}
	find := func(keys ...string) (spans.Value, bool) {
		for _, k := range keys {
			for i := len(attrs) - 1; i >= 0; i-- {
				if attrs[i].Key == k {
					return attrs[i].Value, true
				}
			}
		}
		return spans.Value{}, false
	}
	for _, m := range []struct {
		dst  string
		srcs []string
	}{
		{spans.KeyLLMPromptTokens, []string{keyOIPromptTokens, keyGenAIInputTokens, keyGenAIPromptTokens}},
		{spans.KeyLLMCompletionTokens, []string{keyOICompletionTokens, keyGenAIOutputTokens, keyGenAICompletionToks}},
	} {
		if has(m.dst) {
			continue
		}
		if v, ok := find(m.srcs...); ok && (v.Kind() == spans.KindInt64 || v.Kind() == spans.KindFloat64) {
			attrs = append(attrs, spans.Int64(m.dst, int64(v.AsFloat64())))
		}
	}
	if !has(spans.KeyLLMModel) {
		if v, ok := find(keyOIModel, keyGenAIResponseModel, keyGenAIRequestModel); ok && v.Kind() == spans.KindString {
			attrs = append(attrs, spans.String(spans.KeyLLMModel, v.AsString()))
		}
	}
	return attrs
}
