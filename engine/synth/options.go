package synth

import (
	"fmt"

	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/engine/tokens"
)

// Mode is a response mode.
type Mode string

// The response modes.
const (
	Compact       Mode = "compact"
	Refine        Mode = "refine"
	TreeSummarize Mode = "tree_summarize"
)

// ParseMode returns the mode named s.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case Compact, Refine, TreeSummarize:
		return m, nil
	}
	return "", fmt.Errorf("unknown response mode %q (want compact, refine or tree_summarize)", s)
}

// Defaults.
const (
	DefaultMode          = Compact
	DefaultContextWindow = 4096
	// DefaultNumOutput is the number of tokens reserved for each answer
	// and asked for as the request's MaxTokens.
	DefaultNumOutput = 256
	DefaultWorkers   = 4
	// DefaultDispatcher is the name of the dispatcher synthesis spans go to.
	DefaultDispatcher = "engine.synth"
	// EmptyResponse is the answer when there are no chunks.
	EmptyResponse = "Empty Response"
)

// Option configures a Synthesizer.
type Option func(*Synthesizer)

// WithMode sets the response mode (default DefaultMode).
func WithMode(m Mode) Option { return func(s *Synthesizer) { s.mode = m } }

// WithContextWindow sets the model's context window in tokens (default
// DefaultContextWindow).
func WithContextWindow(tokens int) Option { return func(s *Synthesizer) { s.window = tokens } }

// WithNumOutput sets the tokens reserved for each answer (default
// DefaultNumOutput).
func WithNumOutput(tokens int) Option { return func(s *Synthesizer) { s.numOutput = tokens } }

// WithCounter sets the token counter used to size prompts (default: the
// model's tiktoken encoding, cl100k_base for unknown models).
func WithCounter(c tokens.Counter) Option { return func(s *Synthesizer) { s.counter = c } }

// WithWorkers sets how many tree_summarize summaries run at once (default
// DefaultWorkers).
func WithWorkers(n int) Option { return func(s *Synthesizer) { s.workers = n } }

// WithBudget makes every model call spend its prompt and completion tokens
// from b; the synthesis stops with an error wrapping
// tokens.ErrBudgetExceeded when b runs out.
func WithBudget(b *tokens.Budget) Option { return func(s *Synthesizer) { s.budget = b } }

// WithDispatcher sets the dispatcher of the synthesis spans and events
// (default dispatcher.Get(DefaultDispatcher)).
func WithDispatcher(d *dispatcher.Dispatcher) Option { return func(s *Synthesizer) { s.d = d } }
