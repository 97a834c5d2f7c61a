package semconv_test

import (
	"testing"
	"time"

	"github.com/stagescope/stagescope/spans"
	"github.com/stagescope/stagescope/spans/semconv"
)

func str(k, v string) spans.Attribute       { return spans.String(k, v) }
func num(k string, v int64) spans.Attribute { return spans.Int64(k, v) }

// TestStage lists every convention the stage inference maps.
func TestStage(t *testing.T) {
	cases := []struct {
		convention string
		name       string
		attrs      []spans.Attribute
		want       spans.Stage
	}{
		{"stagescope.stage wins", "ChatOpenAI", []spans.Attribute{str("stagescope.stage", "rerank"), str("openinference.span.kind", "LLM")}, spans.StageRerank},
		{"stagescope.stage unknown falls through", "x", []spans.Attribute{str("stagescope.stage", "nope"), str("openinference.span.kind", "TOOL")}, spans.StageTool},
		{"OpenInference LLM", "ChatOpenAI", []spans.Attribute{str("openinference.span.kind", "LLM")}, spans.StageLLM},
		{"OpenInference EMBEDDING", "embed", []spans.Attribute{str("openinference.span.kind", "EMBEDDING")}, spans.StageEmbed},
		{"OpenInference RETRIEVER", "VectorStoreRetriever", []spans.Attribute{str("openinference.span.kind", "RETRIEVER")}, spans.StageRetrieve},
		{"OpenInference RERANKER", "CohereRerank", []spans.Attribute{str("openinference.span.kind", "RERANKER")}, spans.StageRerank},
		{"OpenInference CHAIN", "RunnableSequence", []spans.Attribute{str("openinference.span.kind", "CHAIN")}, spans.StageChain},
		{"OpenInference TOOL", "search_web", []spans.Attribute{str("openinference.span.kind", "TOOL")}, spans.StageTool},
		{"OpenInference AGENT", "AgentExecutor", []spans.Attribute{str("openinference.span.kind", "AGENT")}, spans.StageAgent},
		{"OpenInference PROMPT is not a model call", "ChatPromptTemplate", []spans.Attribute{str("openinference.span.kind", "PROMPT")}, spans.StageOther},
		{"OpenInference GUARDRAIL", "guard", []spans.Attribute{str("openinference.span.kind", "GUARDRAIL")}, spans.StageOther},
		{"OpenInference EVALUATOR", "llm judge", []spans.Attribute{str("openinference.span.kind", "EVALUATOR")}, spans.StageOther},
		{"OpenInference lower case", "x", []spans.Attribute{str("openinference.span.kind", "retriever")}, spans.StageRetrieve},
		{"Vercel generateText is an operation", "ai.generateText", []spans.Attribute{str("ai.operationId", "ai.generateText"), num("ai.usage.promptTokens", 10)}, spans.StageChain},
		{"Vercel doGenerate is the model call", "ai.generateText.doGenerate", []spans.Attribute{str("ai.operationId", "ai.generateText.doGenerate")}, spans.StageLLM},
		{"Vercel streamText is an operation", "ai.streamText", []spans.Attribute{str("ai.operationId", "ai.streamText")}, spans.StageChain},
		{"Vercel doStream is the model call", "ai.streamText.doStream", []spans.Attribute{str("ai.operationId", "ai.streamText.doStream"), str("gen_ai.request.model", "m")}, spans.StageLLM},
		{"Vercel generateObject.doGenerate", "x", []spans.Attribute{str("ai.operationId", "ai.generateObject.doGenerate")}, spans.StageLLM},
		{"Vercel embed", "ai.embed", []spans.Attribute{str("ai.operationId", "ai.embed")}, spans.StageChain},
		{"Vercel embed.doEmbed", "ai.embed.doEmbed", []spans.Attribute{str("ai.operationId", "ai.embed.doEmbed")}, spans.StageEmbed},
		{"Vercel embedMany.doEmbed", "ai.embedMany.doEmbed", []spans.Attribute{str("ai.operationId", "ai.embedMany.doEmbed")}, spans.StageEmbed},
		{"Vercel toolCall", "ai.toolCall", []spans.Attribute{str("ai.operationId", "ai.toolCall")}, spans.StageTool},
		{"GenAI chat", "chat gpt-4o", []spans.Attribute{str("gen_ai.operation.name", "chat")}, spans.StageLLM},
		{"GenAI text_completion", "x", []spans.Attribute{str("gen_ai.operation.name", "text_completion")}, spans.StageLLM},
		{"GenAI generate_content", "x", []spans.Attribute{str("gen_ai.operation.name", "generate_content")}, spans.StageLLM},
		{"GenAI embeddings", "x", []spans.Attribute{str("gen_ai.operation.name", "embeddings")}, spans.StageEmbed},
		{"GenAI retrieval", "x", []spans.Attribute{str("gen_ai.operation.name", "retrieval")}, spans.StageRetrieve},
		{"GenAI execute_tool", "x", []spans.Attribute{str("gen_ai.operation.name", "execute_tool")}, spans.StageTool},
		{"GenAI invoke_agent", "x", []spans.Attribute{str("gen_ai.operation.name", "invoke_agent")}, spans.StageAgent},
		{"GenAI create_agent", "x", []spans.Attribute{str("gen_ai.operation.name", "create_agent")}, spans.StageAgent},
		{"GenAI model without operation", "openai.chat", []spans.Attribute{str("gen_ai.request.model", "gpt-4o")}, spans.StageLLM},
		{"vector store search (OpenLLMetry Qdrant)", "qdrant.search", []spans.Attribute{str("db.system", "Qdrant")}, spans.StageRetrieve},
		{"vector store query is not the query stage", "pinecone.query", []spans.Attribute{str("db.system", "pinecone")}, spans.StageRetrieve},
		{"vector store write is storage", "chromadb.add", []spans.Attribute{str("db.system", "chromadb")}, spans.StageStorage},
		{"vector store upsert is storage", "qdrant.upsert", []spans.Attribute{str("db.system", "Qdrant")}, spans.StageStorage},
		{"db.operation.name wins over the name", "weaviate", []spans.Attribute{str("db.system.name", "weaviate"), str("db.operation.name", "near_text")}, spans.StageRetrieve},
		{"search engine search", "POST /docs/_search", []spans.Attribute{str("db.system", "elasticsearch"), str("db.operation", "search")}, spans.StageRetrieve},
		{"other databases are storage", "SELECT docs", []spans.Attribute{str("db.system", "postgresql"), str("db.operation", "SELECT")}, spans.StageStorage},
		{"a cache is storage", "GET", []spans.Attribute{str("db.system.name", "redis")}, spans.StageStorage},
		{"GenAI wins over db.system", "chat", []spans.Attribute{str("db.system", "redis"), str("gen_ai.operation.name", "chat")}, spans.StageLLM},
		{"Traceloop workflow", "rag_pipeline.workflow", []spans.Attribute{str("traceloop.span.kind", "workflow")}, spans.StageChain},
		{"Traceloop task named for a stage", "rerank_hits.task", []spans.Attribute{str("traceloop.span.kind", "task")}, spans.StageRerank},
		{"Traceloop task otherwise", "format_answer.task", []spans.Attribute{str("traceloop.span.kind", "task")}, spans.StageChain},
		{"Traceloop task is not named by its suffix", "x.task", []spans.Attribute{str("traceloop.span.kind", "task")}, spans.StageChain},
		{"Traceloop agent", "planner.agent", []spans.Attribute{str("traceloop.span.kind", "agent")}, spans.StageAgent},
		{"Traceloop tool", "web_lookup.tool", []spans.Attribute{str("traceloop.span.kind", "tool")}, spans.StageTool},
		{"Langfuse generation", "answer", []spans.Attribute{str("langfuse.observation.type", "generation")}, spans.StageLLM},
		{"Langfuse embedding", "embed-question", []spans.Attribute{str("langfuse.observation.type", "embedding")}, spans.StageEmbed},
		{"Langfuse retriever", "lookup", []spans.Attribute{str("langfuse.observation.type", "retriever")}, spans.StageRetrieve},
		{"Langfuse tool", "x", []spans.Attribute{str("langfuse.observation.type", "tool")}, spans.StageTool},
		{"Langfuse agent", "x", []spans.Attribute{str("langfuse.observation.type", "agent")}, spans.StageAgent},
		{"Langfuse chain", "x", []spans.Attribute{str("langfuse.observation.type", "chain")}, spans.StageChain},
		{"Langfuse evaluator is no model call", "llm judge", []spans.Attribute{str("langfuse.observation.type", "evaluator")}, spans.StageOther},
		{"Langfuse span falls through to its name", "rerank-passages", []spans.Attribute{str("langfuse.observation.type", "span")}, spans.StageRerank},
		{"name: stage name", "retrieve", nil, spans.StageRetrieve},
		{"name: stage prefix", "llm.chat", nil, spans.StageLLM},
		{"name: hint", "CohereRerank", nil, spans.StageRerank},
		{"name: hint search", "vector search", nil, spans.StageRetrieve},
		{"name: nothing", "handle request", nil, spans.StageOther},
		{"a number is not a kind", "rerank", []spans.Attribute{num("openinference.span.kind", 3)}, spans.StageRerank},
	}
	for _, c := range cases {
		if got := semconv.Stage(c.name, c.attrs); got != c.want {
			t.Errorf("%s: Stage(%q) = %s, want %s", c.convention, c.name, got, c.want)
		}
	}
}

// TestUsage lists every token convention.
func TestUsage(t *testing.T) {
	cases := []struct {
		convention string
		stage      spans.Stage
		attrs      []spans.Attribute
		want       semconv.Usage
		model      string
	}{
		{"stagescope", spans.StageLLM, []spans.Attribute{num("llm.prompt_tokens", 10), num("llm.completion_tokens", 3), str("llm.model", "m1")}, semconv.Usage{Prompt: 10, Completion: 3}, "m1"},
		{"OpenInference", spans.StageLLM, []spans.Attribute{num("llm.token_count.prompt", 12), num("llm.token_count.completion", 4), num("llm.token_count.total", 16), num("llm.token_count.prompt_details.cache_read", 5), str("llm.model_name", "gpt-4o")}, semconv.Usage{Prompt: 12, Completion: 4, CacheRead: 5}, "gpt-4o"},
		{"GenAI", spans.StageLLM, []spans.Attribute{num("gen_ai.usage.input_tokens", 7), num("gen_ai.usage.output_tokens", 2), str("gen_ai.request.model", "req"), str("gen_ai.response.model", "resp")}, semconv.Usage{Prompt: 7, Completion: 2}, "resp"},
		{"GenAI before 1.27", spans.StageLLM, []spans.Attribute{num("gen_ai.usage.prompt_tokens", 8), num("gen_ai.usage.completion_tokens", 1)}, semconv.Usage{Prompt: 8, Completion: 1}, ""},
		{"GenAI cache", spans.StageLLM, []spans.Attribute{num("gen_ai.usage.input_tokens", 9), num("gen_ai.usage.cache_read.input_tokens", 4)}, semconv.Usage{Prompt: 9, CacheRead: 4}, ""},
		{"Vercel ai 4 provider call", spans.StageLLM, []spans.Attribute{str("ai.operationId", "ai.generateText.doGenerate"), num("ai.usage.promptTokens", 20), num("ai.usage.completionTokens", 6), str("ai.model.id", "mock-model-id")}, semconv.Usage{Prompt: 20, Completion: 6}, "mock-model-id"},
		{"Vercel ai 5 provider call", spans.StageLLM, []spans.Attribute{str("ai.operationId", "ai.streamText.doStream"), num("ai.usage.inputTokens", 21), num("ai.usage.outputTokens", 5), num("ai.usage.cachedInputTokens", 2)}, semconv.Usage{Prompt: 21, Completion: 5, CacheRead: 2}, ""},
		{"Vercel outer operation repeats its calls", spans.StageChain, []spans.Attribute{str("ai.operationId", "ai.generateText"), num("ai.usage.promptTokens", 20), str("ai.model.id", "m")}, semconv.Usage{}, "m"},
		{"Vercel embed call", spans.StageEmbed, []spans.Attribute{str("ai.operationId", "ai.embed.doEmbed"), num("ai.usage.tokens", 11)}, semconv.Usage{Embedding: 11}, ""},
		{"GenAI embeddings input is embedding", spans.StageEmbed, []spans.Attribute{num("gen_ai.usage.input_tokens", 13), str("gen_ai.request.model", "text-embedding-3-small")}, semconv.Usage{Embedding: 13}, "text-embedding-3-small"},
		{"OpenInference embedding", spans.StageEmbed, []spans.Attribute{num("llm.token_count.total", 14), str("embedding.model_name", "e5")}, semconv.Usage{Embedding: 14}, "e5"},
		{"stagescope embedding", spans.StageEmbed, []spans.Attribute{num("embedding.tokens", 15), str("embedding.model", "hash")}, semconv.Usage{Embedding: 15}, "hash"},
		{"float and string counts", spans.StageLLM, []spans.Attribute{spans.Float64("gen_ai.usage.input_tokens", 30), str("gen_ai.usage.output_tokens", "4")}, semconv.Usage{Prompt: 30, Completion: 4}, ""},
		{"negative and nonsense ignored", spans.StageLLM, []spans.Attribute{num("llm.token_count.prompt", -5), str("llm.token_count.completion", "many")}, semconv.Usage{}, ""},
	}
	for _, c := range cases {
		s := &spans.Span{Stage: c.stage, Attrs: c.attrs}
		if got := semconv.UsageOf(s); got != c.want {
			t.Errorf("%s: UsageOf = %+v, want %+v", c.convention, got, c.want)
		}
		if got := semconv.Model(s); got != c.model {
			t.Errorf("%s: Model = %q, want %q", c.convention, got, c.model)
		}
	}
}

func TestTimeToFirstToken(t *testing.T) {
	for _, c := range []struct {
		attrs []spans.Attribute
		want  time.Duration
		ok    bool
	}{
		{[]spans.Attribute{num("llm.ttft_ns", 1500000)}, 1500 * time.Microsecond, true},
		{[]spans.Attribute{spans.Float64("ai.response.msToFirstChunk", 42.5)}, 42500 * time.Microsecond, true},
		{nil, 0, false},
	} {
		got, ok := semconv.TimeToFirstToken(&spans.Span{Attrs: c.attrs})
		if got != c.want || ok != c.ok {
			t.Errorf("TimeToFirstToken(%v) = %v %v, want %v %v", c.attrs, got, ok, c.want, c.ok)
		}
	}
}

func TestStreamedFirstToken(t *testing.T) {
	for _, c := range []struct {
		attrs []spans.Attribute
		want  time.Duration
		ok    bool
	}{
		{[]spans.Attribute{spans.Bool("llm.stream", true), num("llm.ttft_ns", 2000000)}, 2 * time.Millisecond, true},
		// Not streamed: the "first token" is the whole answer.
		{[]spans.Attribute{spans.Bool("llm.stream", false), num("llm.ttft_ns", 2000000)}, 0, false},
		{[]spans.Attribute{spans.Float64("ai.response.msToFirstChunk", 40.5)}, 40500 * time.Microsecond, true},
		{[]spans.Attribute{spans.Bool("llm.stream", true)}, 0, false},
	} {
		got, ok := semconv.StreamedFirstToken(&spans.Span{Attrs: c.attrs})
		if got != c.want || ok != c.ok {
			t.Errorf("StreamedFirstToken(%v) = %v %v, want %v %v", c.attrs, got, ok, c.want, c.ok)
		}
	}
}

func TestAliasesOnlyDescribeStagescopeKeys(t *testing.T) {
	s := &spans.Span{Stage: spans.StageLLM, Attrs: []spans.Attribute{str("llm.model", "m"), num("llm.prompt_tokens", 3)}}
	got := map[string]string{}
	for _, a := range semconv.Aliases(s) {
		got[a.Key] = a.Value.Emit()
	}
	want := map[string]string{"stagescope.stage": "llm", "openinference.span.kind": "LLM", "gen_ai.operation.name": "chat",
		"gen_ai.request.model": "m", "llm.model_name": "m", "gen_ai.usage.input_tokens": "3", "llm.token_count.prompt": "3"}
	if len(got) != len(want) {
		t.Fatalf("Aliases = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("alias %s = %q, want %q", k, got[k], v)
		}
	}
	if !semconv.IsNative(s) || semconv.IsNative(&spans.Span{Resource: &spans.Resource{}}) {
		t.Error("IsNative: a span with a resource came from elsewhere")
	}
}

func TestLangfuseUsageTTFTAndFailure(t *testing.T) {
	start := time.Date(2026, 12, 4, 14, 0, 0, 0, time.UTC)
	gen := &spans.Span{Name: "answer", Stage: spans.StageLLM, Start: start, End: start.Add(50 * time.Millisecond), Attrs: []spans.Attribute{
		str("langfuse.observation.type", "generation"), str("langfuse.observation.model.name", "gpt-4o-mini"),
		str("langfuse.observation.usage_details", `{"input":61,"output":21,"cache_read_input_tokens":10}`),
		str("langfuse.observation.completion_start_time", `"2026-12-04T14:00:00.030Z"`),
	}}
	if u := semconv.UsageOf(gen); u != (semconv.Usage{Prompt: 61, Completion: 21, CacheRead: 10}) {
		t.Errorf("usage %+v", u)
	}
	if m := semconv.Model(gen); m != "gpt-4o-mini" {
		t.Errorf("model %q", m)
	}
	if d, ok := semconv.TimeToFirstToken(gen); !ok || d != 30*time.Millisecond {
		t.Errorf("ttft %v %v, want 30ms", d, ok)
	}
	if d, ok := semconv.StreamedFirstToken(gen); !ok || d != 30*time.Millisecond {
		t.Errorf("streamed ttft %v %v", d, ok)
	}
	// OpenAI's and camel-case keys; the standard keys win over the JSON.
	for _, raw := range []string{`{"prompt_tokens":5,"completion_tokens":7}`, `{"promptTokens":5,"completionTokens":7,"totalTokens":12}`, `{"input_tokens":5,"output_tokens":7}`} {
		s := &spans.Span{Stage: spans.StageLLM, Attrs: []spans.Attribute{str("langfuse.observation.usage_details", raw)}}
		if u := semconv.UsageOf(s); u != (semconv.Usage{Prompt: 5, Completion: 7}) {
			t.Errorf("%s: usage %+v", raw, u)
		}
	}
	both := &spans.Span{Stage: spans.StageLLM, Attrs: []spans.Attribute{num("gen_ai.usage.input_tokens", 3), str("langfuse.observation.usage_details", `{"input":99}`)}}
	if u := semconv.UsageOf(both); u.Prompt != 3 {
		t.Errorf("standard key lost to the JSON: %+v", u)
	}
	emb := &spans.Span{Stage: spans.StageEmbed, Attrs: []spans.Attribute{str("langfuse.observation.usage_details", `{"input":10}`)}}
	if u := semconv.UsageOf(emb); u != (semconv.Usage{Embedding: 10}) {
		t.Errorf("embedding usage %+v", u)
	}
	for _, raw := range []string{`not json`, `{"input":"ten"}`, `{"input":-4}`, `[1,2]`} {
		s := &spans.Span{Stage: spans.StageLLM, Attrs: []spans.Attribute{str("langfuse.observation.usage_details", raw)}}
		if u := semconv.UsageOf(s); !u.Zero() {
			t.Errorf("%s: usage %+v, want none", raw, u)
		}
	}
	// A first token outside the span is not one.
	late := *gen
	late.Attrs = []spans.Attribute{str("langfuse.observation.completion_start_time", "2026-12-04T14:00:01Z")}
	if _, ok := semconv.TimeToFirstToken(&late); ok {
		t.Error("a completion start after the span's end was read as a first token")
	}
	msg, failed := semconv.FailedByConvention([]spans.Attribute{str("langfuse.observation.level", "ERROR"), str("langfuse.observation.status_message", "boom")})
	if !failed || msg != "boom" {
		t.Errorf("level ERROR: %q %v", msg, failed)
	}
	if _, failed := semconv.FailedByConvention([]spans.Attribute{str("langfuse.observation.level", "WARNING")}); failed {
		t.Error("level WARNING read as a failure")
	}
}

// TestStageKeysAreRead checks that each key StageKeys lists decides a
// stage on its own, and FailureKeys a failure.
func TestStageKeysAreRead(t *testing.T) {
	values := map[string]string{
		"stagescope.stage": "rerank", "openinference.span.kind": "RERANKER", "langfuse.observation.type": "retriever",
		"ai.operationId": "ai.toolCall", "gen_ai.operation.name": "embeddings", "gen_ai.request.model": "m",
		"db.system.name": "postgresql", "db.system": "postgresql", "traceloop.span.kind": "tool",
	}
	for _, k := range semconv.StageKeys() {
		if k == "db.operation" || k == "db.operation.name" {
			// Read only beside a search system: a search there is retrieve.
			attrs := []spans.Attribute{str("db.system", "qdrant"), str(k, "search")}
			if got := semconv.Stage("qdrant.upsert", attrs); got != spans.StageRetrieve {
				t.Errorf("%s=search on qdrant.upsert: %s, want retrieve", k, got)
			}
			continue
		}
		v, ok := values[k]
		if !ok {
			t.Errorf("StageKeys lists %s; add a value that decides a stage to this test", k)
			continue
		}
		if got := semconv.Stage("handle request", []spans.Attribute{str(k, v)}); got == spans.StageOther {
			t.Errorf("%s=%s leaves the stage at other", k, v)
		}
	}
	for _, k := range semconv.FailureKeys() {
		if _, failed := semconv.FailedByConvention([]spans.Attribute{str(k, "ERROR")}); !failed {
			t.Errorf("%s=ERROR is not a failure", k)
		}
	}
}
