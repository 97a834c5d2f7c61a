package semconv

// Attribute keys of the conventions this package reads. stagescope's own
// keys are in package spans.
const (
	// OpenInference.
	KeyOpenInferenceKind  = "openinference.span.kind"
	KeyOIModel            = "llm.model_name"
	KeyOIPromptTokens     = "llm.token_count.prompt"
	KeyOICompletionTokens = "llm.token_count.completion"
	KeyOITotalTokens      = "llm.token_count.total"
	KeyOICacheReadTokens  = "llm.token_count.prompt_details.cache_read"
	KeyOIEmbeddingModel   = "embedding.model_name"
	KeyOIProvider         = "llm.provider"
	KeyOISystem           = "llm.system"

	// OpenTelemetry GenAI.
	KeyGenAIOperation        = "gen_ai.operation.name"
	KeyGenAISystem           = "gen_ai.system"
	KeyGenAIProvider         = "gen_ai.provider.name"
	KeyGenAIRequestModel     = "gen_ai.request.model"
	KeyGenAIResponseModel    = "gen_ai.response.model"
	KeyGenAIInputTokens      = "gen_ai.usage.input_tokens"
	KeyGenAIOutputTokens     = "gen_ai.usage.output_tokens"
	KeyGenAIPromptTokens     = "gen_ai.usage.prompt_tokens"     // before semconv 1.27
	KeyGenAICompletionTokens = "gen_ai.usage.completion_tokens" // before semconv 1.27
	KeyGenAICacheReadTokens  = "gen_ai.usage.cache_read.input_tokens"

	// Vercel AI SDK (experimental_telemetry).
	KeyAIOperationID       = "ai.operationId"
	KeyAIModelID           = "ai.model.id"
	KeyAIModelProvider     = "ai.model.provider"
	KeyAIPromptTokens      = "ai.usage.promptTokens"     // ai ≤ 4
	KeyAICompletionTokens  = "ai.usage.completionTokens" // ai ≤ 4
	KeyAIInputTokens       = "ai.usage.inputTokens"      // ai ≥ 5
	KeyAIOutputTokens      = "ai.usage.outputTokens"     // ai ≥ 5
	KeyAICachedInputTokens = "ai.usage.cachedInputTokens"
	KeyAIEmbeddingTokens   = "ai.usage.tokens" // embed and embedMany
	KeyAIMsToFirstChunk    = "ai.response.msToFirstChunk"
	KeyAIMsToFinish        = "ai.response.msToFinish"

	// OpenTelemetry database spans (db.system before semconv 1.26,
	// db.system.name after; db.operation likewise), which vector-store
	// instrumentations write too (OpenLLMetry: db.system "Qdrant",
	// "pinecone", "chromadb").
	KeyDBSystem        = "db.system"
	KeyDBSystemName    = "db.system.name"
	KeyDBOperation     = "db.operation"
	KeyDBOperationName = "db.operation.name"

	// Traceloop's OpenLLMetry decorators (workflow, task, agent, tool).
	KeyTraceloopKind = "traceloop.span.kind"

	// Langfuse's tracing SDKs (observations are OTel spans).
	KeyLangfuseType            = "langfuse.observation.type"
	KeyLangfuseModel           = "langfuse.observation.model.name"
	KeyLangfuseUsage           = "langfuse.observation.usage_details" // JSON object of counts
	KeyLangfuseCompletionStart = "langfuse.observation.completion_start_time"
	KeyLangfuseLevel           = "langfuse.observation.level"
	KeyLangfuseStatusMessage   = "langfuse.observation.status_message"
)
