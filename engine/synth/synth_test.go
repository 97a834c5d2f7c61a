package synth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/engine/llm"
	"github.com/stagescope/stagescope/engine/tokens"
	"github.com/stagescope/stagescope/spans"
)

var testDispatchers atomic.Int64

// recording wraps a model and keeps the prompts it was sent.
type recording struct {
	llm.LLM
	mu      sync.Mutex
	prompts []string
}

func (r *recording) Complete(ctx context.Context, req llm.Request) (*llm.Response, error) {
	r.mu.Lock()
	r.prompts = append(r.prompts, req.Messages[0].Content)
	r.mu.Unlock()
	return r.LLM.Complete(ctx, req)
}

func setup(t *testing.T) (*dispatcher.Recorder, *recording, *dispatcher.Dispatcher) {
	t.Helper()
	name := fmt.Sprintf("test.synth.%d", testDispatchers.Add(1))
	d := dispatcher.Get(name)
	rec := dispatcher.NewRecorder(0)
	// Record at the root to see the pool's and the model's spans too.
	t.Cleanup(dispatcher.Root().AddSpanHandler(rec))
	t.Cleanup(dispatcher.Root().AddEventHandler(rec))
	return rec, &recording{LLM: llm.NewExtractive(llm.WithDispatcher(dispatcher.Get(name + ".llm")))}, d
}

// corpus: filler chunks about unrelated things and one chunk with the answer.
func corpus(n, answerAt int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("Chunk %d talks about gardening, weather patterns and the migration of birds in autumn. Tomatoes need sun and water every day.", i)
	}
	out[answerAt] = "The sort package provides primitives for sorting slices and user-defined collections in Go."
	return out
}

const q = "Which Go package provides primitives for sorting slices?"

var enc, _ = tokens.Encoding(tokens.CL100KBase)

func TestCompactPacksWithinWindow(t *testing.T) {
	_, model, d := setup(t)
	const window, out = 300, 40
	chunks := corpus(12, 7)
	s := New(model, WithMode(Compact), WithContextWindow(window), WithNumOutput(out), WithDispatcher(d))
	res, err := s.Synthesize(context.Background(), q, chunks)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Response, "sort package provides primitives for sorting slices") {
		t.Errorf("answer %q", res.Response)
	}
	if res.LLMCalls != len(model.prompts) || res.LLMCalls < 2 || res.LLMCalls >= len(chunks) {
		t.Errorf("compact made %d calls for %d chunks", res.LLMCalls, len(chunks))
	}
	for i, p := range model.prompts {
		if n := enc.Count(p); n+promptOverhead+out > window {
			t.Errorf("prompt %d has %d tokens; with the output it exceeds the %d window", i, n, window)
		}
	}
	for i := range chunks {
		seen := 0
		for _, p := range model.prompts {
			seen += strings.Count(p, fmt.Sprintf("Chunk %d talks", i))
		}
		if i != 7 && seen != 1 {
			t.Errorf("chunk %d appears in %d prompts", i, seen)
		}
	}
	if !strings.HasPrefix(model.prompts[1], "The original query is as follows: "+q) {
		t.Errorf("second prompt is not a refine prompt: %q", model.prompts[1][:60])
	}
	if res.PromptTokens <= 0 || res.CompletionTokens <= 0 {
		t.Errorf("tokens %d/%d", res.PromptTokens, res.CompletionTokens)
	}
}

func TestRefineOneCallPerChunk(t *testing.T) {
	_, model, d := setup(t)
	chunks := corpus(5, 2)
	res, err := New(model, WithMode(Refine), WithDispatcher(d)).Synthesize(context.Background(), q, chunks)
	if err != nil {
		t.Fatal(err)
	}
	if res.LLMCalls != 5 {
		t.Errorf("refine made %d calls for 5 chunks", res.LLMCalls)
	}
	if !strings.Contains(res.Response, "sort package") {
		t.Errorf("answer %q", res.Response)
	}
	// From the third call on, the existing answer carries the sort sentence.
	if !strings.Contains(model.prompts[3], "existing answer:\n---------------------\nThe sort package") {
		t.Errorf("refine prompt does not carry the existing answer: %q", model.prompts[3])
	}
}

func TestRefineSplitsOversizedChunk(t *testing.T) {
	_, model, d := setup(t)
	big := strings.Repeat("Gardening needs patience and water. ", 60) + "The sort package sorts slices."
	res, err := New(model, WithMode(Refine), WithContextWindow(250), WithNumOutput(30), WithDispatcher(d)).Synthesize(context.Background(), q, []string{big})
	if err != nil {
		t.Fatal(err)
	}
	if res.LLMCalls < 3 {
		t.Errorf("a %d-token chunk in a 250-token window took %d calls", enc.Count(big), res.LLMCalls)
	}
	for _, p := range model.prompts {
		if enc.Count(p)+promptOverhead+30 > 250 {
			t.Errorf("prompt of %d tokens overflows the window", enc.Count(p))
		}
	}
	if !strings.Contains(res.Response, "sort package sorts slices") {
		t.Errorf("answer %q", res.Response)
	}
}

func TestTreeSummarizeRunsLevelsThroughPool(t *testing.T) {
	rec, model, d := setup(t)
	chunks := corpus(16, 11)
	res, err := New(model, WithMode(TreeSummarize), WithContextWindow(400), WithNumOutput(60), WithWorkers(3), WithDispatcher(d)).Synthesize(context.Background(), q, chunks)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Response, "sort package provides primitives") {
		t.Errorf("answer %q", res.Response)
	}
	var synth *spans.Span
	byID := map[spans.SpanID]*spans.Span{}
	var llmSpans, poolSpans []*spans.Span
	for _, s := range rec.Spans() {
		byID[s.SpanID] = s
		switch {
		case s.Name == "synthesize" && s.Scope == d.Name():
			synth = s
		case s.Name == llm.SpanName && s.Scope == d.Name()+".llm":
			llmSpans = append(llmSpans, s)
		case s.Stage == spans.StagePool && strings.HasPrefix(s.Name, "tree_summarize.level"):
			poolSpans = append(poolSpans, s)
		}
	}
	if synth == nil {
		t.Fatal("no synthesize span")
	}
	if v, _ := synth.Attr(spans.KeySynthMode); v.AsString() != "tree_summarize" {
		t.Error("synthesize.mode missing")
	}
	if len(llmSpans) != res.LLMCalls || res.LLMCalls < 3 {
		t.Fatalf("llm spans %d, calls %d", len(llmSpans), res.LLMCalls)
	}
	if len(poolSpans) == 0 {
		t.Fatal("no pool spans")
	}
	underJob, direct := 0, 0
	for _, l := range llmSpans {
		p := byID[l.ParentID]
		switch {
		case p == nil:
			t.Errorf("llm span's parent not recorded")
		case p.Name == "tree_summarize.level1.job" || p.Name == "tree_summarize.level2.job":
			if pp := byID[p.ParentID]; pp == nil || byID[pp.ParentID] != synth {
				t.Error("job span is not under a pool span under synthesize")
			}
			underJob++
		case p == synth:
			direct++
		}
	}
	if direct != 1 || underJob != res.LLMCalls-1 {
		t.Errorf("llm spans under jobs %d, directly under synthesize %d (want %d and 1)", underJob, direct, res.LLMCalls-1)
	}
	var start, end int
	for _, e := range rec.Events() {
		switch x := e.(type) {
		case *event.SynthesizeStart:
			if x.Mode == "tree_summarize" && x.Chunks == 16 {
				start++
			}
		case *event.SynthesizeEnd:
			if x.LLMCalls == res.LLMCalls {
				end++
			}
		}
	}
	if start != 1 || end != 1 {
		t.Errorf("synthesize events start=%d end=%d", start, end)
	}
}

func TestBudgetStopsSynthesis(t *testing.T) {
	_, model, d := setup(t)
	b := tokens.NewBudget(250)
	_, err := New(model, WithMode(Refine), WithBudget(b), WithDispatcher(d)).Synthesize(context.Background(), q, corpus(6, 3))
	if !errors.Is(err, tokens.ErrBudgetExceeded) {
		t.Fatalf("err = %v", err)
	}
	if len(model.prompts) >= 6 {
		t.Errorf("synthesis went on after the budget ran out: %d calls", len(model.prompts))
	}
	if b.Used() > 250 {
		t.Errorf("budget overspent: %d", b.Used())
	}
}

func TestEdgeCases(t *testing.T) {
	rec, model, d := setup(t)
	res, err := New(model, WithDispatcher(d)).Synthesize(context.Background(), q, []string{"", "  "})
	if err != nil || res.Response != EmptyResponse || res.LLMCalls != 0 {
		t.Errorf("no chunks → %+v, %v", res, err)
	}
	_, err = New(model, WithContextWindow(60), WithDispatcher(d)).Synthesize(context.Background(), q, corpus(2, 0))
	if err == nil || !strings.Contains(err.Error(), "too small") {
		t.Errorf("tiny window err = %v", err)
	}
	_, err = New(model, WithMode("bogus"), WithDispatcher(d)).Synthesize(context.Background(), q, corpus(2, 0))
	if err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Errorf("bad mode err = %v", err)
	}
	failed := 0
	for _, s := range rec.Spans() {
		if s.Name == "synthesize" && s.Scope == d.Name() && s.Status == spans.StatusError {
			failed++
		}
	}
	if failed != 2 {
		t.Errorf("%d synthesize spans ended with an error, want 2", failed)
	}
	if m, err := ParseMode("tree_summarize"); err != nil || m != TreeSummarize {
		t.Error("ParseMode")
	}
}

func TestSplitAndPack(t *testing.T) {
	text := strings.Repeat("alpha beta gamma delta ", 50)
	parts := split(enc, text, 20)
	if strings.Join(parts, " ") != strings.TrimSpace(strings.Join(strings.Fields(text), " ")) {
		t.Error("split lost words")
	}
	for _, p := range parts {
		if n := enc.Count(p); n > 20 {
			t.Errorf("piece of %d tokens > 20", n)
		}
	}
	long := strings.Repeat("é", 200)
	for _, p := range split(enc, long, 10) {
		if !strings.HasPrefix(long, p) && !strings.Contains(long, p) || enc.Count(p) > 10 {
			t.Errorf("word split piece %q (%d tokens)", p, enc.Count(p))
		}
	}
	packs := pack(enc, []string{"one two", "three four", "five six"}, 1000)
	if len(packs) != 1 || packs[0] != "one two\n\nthree four\n\nfive six" {
		t.Errorf("packs = %q", packs)
	}
}
