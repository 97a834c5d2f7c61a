package retry

import (
	"time"

	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/spans"
)

// Defaults.
const (
	DefaultMaxTries   = 3
	DefaultMinBackoff = 100 * time.Millisecond
	DefaultMaxBackoff = 10 * time.Second
	// DefaultDispatcher is the name of the dispatcher retry spans go to.
	DefaultDispatcher = "engine.retry"
)

// Option configures Do.
type Option func(*config)

type config struct {
	maxTries   int
	minBackoff time.Duration
	maxBackoff time.Duration
	retryIf    func(error) bool
	seed       *uint64
	d          *dispatcher.Dispatcher
	stage      spans.Stage
}

func newConfig(opts []Option) config {
	c := config{maxTries: DefaultMaxTries, minBackoff: DefaultMinBackoff, maxBackoff: DefaultMaxBackoff, stage: spans.StageRetry}
	for _, o := range opts {
		o(&c)
	}
	if c.maxTries < 1 {
		c.maxTries = 1
	}
	if c.minBackoff < 0 {
		c.minBackoff = 0
	}
	if c.maxBackoff < c.minBackoff {
		c.minBackoff = c.maxBackoff
	}
	if c.d == nil {
		c.d = dispatcher.Get(DefaultDispatcher)
	}
	return c
}

// WithMaxTries sets how many attempts are made in all (at least 1; default
// DefaultMaxTries).
func WithMaxTries(n int) Option { return func(c *config) { c.maxTries = n } }

// WithMinBackoff sets the base of the exponential backoff: the upper bound of
// the first sleep (default DefaultMinBackoff).
func WithMinBackoff(d time.Duration) Option { return func(c *config) { c.minBackoff = d } }

// WithMaxBackoff caps every sleep, including one asked for by a RetryAfter
// error (default DefaultMaxBackoff). A maximum below the minimum lowers the
// minimum to it.
func WithMaxBackoff(d time.Duration) Option { return func(c *config) { c.maxBackoff = d } }

// WithRetryIf sets the predicate that decides whether an error deserves
// another attempt. Context errors and errors marked with Permanent are never
// retried, whatever the predicate says. The default retries everything else.
func WithRetryIf(f func(error) bool) Option { return func(c *config) { c.retryIf = f } }

// WithSeed makes the jitter of one Do call deterministic (for tests).
func WithSeed(seed uint64) Option { return func(c *config) { c.seed = &seed } }

// WithDispatcher sets the dispatcher of the retry spans and events (default
// dispatcher.Get(DefaultDispatcher)).
func WithDispatcher(d *dispatcher.Dispatcher) Option { return func(c *config) { c.d = d } }

// WithStage sets the stage of the attempt spans (default spans.StageRetry).
// A client whose attempts are the real work — an LLM request, say — passes
// its own stage so that the attempt's time is attributed to it; the logical
// span stays in stage retry and its self-time is the backoff.
func WithStage(s spans.Stage) Option { return func(c *config) { c.stage = s } }
