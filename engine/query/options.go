package query

import (
	"github.com/stagescope/stagescope/engine/faultinject"
	"github.com/stagescope/stagescope/engine/retry"
	"github.com/stagescope/stagescope/engine/synth"
	"github.com/stagescope/stagescope/spans"
)

// Defaults of an Engine.
const (
	DefaultTopK    = 10
	DefaultTopN    = 3
	DefaultWorkers = 4
	DefaultMode    = synth.Compact
	// LLMRetryOp is the retry operation name of a model call.
	LLMRetryOp = "llm.complete"
)

// Option configures an Engine.
type Option func(*Engine)

// WithTopK sets how many candidates are retrieved (DefaultTopK).
func WithTopK(k int) Option { return func(e *Engine) { e.topK = k } }

// WithTopN sets how many passages the reranker keeps for synthesis
// (DefaultTopN). Without a reranker the first topN retrieved are kept.
func WithTopN(n int) Option { return func(e *Engine) { e.topN = n } }

// WithResponseMode sets the synthesis mode (DefaultMode).
func WithResponseMode(m synth.Mode) Option { return func(e *Engine) { e.mode = m } }

// WithWorkers sets how many queries QueryBatch runs at once
// (DefaultWorkers).
func WithWorkers(n int) Option { return func(e *Engine) { e.workers = n } }

// WithFaults plants faults per stage, for the stages in faultinject.Stages.
// Each query carries them (faultinject.WithPlan) and every stage applies its
// own in a "fault" span that is a child of the stage's span (for StageLLM,
// inside each retry attempt, so injected errors are retried), so the planted
// latency is counted in that stage's time and marked as injected. The pool
// of QueryBatch is outside the queries and is not planted; the pools inside
// a query (hybrid retrieval, tree_summarize synthesis) are.
func WithFaults(faults map[spans.Stage]*faultinject.Injector) Option {
	return func(e *Engine) {
		for s, inj := range faults {
			e.faults[s] = inj
		}
	}
}

// WithRetryOptions configures the retry of every model call (max tries,
// backoff).
func WithRetryOptions(opts ...retry.Option) Option {
	return func(e *Engine) { e.retryOpts = append(e.retryOpts, opts...) }
}

// WithSynthOptions passes options to the synthesizer (context window,
// budget, …); the mode is set with WithResponseMode.
func WithSynthOptions(opts ...synth.Option) Option {
	return func(e *Engine) { e.synthOpts = append(e.synthOpts, opts...) }
}
