package llm

import (
	"net/http"
	"time"

	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/engine/retry"
	"github.com/stagescope/stagescope/engine/tokens"
)

// Defaults.
const (
	// DefaultDispatcher is the name of the dispatcher LLM spans go to.
	DefaultDispatcher = "engine.llm"
	// DefaultMaxSentences is how many sentences the extractive LLM answers
	// with at most.
	DefaultMaxSentences = 3
	// ExtractiveModel is the model name of the extractive local LLM.
	ExtractiveModel = "stagescope-extractive"
)

// Option configures an LLM. Options that do not apply to an implementation
// are ignored by it.
type Option func(*config)

type config struct {
	apiKey            string
	httpClient        *http.Client
	retryOpts         []retry.Option
	d                 *dispatcher.Dispatcher
	encoder           *tokens.Encoder
	tokenLatency      time.Duration
	firstTokenLatency time.Duration
	maxSentences      int
}

func newConfig(opts []Option) config {
	c := config{maxSentences: DefaultMaxSentences}
	for _, o := range opts {
		o(&c)
	}
	if c.d == nil {
		c.d = dispatcher.Get(DefaultDispatcher)
	}
	if c.httpClient == nil {
		c.httpClient = &http.Client{}
	}
	if c.maxSentences < 1 {
		c.maxSentences = 1
	}
	return c
}

// WithAPIKey sends key as a bearer token (OpenAI client).
func WithAPIKey(key string) Option { return func(c *config) { c.apiKey = key } }

// WithHTTPClient sets the HTTP client (OpenAI client). Cancellation comes
// from the call's context; set a client timeout only as a last resort, since
// it also bounds how long a stream may be read.
func WithHTTPClient(h *http.Client) Option { return func(c *config) { c.httpClient = h } }

// WithRetry sets the options of the retries around each HTTP request
// (OpenAI client): 429 and 5xx answers and network errors are retried, a
// Retry-After header is honoured, other 4xx answers and malformed JSON are
// not retried.
func WithRetry(opts ...retry.Option) Option {
	return func(c *config) { c.retryOpts = append(c.retryOpts, opts...) }
}

// WithDispatcher sets the dispatcher of the LLM spans and events (default
// dispatcher.Get(DefaultDispatcher)); retries go to the same dispatcher
// unless WithRetry says otherwise.
func WithDispatcher(d *dispatcher.Dispatcher) Option { return func(c *config) { c.d = d } }

// WithEncoder sets the tokenizer for locally counted tokens (default: the
// model's tiktoken encoding, cl100k_base for unknown models).
func WithEncoder(e *tokens.Encoder) Option { return func(c *config) { c.encoder = e } }

// WithTokenLatency makes the extractive LLM spend d per completion token,
// like a real model generating (default 0).
func WithTokenLatency(d time.Duration) Option { return func(c *config) { c.tokenLatency = d } }

// WithFirstTokenLatency makes the extractive LLM wait d before its first
// token, like a real model reading its prompt (default 0).
func WithFirstTokenLatency(d time.Duration) Option {
	return func(c *config) { c.firstTokenLatency = d }
}

// WithMaxSentences sets how many context sentences the extractive LLM
// answers with at most (default DefaultMaxSentences).
func WithMaxSentences(n int) Option { return func(c *config) { c.maxSentences = n } }
