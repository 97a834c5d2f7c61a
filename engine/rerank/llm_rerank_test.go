package rerank

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/engine/llm"
	"github.com/stagescope/stagescope/spans"
)

// scriptedLLM answers each prompt with answer(prompt) and counts calls.
type scriptedLLM struct {
	name   string
	answer func(prompt string) (string, error)
	mu     sync.Mutex
	calls  int
}

func (s *scriptedLLM) Model() string { return s.name }
func (s *scriptedLLM) Complete(_ context.Context, req llm.Request) (*llm.Response, error) {
	s.mu.Lock()
	s.calls++
	s.mu.Unlock()
	a, err := s.answer(req.Messages[0].Content)
	if err != nil {
		return nil, err
	}
	return &llm.Response{Content: a, PromptTokens: 10, CompletionTokens: 2}, nil
}
func (s *scriptedLLM) Stream(context.Context, llm.Request) (*llm.Stream, error) {
	return nil, errors.New("not used")
}

func passagesOf(texts ...string) []Passage {
	out := make([]Passage, len(texts))
	for i, t := range texts {
		out[i] = Passage{ID: fmt.Sprint("p", i), Text: t, Score: float64(100 - i)}
	}
	return out
}

func ids(ps []Passage) string {
	var s []string
	for _, p := range ps {
		s = append(s, fmt.Sprintf("%s:%g", p.ID, p.Score))
	}
	return strings.Join(s, " ")
}

func TestParseChoicesIsLenient(t *testing.T) {
	answer := `Sure! Here are the relevant documents:
Doc: 3, Relevance: 8
Document 1 - relevance score: 9.5
doc #2; Relevance=4
Doc: 7, Relevance: 10
Doc: 3, Relevance: 2
Doc: 0, Relevance: 5
Doc: x, Relevance: 5
I hope this helps.`
	got := parseChoices(answer, 4)
	want := []choice{{2, 8}, {0, 9.5}, {1, 4}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("parseChoices = %v, want %v", got, want)
	}
	if len(parseChoices("I cannot decide.", 4)) != 0 {
		t.Error("junk must parse to nothing")
	}
}

func TestLLMRerankOrdersByModelScoresAcrossBatches(t *testing.T) {
	// The model scores each passage by the number written in it.
	model := &scriptedLLM{name: "scripted", answer: func(prompt string) (string, error) {
		var b strings.Builder
		for n := 1; n <= 10; n++ {
			i := strings.Index(prompt, fmt.Sprintf("Document %d:\nscore ", n))
			if i < 0 {
				continue
			}
			var s int
			fmt.Sscan(prompt[i+len(fmt.Sprintf("Document %d:\nscore ", n)):], &s)
			if s > 0 {
				fmt.Fprintf(&b, "Doc: %d, Relevance: %d\n", n, s)
			}
		}
		return b.String(), nil
	}}
	ps := passagesOf("score 3", "score 9", "score 0", "score 7", "score 9", "score 1", "score 5")
	r := NewLLMReranker(model, WithLLMRerankBatchSize(3), WithLLMRerankWorkers(2))
	got, err := r.Rerank(context.Background(), "q", ps, 4)
	if err != nil {
		t.Fatal(err)
	}
	// Ties keep batch order: p1 (batch 0) before p4 (batch 1).
	if ids(got) != "p1:9 p4:9 p3:7 p6:5" {
		t.Errorf("reranked %s", ids(got))
	}
	if model.calls != 3 {
		t.Errorf("calls = %d, want 3 batches", model.calls)
	}
	if ps[1].Score != 99 {
		t.Error("Rerank modified its input")
	}
	all, _ := r.Rerank(context.Background(), "q", ps, 0)
	// p2 scored 0 was left out by the model: not in the scored list, and its
	// batch had valid answers, so it is dropped.
	if len(all) != 6 {
		t.Errorf("topN 0 kept %d passages: %s", len(all), ids(all))
	}
	def, _ := NewLLMReranker(model, WithLLMRerankTopN(2)).Rerank(context.Background(), "q", ps, 0)
	if ids(def) != "p1:9 p4:9" {
		t.Errorf("default topN gave %s", ids(def))
	}
}

func TestLLMRerankFallsBackOnUnparseableOutput(t *testing.T) {
	rec := dispatcher.NewRecorder(0)
	defer dispatcher.Get(DispatcherName).AddSpanHandler(rec)()
	model := &scriptedLLM{name: "mumbler", answer: func(prompt string) (string, error) {
		if strings.Contains(prompt, "alpha") {
			return "Doc: 2, Relevance: 6", nil
		}
		return "The passages are all very interesting.", nil
	}}
	ps := passagesOf("alpha one", "alpha two", "beta three", "beta four")
	got, err := NewLLMReranker(model, WithLLMRerankBatchSize(2)).Rerank(context.Background(), "q", ps, 0)
	if err != nil {
		t.Fatal(err)
	}
	if ids(got) != "p1:6 p2:0 p3:0" {
		t.Errorf("reranked %s", ids(got))
	}
	var span *spans.Span
	for _, s := range rec.Spans() {
		if v, _ := s.Attr(spans.KeyRerankModel); v.AsString() == "mumbler" {
			span = s
		}
	}
	if span == nil || span.Stage != spans.StageRerank || span.Name != SpanName {
		t.Fatalf("rerank span = %+v", span)
	}
	if v, _ := span.Attr("rerank.llm.fallback"); !v.AsBool() {
		t.Error("fallback not recorded")
	}
	if v, _ := span.Attr("rerank.llm.fallback_batches"); v.AsInt64() != 1 {
		t.Errorf("fallback_batches = %d", v.AsInt64())
	}
}

func TestLLMRerankWithExtractiveModel(t *testing.T) {
	ps := passagesOf(
		"Package strings implements simple functions to manipulate UTF-8 encoded strings.",
		"Tomatoes need sun and water every day.",
		"Package sort provides primitives for sorting slices and user-defined collections.",
		"The weather in autumn is mild.",
	)
	got, err := NewLLMReranker(llm.NewExtractive()).Rerank(context.Background(), "How do I sort slices?", ps, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != "p2" || got[0].Score != 10 {
		t.Errorf("extractive rerank gave %s", ids(got))
	}
}

func TestLLMRerankPropagatesModelErrors(t *testing.T) {
	errDown := errors.New("model down")
	model := &scriptedLLM{name: "down", answer: func(string) (string, error) { return "", errDown }}
	_, err := NewLLMReranker(model).Rerank(context.Background(), "q", passagesOf("a", "b"), 1)
	if !errors.Is(err, errDown) || !strings.Contains(err.Error(), "passages 1-2") {
		t.Errorf("err = %v", err)
	}
	out, err := NewLLMReranker(model).Rerank(context.Background(), "q", nil, 3)
	if err != nil || len(out) != 0 {
		t.Errorf("no passages → %v, %v", out, err)
	}
}
