// Package llm is stagescope's model interface and its two implementations:
// an OpenAI-compatible chat-completions client (OpenAI, Ollama, vLLM,
// llama.cpp's server …), streaming over server-sent events or not, and an
// extractive local LLM that answers from the context it is given without any
// network or model weights — clearly named as such, for demos, tests and
// load runs.
//
// Every call is a span named "llm.chat" in stage llm carrying the model, the
// provider, prompt and completion tokens and where they came from
// ("provider" usage or a "tiktoken" count), time to first token and finish
// reason, under stagescope's keys and OpenTelemetry's GenAI keys. The span of
// a stream ends when the stream is drained or closed, not when Stream
// returns. LLMStart, LLMStreamDelta and LLMEnd events accompany it.
//
// The package must not build prompts for pipeline stages (engine/synth and
// engine/rerank do) and must not read API keys from the environment: callers
// pass them with WithAPIKey.
package llm
