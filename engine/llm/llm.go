package llm

import (
	"context"
	"time"
)

// Chat roles.
const (
	RoleSystem    = "system"
	RoleUser      = "user"
	RoleAssistant = "assistant"
)

// Token sources, as Response.TokenSource and the llm.token_source attribute
// report them.
const (
	TokenSourceProvider = "provider" // usage returned by the API
	TokenSourceTiktoken = "tiktoken" // counted locally
)

// OpenTelemetry GenAI semantic-convention keys set on every LLM span next to
// stagescope's own llm.* keys.
const (
	KeyGenAIOperationName     = "gen_ai.operation.name"
	KeyGenAIProviderName      = "gen_ai.provider.name"
	KeyGenAIRequestModel      = "gen_ai.request.model"
	KeyGenAIRequestMaxTokens  = "gen_ai.request.max_tokens"
	KeyGenAIUsageInputTokens  = "gen_ai.usage.input_tokens"
	KeyGenAIUsageOutputTokens = "gen_ai.usage.output_tokens"
	KeyGenAIFinishReasons     = "gen_ai.response.finish_reasons"
)

// Message is one chat message.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Request is a chat completion request. MaxTokens 0 leaves the limit to the
// model.
type Request struct {
	Messages    []Message
	MaxTokens   int
	Temperature float64
	Stop        []string
}

// Prompt is a shorthand for a request with a single user message.
func Prompt(text string) Request {
	return Request{Messages: []Message{{Role: RoleUser, Content: text}}}
}

// Response is a completed answer. TimeToFirstToken is the delay until the
// first content arrived (for a non-streamed call, until the whole answer
// arrived).
type Response struct {
	Content          string
	PromptTokens     int
	CompletionTokens int
	TokenSource      string // TokenSourceProvider or TokenSourceTiktoken
	FinishReason     string
	TimeToFirstToken time.Duration
}

// LLM is a chat model.
type LLM interface {
	// Model returns the model's name.
	Model() string
	// Complete returns the whole answer.
	Complete(ctx context.Context, req Request) (*Response, error)
	// Stream returns the answer piece by piece. Read it with Next until
	// io.EOF and Close it in any case.
	Stream(ctx context.Context, req Request) (*Stream, error)
}
