package semconv

import (
	"strings"

	"github.com/stagescope/stagescope/spans"
)

// Stage infers the stage of a span from what its instrumentation wrote, in
// order:
//
//  1. stagescope.stage, when it names a stage;
//  2. openinference.span.kind (LLM, EMBEDDING, RETRIEVER, RERANKER, CHAIN,
//     TOOL, AGENT, PROMPT, GUARDRAIL, EVALUATOR, UNKNOWN);
//  3. langfuse.observation.type (generation, embedding, retriever, tool,
//     agent, chain; evaluator and guardrail are other; a plain span or
//     event falls through to the rules below);
//  4. the Vercel AI SDK's ai.operationId: the model call inside an operation
//     (ai.generateText.doGenerate, ai.streamText.doStream, …) is llm, its
//     embedding call (ai.embed.doEmbed, ai.embedMany.doEmbed) is embed, a tool
//     call is tool, and the operation around them (ai.generateText,
//     ai.streamText, ai.embed, …) is chain: it orchestrates, its own time is
//     small, and counting it as llm would count every call twice;
//  5. gen_ai.operation.name (chat, text_completion, generate_content,
//     embeddings, retrieval, execute_tool, invoke_agent, create_agent);
//  6. a GenAI request model without an operation name (older GenAI
//     instrumentations): llm;
//  7. a database span (db.system or db.system.name): a search or query of
//     a vector store (Qdrant, Pinecone, Chroma, Weaviate, Milvus, …) or of
//     a search engine (Elasticsearch, OpenSearch, Solr) is retrieve — the
//     operation is db.operation(.name), else the last dot-separated word of
//     the span name ("pinecone.query") — and every other database call is
//     storage;
//  8. traceloop.span.kind: agent and tool are those stages; a workflow or
//     task is what its name says (rule 9), else chain;
//  9. the span name: a stage name, or one followed by a dot ("llm.chat"),
//     then words in it ("rerank", "retriev", "embed", …).
//
// A convention that names a kind stagescope has no stage for (PROMPT,
// GUARDRAIL, EVALUATOR, UNKNOWN) gives StageOther and stops there: a
// ChatPromptTemplate is not a model call because its name says "chat".
func Stage(name string, attrs []spans.Attribute) spans.Stage {
	if v, ok := stringAttr(attrs, spans.KeyStage); ok {
		if st, err := spans.ParseStage(strings.ToLower(v)); err == nil {
			return st
		}
	}
	if v, ok := stringAttr(attrs, KeyOpenInferenceKind); ok {
		if st, ok := openInferenceStages[strings.ToUpper(v)]; ok {
			return st
		}
	}
	if v, ok := stringAttr(attrs, KeyLangfuseType); ok {
		if st, ok := langfuseStages[strings.ToLower(v)]; ok {
			return st
		}
	}
	if v, ok := stringAttr(attrs, KeyAIOperationID); ok {
		if st, ok := vercelStage(v); ok {
			return st
		}
	}
	if v, ok := stringAttr(attrs, KeyGenAIOperation); ok {
		if st, ok := genAIStages[strings.ToLower(v)]; ok {
			return st
		}
	}
	if _, ok := stringAttr(attrs, KeyGenAIRequestModel); ok {
		return spans.StageLLM
	}
	if st, ok := dbStage(name, attrs); ok {
		return st
	}
	if v, ok := stringAttr(attrs, KeyTraceloopKind); ok {
		switch strings.ToLower(v) {
		case "agent":
			return spans.StageAgent
		case "tool":
			return spans.StageTool
		case "workflow", "task":
			if st := stageFromName(strings.TrimSuffix(strings.TrimSuffix(name, ".workflow"), ".task")); st != spans.StageOther {
				return st
			}
			return spans.StageChain
		}
	}
	return stageFromName(name)
}

// StageKeys returns the attributes Stage reads besides the span name, and
// FailureKeys those FailedByConvention needs to decide: a system that cannot
// run this package but must keep what decides a span's stage and failure —
// the spanmetrics dimensions of the reference deployment (tools/deploy),
// read back by collector/prom — keeps these. A key Stage starts reading
// belongs here too.
func StageKeys() []string {
	return []string{spans.KeyStage, KeyOpenInferenceKind, KeyLangfuseType, KeyAIOperationID, KeyGenAIOperation,
		KeyGenAIRequestModel, KeyDBSystemName, KeyDBSystem, KeyDBOperationName, KeyDBOperation, KeyTraceloopKind}
}

// FailureKeys: see StageKeys.
func FailureKeys() []string { return []string{KeyLangfuseLevel} }

// FailedByConvention reports whether a span whose OpenTelemetry status is
// unset says by its convention that it failed, and the message it gives:
// Langfuse marks a failed observation with level ERROR and a status message
// (its observe() wrapper and manual updates leave the OTel status unset).
func FailedByConvention(attrs []spans.Attribute) (string, bool) {
	if v, ok := stringAttr(attrs, KeyLangfuseLevel); ok && strings.EqualFold(v, "ERROR") {
		msg, _ := stringAttr(attrs, KeyLangfuseStatusMessage)
		return msg, true
	}
	return "", false
}

// searchSystems are the database systems whose searches are retrieval:
// vector stores and search engines, by the lower-cased db.system values
// their instrumentations write.
var searchSystems = map[string]bool{
	"qdrant": true, "pinecone": true, "chroma": true, "chromadb": true, "weaviate": true, "milvus": true,
	"lancedb": true, "marqo": true, "vespa": true, "pgvector": true, "turbopuffer": true, "vectorize": true,
	"elasticsearch": true, "opensearch": true, "solr": true, "typesense": true, "meilisearch": true,
}

// searchOps are words of a database operation that read by similarity or
// by key for a request (retrieval) rather than write or manage the store.
var searchOps = []string{"search", "query", "retriev", "similar", "knn", "recommend", "discover", "get", "fetch", "peek", "nearest", "near_"}

// dbStage maps a database span: retrieve for a search of a vector store or
// search engine, storage for any other database call.
func dbStage(name string, attrs []spans.Attribute) (spans.Stage, bool) {
	system, ok := stringAttr(attrs, KeyDBSystemName)
	if !ok {
		system, ok = stringAttr(attrs, KeyDBSystem)
	}
	if !ok || system == "" {
		return spans.StageOther, false
	}
	if !searchSystems[strings.ToLower(system)] {
		return spans.StageStorage, true
	}
	op, ok := stringAttr(attrs, KeyDBOperationName)
	if !ok {
		op, ok = stringAttr(attrs, KeyDBOperation)
	}
	if !ok {
		op = name[strings.LastIndexByte(name, '.')+1:]
	}
	op = strings.ToLower(op)
	for _, w := range searchOps {
		if strings.Contains(op, w) {
			return spans.StageRetrieve, true
		}
	}
	return spans.StageStorage, true
}

var openInferenceStages = map[string]spans.Stage{
	"LLM": spans.StageLLM, "EMBEDDING": spans.StageEmbed, "RETRIEVER": spans.StageRetrieve,
	"RERANKER": spans.StageRerank, "CHAIN": spans.StageChain, "TOOL": spans.StageTool, "AGENT": spans.StageAgent,
	"PROMPT": spans.StageOther, "GUARDRAIL": spans.StageOther, "EVALUATOR": spans.StageOther, "UNKNOWN": spans.StageOther,
}

var langfuseStages = map[string]spans.Stage{
	"generation": spans.StageLLM, "embedding": spans.StageEmbed, "retriever": spans.StageRetrieve, "tool": spans.StageTool,
	"agent": spans.StageAgent, "chain": spans.StageChain, "evaluator": spans.StageOther, "guardrail": spans.StageOther,
}

var genAIStages = map[string]spans.Stage{
	"chat": spans.StageLLM, "text_completion": spans.StageLLM, "generate_content": spans.StageLLM,
	"embeddings": spans.StageEmbed, "retrieval": spans.StageRetrieve, "execute_tool": spans.StageTool,
	"invoke_agent": spans.StageAgent, "create_agent": spans.StageAgent,
}

// vercelStage maps an ai.operationId. The SDK names the provider call of an
// operation by appending ".do…" to the operation's id.
func vercelStage(op string) (spans.Stage, bool) {
	if !strings.HasPrefix(op, "ai.") {
		return spans.StageOther, false
	}
	if op == "ai.toolCall" {
		return spans.StageTool, true
	}
	outer, inner, nested := strings.Cut(strings.TrimPrefix(op, "ai."), ".")
	if !nested {
		return spans.StageChain, true
	}
	switch {
	case strings.HasPrefix(outer, "embed"):
		return spans.StageEmbed, true
	case strings.HasPrefix(inner, "do"):
		return spans.StageLLM, true
	}
	return spans.StageChain, true
}

// IsVercelOperation reports whether the span is one of the Vercel AI SDK's
// outer operations (ai.generateText, ai.embed, …), whose usage attributes
// repeat the totals of the provider calls inside them.
func IsVercelOperation(attrs []spans.Attribute) bool {
	op, ok := stringAttr(attrs, KeyAIOperationID)
	return ok && strings.HasPrefix(op, "ai.") && op != "ai.toolCall" && !strings.Contains(op[3:], ".")
}

// nameHints map words in a span name to stages, most specific first. They
// apply only to spans no convention describes.
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

func stageFromName(name string) spans.Stage {
	lower := strings.ToLower(name)
	head, _, _ := strings.Cut(lower, ".")
	if st, err := spans.ParseStage(head); err == nil {
		return st
	}
	for _, h := range nameHints {
		if strings.Contains(lower, h.word) {
			return h.stage
		}
	}
	return spans.StageOther
}

// OpenInferenceKind is the openinference.span.kind of a stage, for spans
// stagescope made itself.
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

// GenAIOperation is the gen_ai.operation.name of a stage, "" when the GenAI
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

func stringAttr(attrs []spans.Attribute, key string) (string, bool) {
	for i := len(attrs) - 1; i >= 0; i-- {
		if attrs[i].Key == key && attrs[i].Value.Kind() == spans.KindString {
			return attrs[i].Value.AsString(), true
		}
	}
	return "", false
}

// numberAttr returns the first of keys that the span carries as a number
// (integer, float, or a decimal string, as some SDKs write).
func numberAttr(attrs []spans.Attribute, keys ...string) (float64, bool) {
	for _, k := range keys {
		for i := len(attrs) - 1; i >= 0; i-- {
			if attrs[i].Key != k {
				continue
			}
			v := attrs[i].Value
			switch v.Kind() {
			case spans.KindInt64:
				return float64(v.AsInt64()), true
			case spans.KindFloat64:
				return v.AsFloat64(), true
			case spans.KindString:
				if f, err := parseNumber(v.AsString()); err == nil {
					return f, true
				}
			}
			break
		}
	}
	return 0, false
}
