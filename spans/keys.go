package spans

// Well-known attribute keys. The engine writes them, the collector maps
// foreign conventions onto them, and the analysis reads them, so they are
// defined once here.
const (
	// Stage set explicitly by a foreign pipeline (wins over every inference).
	KeyStage = "stagescope.stage"
	// Run identifies a benchmark run or a demo session; spans of one run share it.
	KeyRunID = "stagescope.run_id"
	// KeyTimeAdjusted is set by the collector on an ingested span whose
	// times it had to set (a missing start or end, an event time out of
	// range), saying what it did.
	KeyTimeAdjusted = "stagescope.time_adjusted"
	// Service is the logical service (OTel resource service.name).
	KeyService = "service.name"

	// LLM calls.
	KeyLLMModel            = "llm.model"
	KeyLLMProvider         = "llm.provider"
	KeyLLMPromptTokens     = "llm.prompt_tokens"
	KeyLLMCompletionTokens = "llm.completion_tokens"
	KeyLLMTokenSource      = "llm.token_source" // "provider" or "tiktoken"
	KeyLLMTTFTNanos        = "llm.ttft_ns"
	KeyLLMStream           = "llm.stream" // true when the answer was streamed
	KeyLLMFinishReason     = "llm.finish_reason"

	// Embedding.
	KeyEmbeddingModel  = "embedding.model"
	KeyEmbeddingTokens = "embedding.tokens"
	KeyEmbeddingChunks = "embedding.chunks"

	// Worker pools: the pool run span and each job span.
	KeyPoolName       = "pool.name"
	KeyPoolWorkers    = "pool.workers"
	KeyPoolJobs       = "pool.jobs"
	KeyPoolJob        = "pool.job"
	KeyPoolQueueNanos = "pool.queue_wait_ns"
	KeyPoolRunNanos   = "pool.run_time_ns"

	// Retry: the logical call span and one span per attempt.
	KeyRetryOp           = "retry.op"
	KeyRetryAttempt      = "retry.attempt"  // on attempt spans, 1-based
	KeyRetryAttempts     = "retry.attempts" // on the logical span
	KeyRetryBackoffNanos = "retry.backoff_ns"
	KeyRetryGaveUp       = "retry.gave_up"

	// Retrieval, rerank, synthesis, query.
	KeyRetrievalTopK = "retrieval.top_k"
	KeyRerankTopN    = "rerank.top_n"
	KeyRerankModel   = "rerank.model"
	KeySynthMode     = "synthesize.mode"
	KeyQueryText     = "query.text"

	// Storage.
	KeyStorageStore     = "storage.store"
	KeyStorageNamespace = "storage.namespace"
	KeyStorageBytes     = "storage.bytes"

	// Fault injection marks spans whose latency or error was planted.
	KeyFaultLatencyNanos = "fault.latency_ns"
	KeyFaultError        = "fault.error"
	// KeyFaultInjected marks the span a planted fault ran in (a child of
	// the planted stage's span): its time and failure were injected.
	KeyFaultInjected = "fault.injected"
)
