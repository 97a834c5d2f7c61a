package query

import (
	"context"

	"github.com/stagescope/stagescope/engine/faultinject"
	"github.com/stagescope/stagescope/engine/llm"
	"github.com/stagescope/stagescope/engine/retry"
)

// retryingLLM wraps every Complete in retry.Do, so a model call is one
// logical retry span with an attempt span per try, and the model's own span
// under the attempt. A fault planted for StageLLM fires inside the model's
// span, so it is retried like a real failure.
type retryingLLM struct {
	inner llm.LLM
	opts  []retry.Option
}

var _ llm.LLM = (*retryingLLM)(nil)

func (r *retryingLLM) Model() string { return r.inner.Model() }

func (r *retryingLLM) Complete(ctx context.Context, req llm.Request) (*llm.Response, error) {
	return retry.Do(ctx, LLMRetryOp, func(ctx context.Context, _ int) (*llm.Response, error) {
		return r.inner.Complete(ctx, req)
	}, r.opts...)
}

// Stream is not retried: once a stream has started, its consumer has seen
// part of the answer.
func (r *retryingLLM) Stream(ctx context.Context, req llm.Request) (*llm.Stream, error) {
	return r.inner.Stream(ctx, req)
}

// FaultSpanName is the name of the span a planted fault runs in.
const FaultSpanName = faultinject.SpanName
