package event

import (
	"time"

	"github.com/stagescope/stagescope/spans"
)

// LLMStart: a model call began.
type LLMStart struct {
	Header
	Model    string `json:"model"`
	Provider string `json:"provider"`
	Messages int    `json:"messages"`
	Stream   bool   `json:"stream"`
}

func (*LLMStart) Name() string       { return "llm.start" }
func (*LLMStart) Stage() spans.Stage { return spans.StageLLM }
func (e *LLMStart) Attrs() []spans.Attribute {
	return []spans.Attribute{spans.String("llm.model", e.Model), spans.String("llm.provider", e.Provider), spans.Int("llm.messages", e.Messages), spans.Bool("llm.stream", e.Stream)}
}

// LLMStreamDelta: one chunk of a streamed completion arrived.
type LLMStreamDelta struct {
	Header
	Model string `json:"model"`
	Index int    `json:"index"`
	Delta string `json:"delta"`
}

func (*LLMStreamDelta) Name() string       { return "llm.stream_delta" }
func (*LLMStreamDelta) Stage() spans.Stage { return spans.StageLLM }
func (e *LLMStreamDelta) Attrs() []spans.Attribute {
	return []spans.Attribute{spans.String("llm.model", e.Model), spans.Int("llm.delta_index", e.Index), spans.String("llm.delta", e.Delta)}
}

// LLMEnd: the call finished. TokenSource says where the token counts come
// from: "provider" (the usage the API returned) or "tiktoken" (counted here).
type LLMEnd struct {
	Header
	Model            string        `json:"model"`
	Provider         string        `json:"provider"`
	PromptTokens     int           `json:"prompt_tokens"`
	CompletionTokens int           `json:"completion_tokens"`
	TokenSource      string        `json:"token_source"`
	TimeToFirstToken time.Duration `json:"ttft"`
	FinishReason     string        `json:"finish_reason"`
}

func (*LLMEnd) Name() string       { return "llm.end" }
func (*LLMEnd) Stage() spans.Stage { return spans.StageLLM }
func (e *LLMEnd) Attrs() []spans.Attribute {
	return []spans.Attribute{spans.String("llm.model", e.Model), spans.String("llm.provider", e.Provider), spans.Int("llm.prompt_tokens", e.PromptTokens), spans.Int("llm.completion_tokens", e.CompletionTokens),
		spans.String("llm.token_source", e.TokenSource), spans.Int64("llm.ttft_ns", int64(e.TimeToFirstToken)), spans.String("llm.finish_reason", e.FinishReason)}
}
