package llm

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/engine/tokens"
	"github.com/stagescope/stagescope/spans"
)

const goContext = `Package bufio implements buffered I/O. It wraps an io.Reader or io.Writer object.
Package sort provides primitives for sorting slices and user-defined collections.
The Scanner type provides a convenient interface for reading data such as a file of newline-delimited lines of text.
Package strings implements simple functions to manipulate UTF-8 encoded strings.`

func qaPrompt(ctx, q string) Request {
	return Prompt("Context information is below.\n---------------------\n" + ctx + "\n---------------------\nGiven the context information and not prior knowledge, answer the query.\nQuery: " + q + "\nAnswer: ")
}

func TestExtractiveAnswersFromContext(t *testing.T) {
	d, rec := recorded(t)
	m := NewExtractive(WithDispatcher(d), WithMaxSentences(1))
	if m.Model() != ExtractiveModel {
		t.Errorf("model = %q", m.Model())
	}
	cases := map[string]string{
		"Which package sorts slices?":                    "Package sort provides primitives for sorting slices and user-defined collections.",
		"How do I read newline-delimited lines of text?": "The Scanner type provides a convenient interface for reading data such as a file of newline-delimited lines of text.",
		"What does buffered I/O wrap?":                   "Package bufio implements buffered I/O.",
	}
	for q, want := range cases {
		resp, err := m.Complete(context.Background(), qaPrompt(goContext, q))
		if err != nil {
			t.Fatal(err)
		}
		if resp.Content != want {
			t.Errorf("%q → %q, want %q", q, resp.Content, want)
		}
		enc, _ := tokens.Encoding(tokens.CL100KBase)
		if resp.CompletionTokens != enc.Count(want) || resp.TokenSource != TokenSourceTiktoken || resp.PromptTokens < 60 {
			t.Errorf("tokens = %d/%d (%s)", resp.PromptTokens, resp.CompletionTokens, resp.TokenSource)
		}
	}
	resp, _ := m.Complete(context.Background(), qaPrompt(goContext, "Who painted the Mona Lisa?"))
	if resp.Content != NoAnswer {
		t.Errorf("unanswerable → %q", resp.Content)
	}
	s := spansNamed(rec, SpanName)
	if len(s) != 4 || strAttr(t, s[0], spans.KeyLLMProvider) != ProviderLocal || intAttr(t, s[0], KeyGenAIUsageOutputTokens) <= 0 {
		t.Errorf("spans = %d", len(s))
	}
}

func TestExtractiveMultipleSentencesInOrder(t *testing.T) {
	d, _ := recorded(t)
	resp, err := NewExtractive(WithDispatcher(d)).Complete(context.Background(), qaPrompt(goContext, "package strings sort bufio"))
	if err != nil {
		t.Fatal(err)
	}
	// Three best sentences, in context order; the Scanner sentence has no query term.
	want := "Package bufio implements buffered I/O. Package sort provides primitives for sorting slices and user-defined collections. Package strings implements simple functions to manipulate UTF-8 encoded strings."
	if resp.Content != want {
		t.Errorf("got %q", resp.Content)
	}
}

func TestExtractiveRefinePromptUsesExistingAnswer(t *testing.T) {
	d, _ := recorded(t)
	prompt := "The original query is as follows: Which package sorts slices?\nWe have provided an existing answer:\n------------\nPackage sort provides primitives for sorting slices.\n------------\n" +
		"We have the opportunity to refine the existing answer with some more context below.\n------------\nPackage strings implements simple functions.\n------------\n" +
		"Given the new context, refine the original answer to better answer the query.\nQuery: Which package sorts slices?\nRefined Answer: "
	resp, err := NewExtractive(WithDispatcher(d), WithMaxSentences(1)).Complete(context.Background(), Prompt(prompt))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Content != "Package sort provides primitives for sorting slices." {
		t.Errorf("refined answer %q", resp.Content)
	}
}

func TestExtractiveChoiceSelect(t *testing.T) {
	d, _ := recorded(t)
	prompt := "A list of documents is shown below. Each document has a number next to it along with a summary of the document.\n\n" +
		"Document 1:\nPackage strings implements simple functions to manipulate strings.\n\n" +
		"Document 2:\nPackage sort provides primitives for sorting slices.\n\n" +
		"Document 3:\nThe weather is nice today.\n\n" +
		"Respond with the numbers of the relevant documents and their relevance score from 1-10, one per line, as\nDoc: 9, Relevance: 7\n\nQuestion: how to sort slices of strings\nAnswer:\n"
	resp, err := NewExtractive(WithDispatcher(d)).Complete(context.Background(), Prompt(prompt))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(resp.Content, "\n")
	if len(lines) != 2 || lines[0] != "Doc: 2, Relevance: 10" || !strings.HasPrefix(lines[1], "Doc: 1, Relevance: ") {
		t.Errorf("choice answer %q", resp.Content)
	}
}

func TestExtractiveMaxTokensAndStop(t *testing.T) {
	d, _ := recorded(t)
	req := qaPrompt(goContext, "package strings sort bufio")
	req.MaxTokens = 5
	resp, err := NewExtractive(WithDispatcher(d)).Complete(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.FinishReason != "length" || resp.CompletionTokens != 5 || resp.Content != "Package bufio implements buffered I" {
		t.Errorf("truncated = %+v", resp)
	}
	req.MaxTokens = 0
	req.Stop = []string{" implements"}
	resp, _ = NewExtractive(WithDispatcher(d)).Complete(context.Background(), req)
	if resp.Content != "Package bufio" || resp.FinishReason != "stop" {
		t.Errorf("stopped = %+v", resp)
	}
}

func TestExtractiveStreamMatchesComplete(t *testing.T) {
	d, rec := recorded(t)
	m := NewExtractive(WithDispatcher(d), WithTokenLatency(10*time.Microsecond), WithFirstTokenLatency(time.Millisecond))
	req := qaPrompt(goContext, "package strings sort bufio")
	full, err := m.Complete(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.Stream(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	deltas := drain(t, s)
	s.Close()
	if strings.Join(deltas, "") != full.Content || len(deltas) < 10 {
		t.Errorf("stream gave %d deltas %q", len(deltas), strings.Join(deltas, ""))
	}
	r := s.Response()
	if r.CompletionTokens != full.CompletionTokens || r.PromptTokens != full.PromptTokens || r.TimeToFirstToken < time.Millisecond {
		t.Errorf("stream response %+v vs %+v", r, full)
	}
	if n := len(eventsOf[*event.LLMStreamDelta](rec)); n != len(deltas) {
		t.Errorf("delta events %d, deltas %d", n, len(deltas))
	}
}

func TestExtractiveLatencyHonoursContext(t *testing.T) {
	d, rec := recorded(t)
	m := NewExtractive(WithDispatcher(d), WithFirstTokenLatency(time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := m.Complete(ctx, qaPrompt(goContext, "sort"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if s := spansNamed(rec, SpanName); len(s) != 1 || s[0].Status != spans.StatusDropped {
		t.Error("a cancelled call's span must be dropped")
	}
}

func TestTermsAndSentences(t *testing.T) {
	if got := strings.Join(terms("How does http.Client handle the Redirects?"), ","); got != "http,client,handle,redirect" {
		t.Errorf("terms = %s", got)
	}
	got := sentences("First one. Second one! Third?\n- item one\nv1.2 is out")
	if strings.Join(got, "|") != "First one.|Second one!|Third?|- item one|v1.2 is out" {
		t.Errorf("sentences = %q", got)
	}
}
