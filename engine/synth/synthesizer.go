package synth

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/engine/faultinject"
	"github.com/stagescope/stagescope/engine/llm"
	"github.com/stagescope/stagescope/engine/pool"
	"github.com/stagescope/stagescope/engine/tokens"
	"github.com/stagescope/stagescope/spans"
)

// promptOverhead covers the chat framing around a prompt (role, message
// delimiters, reply priming) that the template count does not see.
const promptOverhead = 16

// boundaryMargin absorbs the tokens that merge or split where a text is
// pasted into a template, which counting the parts apart does not see.
const boundaryMargin = 8

// Result is a synthesized answer and what it cost.
type Result struct {
	Response         string
	LLMCalls         int
	PromptTokens     int
	CompletionTokens int
}

// Synthesizer builds answers from chunks with one model. It is safe for
// concurrent use.
type Synthesizer struct {
	model     llm.LLM
	mode      Mode
	window    int
	numOutput int
	counter   tokens.Counter
	workers   int
	budget    *tokens.Budget
	d         *dispatcher.Dispatcher
}

// New returns a Synthesizer answering with model.
func New(model llm.LLM, opts ...Option) *Synthesizer {
	s := &Synthesizer{model: model, mode: DefaultMode, window: DefaultContextWindow, numOutput: DefaultNumOutput, workers: DefaultWorkers}
	for _, o := range opts {
		o(s)
	}
	if s.counter == nil {
		s.counter = tokens.ForModelOrDefault(model.Model())
	}
	if s.d == nil {
		s.d = dispatcher.Get(DefaultDispatcher)
	}
	if s.workers < 1 {
		s.workers = 1
	}
	return s
}

// Mode returns the response mode.
func (s *Synthesizer) Mode() Mode { return s.mode }

// Synthesize answers query from chunks.
func (s *Synthesizer) Synthesize(ctx context.Context, query string, chunks []string) (_ *Result, err error) {
	ctx, span := s.d.Start(ctx, "synthesize", spans.StageSynth,
		spans.String(spans.KeySynthMode, string(s.mode)), spans.Int("synthesize.chunks", len(chunks)))
	defer span.Done(&err)
	if ctx, err = faultinject.Inject(ctx, spans.StageSynth); err != nil {
		return nil, err
	}
	if s.d.EventsEnabled() {
		s.d.Emit(ctx, &event.SynthesizeStart{Query: query, Mode: string(s.mode), Chunks: len(chunks)})
	}
	run := &call{s: s}
	var answer string
	nonEmpty := make([]string, 0, len(chunks))
	for _, c := range chunks {
		if strings.TrimSpace(c) != "" {
			nonEmpty = append(nonEmpty, c)
		}
	}
	switch {
	case len(nonEmpty) == 0:
		answer = EmptyResponse
	case s.mode == Compact:
		answer, err = run.compact(ctx, query, nonEmpty)
	case s.mode == Refine:
		answer, err = run.refine(ctx, query, nonEmpty)
	case s.mode == TreeSummarize:
		answer, err = run.treeSummarize(ctx, query, nonEmpty)
	default:
		_, err = ParseMode(string(s.mode))
	}
	res := run.result(answer)
	span.SetAttributes(spans.Int("synthesize.llm_calls", res.LLMCalls), spans.Int(spans.KeyLLMPromptTokens, res.PromptTokens), spans.Int(spans.KeyLLMCompletionTokens, res.CompletionTokens))
	if err != nil {
		return nil, err
	}
	if s.d.EventsEnabled() {
		s.d.Emit(ctx, &event.SynthesizeEnd{Query: query, Mode: string(s.mode), Chunks: len(chunks), LLMCalls: res.LLMCalls, Response: answer})
	}
	return res, nil
}

// call accumulates the cost of one Synthesize call; tree_summarize updates
// it from several goroutines.
type call struct {
	s                  *Synthesizer
	mu                 sync.Mutex
	calls, prompt, out int
}

func (c *call) result(answer string) *Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	return &Result{Response: answer, LLMCalls: c.calls, PromptTokens: c.prompt, CompletionTokens: c.out}
}

func (c *call) ask(ctx context.Context, prompt string) (string, error) {
	resp, err := c.s.model.Complete(ctx, llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: prompt}}, MaxTokens: c.s.numOutput})
	if err != nil {
		return "", fmt.Errorf("synthesize (%s): model call failed: %w", c.s.mode, err)
	}
	c.mu.Lock()
	c.calls++
	c.prompt += resp.PromptTokens
	c.out += resp.CompletionTokens
	c.mu.Unlock()
	if err := c.s.budget.Spend(resp.PromptTokens + resp.CompletionTokens); err != nil {
		return "", fmt.Errorf("synthesize (%s): %w", c.s.mode, err)
	}
	return strings.TrimSpace(resp.Content), nil
}

// room is how many context tokens fit in template filled with query and
// existing.
func (c *call) room(template, query, existing string) (int, error) {
	used := c.s.counter.Count(fill(template, query, existing, "")) + promptOverhead + boundaryMargin + c.s.numOutput
	room := c.s.window - used
	if room < 1 || (template == summaryTemplate && room < 2*c.s.numOutput) {
		return 0, fmt.Errorf("synthesize (%s): context window of %d tokens is too small: the prompt takes %d and the answer %d",
			c.s.mode, c.s.window, used-c.s.numOutput, c.s.numOutput)
	}
	return room, nil
}

func (c *call) compact(ctx context.Context, query string, chunks []string) (string, error) {
	room, err := c.room(textQATemplate, query, "")
	if err != nil {
		return "", err
	}
	packs := pack(c.s.counter, chunks, room)
	answer, err := c.ask(ctx, fill(textQATemplate, query, "", packs[0]))
	if err != nil {
		return "", err
	}
	return c.refineWith(ctx, query, answer, packs[1:], true)
}

func (c *call) refine(ctx context.Context, query string, chunks []string) (string, error) {
	room, err := c.room(textQATemplate, query, "")
	if err != nil {
		return "", err
	}
	first := split(c.s.counter, chunks[0], room)
	answer, err := c.ask(ctx, fill(textQATemplate, query, "", first[0]))
	if err != nil {
		return "", err
	}
	rest := append(first[1:], chunks[1:]...)
	return c.refineWith(ctx, query, answer, rest, false)
}

// refineWith refines answer with each text in turn; with repack, texts that
// fit together in the room left by the answer share one call.
func (c *call) refineWith(ctx context.Context, query, answer string, texts []string, repack bool) (string, error) {
	for len(texts) > 0 {
		room, err := c.room(refineTemplate, query, answer)
		if err != nil {
			return "", err
		}
		var piece string
		if repack {
			packs := pack(c.s.counter, texts[:1], room)
			piece, texts = packs[0], append(packs[1:], texts[1:]...)
			for len(texts) > 0 && c.s.counter.Count(piece+chunkSeparator+texts[0]) <= room {
				piece, texts = piece+chunkSeparator+texts[0], texts[1:]
			}
		} else {
			parts := split(c.s.counter, texts[0], room)
			piece, texts = parts[0], append(parts[1:], texts[1:]...)
		}
		if answer, err = c.ask(ctx, fill(refineTemplate, query, answer, piece)); err != nil {
			return "", err
		}
	}
	return answer, nil
}

func (c *call) treeSummarize(ctx context.Context, query string, chunks []string) (string, error) {
	room, err := c.room(summaryTemplate, query, "")
	if err != nil {
		return "", err
	}
	texts := chunks
	for level := 1; ; level++ {
		packs := pack(c.s.counter, texts, room)
		if len(packs) == 1 {
			return c.ask(ctx, fill(summaryTemplate, query, "", packs[0]))
		}
		if level > 1 && len(packs) >= len(texts) {
			return "", fmt.Errorf("synthesize (tree_summarize): level %d made no progress (%d summaries do not fit fewer prompts)", level, len(texts))
		}
		jobs := make([]pool.Job[string], len(packs))
		for i, p := range packs {
			prompt := fill(summaryTemplate, query, "", p)
			jobs[i] = func(ctx context.Context) (string, error) { return c.ask(ctx, prompt) }
		}
		texts, err = pool.RunJobs(ctx, jobs, pool.WithWorkers(c.s.workers), pool.WithName(fmt.Sprintf("tree_summarize.level%d", level)))
		if err != nil {
			return "", err
		}
	}
}
