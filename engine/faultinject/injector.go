package faultinject

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/spans"
)

// ErrInjected is wrapped by every error an Injector returns.
var ErrInjected = errors.New("injected fault")

// InjectedError is the error an Injector returns: ErrInjected, plus the
// error configured with WithError, if any (so that a caller's retry
// predicate sees the error it expects).
type InjectedError struct{ Err error }

func (e *InjectedError) Error() string {
	if e.Err == nil {
		return ErrInjected.Error()
	}
	return ErrInjected.Error() + ": " + e.Err.Error()
}

// Unwrap returns ErrInjected and the configured error.
func (e *InjectedError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrInjected}
	}
	return []error{ErrInjected, e.Err}
}

// Option configures an Injector.
type Option func(*Injector)

// WithLatency sets the latency distribution (default: none).
func WithLatency(dist Distribution) Option { return func(i *Injector) { i.latency = dist } }

// WithLatencyRate sets the probability, in [0, 1], that a call gets the
// latency (default 1: every call). A rate of 0.05 plants a tail: 5% of
// calls are slow, the median is untouched.
func WithLatencyRate(p float64) Option {
	return func(i *Injector) { i.latencyRate = min(1, max(0, p)) }
}

// WithErrorRate sets the probability, in [0, 1], that Apply fails.
func WithErrorRate(p float64) Option { return func(i *Injector) { i.rate = min(1, max(0, p)) } }

// WithSeed makes the sampled latencies and errors reproducible.
func WithSeed(seed int64) Option {
	return func(i *Injector) { i.rng = rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x5851f42d4c957f2d)) }
}

// WithError sets the error returned (wrapped in an *InjectedError) when a
// fault fires.
func WithError(err error) Option { return func(i *Injector) { i.err = err } }

// Injector plants latency and errors. It is safe for concurrent use; a nil
// *Injector does nothing.
type Injector struct {
	latency     Distribution
	latencyRate float64
	rate        float64
	err         error

	mu  sync.Mutex // guards rng
	rng *rand.Rand

	calls, delayed, failures atomic.Int64
	slept                    atomic.Int64
}

// New returns an Injector. Without options it does nothing but count calls.
func New(opts ...Option) *Injector {
	i := &Injector{latencyRate: 1}
	for _, o := range opts {
		o(i)
	}
	if i.rng == nil {
		i.rng = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	return i
}

// Apply sleeps a sampled latency, or until ctx is done (then it returns the
// context's error), and then fails with the configured probability. It sets
// fault.latency_ns and fault.error on the current span of ctx. Stage code
// calls Inject instead, which runs the fault in a span of its own.
func (i *Injector) Apply(ctx context.Context) error {
	if i == nil {
		return nil
	}
	d, fail := i.draw()
	_, err := i.apply(ctx, dispatcher.SpanFromContext(ctx), d, fail)
	return err
}

// draw counts a call and decides its fault: the latency to add (0 if the
// call is not delayed) and whether it fails.
func (i *Injector) draw() (time.Duration, bool) {
	i.calls.Add(1)
	i.mu.Lock()
	defer i.mu.Unlock()
	var d time.Duration
	// A rate of 1 draws nothing, so seeded sequences of plants without a
	// rate are the same as before rates existed.
	if i.latency != nil && (i.latencyRate >= 1 || i.rng.Float64() < i.latencyRate) {
		d = i.latency.Sample(i.rng)
	}
	return d, i.rate > 0 && i.rng.Float64() < i.rate
}

// apply sleeps d (or until ctx is done) and fails if fail, recording both
// on span. It returns how long it slept.
func (i *Injector) apply(ctx context.Context, span *dispatcher.Span, d time.Duration, fail bool) (time.Duration, error) {
	if d > 0 {
		i.delayed.Add(1)
		t := time.NewTimer(d)
		start := time.Now()
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			slept := time.Since(start)
			i.slept.Add(int64(slept))
			span.SetAttributes(spans.Int64(spans.KeyFaultLatencyNanos, int64(slept)))
			return slept, ctx.Err()
		}
		i.slept.Add(int64(d))
	}
	span.SetAttributes(spans.Int64(spans.KeyFaultLatencyNanos, int64(d)), spans.Bool(spans.KeyFaultError, fail))
	if !fail {
		return d, nil
	}
	i.failures.Add(1)
	return d, &InjectedError{Err: i.err}
}

// Stats reports what the injector has done: calls to Apply, injected
// failures, and total latency slept.
func (i *Injector) Stats() (calls, failures int64, slept time.Duration) {
	if i == nil {
		return 0, 0, 0
	}
	return i.calls.Load(), i.failures.Load(), time.Duration(i.slept.Load())
}

// Delayed reports how many calls got a planted latency.
func (i *Injector) Delayed() int64 {
	if i == nil {
		return 0
	}
	return i.delayed.Load()
}

// Wrap returns fn with the injector's faults applied before it runs: the
// latency is added to fn's, and an injected error replaces fn's call.
func Wrap[T any](inj *Injector, fn func(ctx context.Context) (T, error)) func(ctx context.Context) (T, error) {
	if inj == nil {
		return fn
	}
	return func(ctx context.Context) (T, error) {
		if err := inj.Apply(ctx); err != nil {
			var zero T
			return zero, err
		}
		return fn(ctx)
	}
}
