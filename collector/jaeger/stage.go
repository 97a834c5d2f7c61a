package jaeger

import (
	"strings"

	"github.com/stagescope/stagescope/spans"
)

// StageFromAttributes decides the stage of a span recorded elsewhere, from,
// in order: the stagescope.stage attribute, openinference.span.kind,
// gen_ai.operation.name, and the span name (a stage name, or a stage name
// followed by a dot, as in "llm.chat"). attr looks an attribute's string
// value up. Unknown values fall through to the next rule; StageOther is last.
func StageFromAttributes(name string, attr func(key string) (string, bool)) spans.Stage {
	if v, ok := attr(spans.KeyStage); ok {
		if st, err := spans.ParseStage(v); err == nil {
			return st
		}
	}
	if v, ok := attr(keyOpenInferenceKind); ok {
		if st, ok := openInferenceStage(v); ok {
			return st
		}
	}
	if v, ok := attr(keyGenAIOperation); ok {
		if st, ok := genAIStage(v); ok {
			return st
		}
	}
	return stageFromName(name)
}

func openInferenceStage(kind string) (spans.Stage, bool) {
	switch strings.ToUpper(kind) {
	case "LLM":
		return spans.StageLLM, true
	case "EMBEDDING":
		return spans.StageEmbed, true
	case "RETRIEVER":
		return spans.StageRetrieve, true
	case "RERANKER":
		return spans.StageRerank, true
	case "CHAIN":
		return spans.StageChain, true
	case "TOOL":
		return spans.StageTool, true
	case "AGENT":
		return spans.StageAgent, true
	case "GUARDRAIL", "EVALUATOR", "UNKNOWN":
		return spans.StageOther, true
	}
	return spans.StageOther, false
}

func genAIStage(op string) (spans.Stage, bool) {
	switch op {
	case "chat", "text_completion", "generate_content":
		return spans.StageLLM, true
	case "embeddings":
		return spans.StageEmbed, true
	case "retrieval":
		return spans.StageRetrieve, true
	case "execute_tool":
		return spans.StageTool, true
	case "invoke_agent", "create_agent":
		return spans.StageAgent, true
	}
	return spans.StageOther, false
}

func stageFromName(name string) spans.Stage {
	head, _, _ := strings.Cut(strings.ToLower(name), ".")
	if st, err := spans.ParseStage(head); err == nil {
		return st
	}
	return spans.StageOther
}
