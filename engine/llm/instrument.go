package llm

import (
	"context"
	"time"

	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/engine/tokens"
	"github.com/stagescope/stagescope/spans"
)

// SpanName is the name of every LLM call span.
const SpanName = "llm.chat"

// instrument holds what both implementations need to trace a call.
type instrument struct {
	d        *dispatcher.Dispatcher
	model    string
	provider string
	enc      *tokens.Encoder
}

func (in *instrument) startAttrs(req Request, stream bool) []spans.Attribute {
	return []spans.Attribute{
		spans.String(spans.KeyLLMModel, in.model),
		spans.String(spans.KeyLLMProvider, in.provider),
		spans.Bool(spans.KeyLLMStream, stream),
		spans.String(KeyGenAIOperationName, "chat"),
		spans.String(KeyGenAIProviderName, in.provider),
		spans.String(KeyGenAIRequestModel, in.model),
		spans.Int(KeyGenAIRequestMaxTokens, req.MaxTokens),
	}
}

func (in *instrument) emitStart(ctx context.Context, req Request, stream bool) {
	if in.d.EventsEnabled() {
		in.d.Emit(ctx, &event.LLMStart{Model: in.model, Provider: in.provider, Messages: len(req.Messages), Stream: stream})
	}
}

// finish records resp on the span and emits LLMEnd.
func (in *instrument) finish(ctx context.Context, span *dispatcher.Span, resp *Response) {
	span.SetAttributes(
		spans.Int(spans.KeyLLMPromptTokens, resp.PromptTokens),
		spans.Int(spans.KeyLLMCompletionTokens, resp.CompletionTokens),
		spans.String(spans.KeyLLMTokenSource, resp.TokenSource),
		spans.Int64(spans.KeyLLMTTFTNanos, int64(resp.TimeToFirstToken)),
		spans.String(spans.KeyLLMFinishReason, resp.FinishReason),
		spans.Int(KeyGenAIUsageInputTokens, resp.PromptTokens),
		spans.Int(KeyGenAIUsageOutputTokens, resp.CompletionTokens),
		spans.Strings(KeyGenAIFinishReasons, []string{resp.FinishReason}),
	)
	if in.d.EventsEnabled() {
		in.d.Emit(ctx, &event.LLMEnd{Model: in.model, Provider: in.provider, PromptTokens: resp.PromptTokens, CompletionTokens: resp.CompletionTokens,
			TokenSource: resp.TokenSource, TimeToFirstToken: resp.TimeToFirstToken, FinishReason: resp.FinishReason})
	}
}

// countPrompt counts a chat prompt the way OpenAI bills it: each message
// costs its role and content plus 3 tokens of framing, and the reply is
// primed with 3 more.
func countPrompt(enc *tokens.Encoder, msgs []Message) int {
	n := 3
	for _, m := range msgs {
		n += 3 + enc.Count(m.Role) + enc.Count(m.Content)
	}
	return n
}

// fillTokens counts tokens locally unless the provider reported them.
func (in *instrument) fillTokens(resp *Response, req Request, providerPrompt, providerCompletion int) {
	if providerPrompt > 0 || providerCompletion > 0 {
		resp.PromptTokens, resp.CompletionTokens, resp.TokenSource = providerPrompt, providerCompletion, TokenSourceProvider
		return
	}
	resp.PromptTokens = countPrompt(in.enc, req.Messages)
	resp.CompletionTokens = in.enc.Count(resp.Content)
	resp.TokenSource = TokenSourceTiktoken
}

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
