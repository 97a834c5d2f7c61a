package embed

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/spans"
)

func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

func TestHashEmbedderUnitVectorsAndSimilarity(t *testing.T) {
	h := NewHashEmbedder(WithHashDimensions(256))
	texts := []string{
		"ReadFile reads the named file and returns the contents.",
		"ReadDir reads the named directory and returns its entries.",
		"Sqrt returns the square root of x.",
		"",
	}
	vs, err := h.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 4 || h.Dimensions() != 256 || h.Model() != "hash-tfidf-256" {
		t.Fatalf("got %d vectors, model %s", len(vs), h.Model())
	}
	for i, v := range vs[:3] {
		if len(v) != 256 || math.Abs(dot(v, v)-1) > 1e-5 {
			t.Fatalf("vector %d: len %d, norm² %v", i, len(v), dot(v, v))
		}
	}
	if dot(vs[3], vs[3]) != 0 {
		t.Fatal("empty text gave a non-zero vector")
	}
	related, unrelated := dot(vs[0], vs[1]), dot(vs[0], vs[2])
	if related < 0.3 || related < 2*unrelated {
		t.Fatalf("cos(file, dir) = %.3f, cos(file, sqrt) = %.3f: related texts are not closer", related, unrelated)
	}
	again, _ := h.Embed(context.Background(), texts[:1])
	if dot(again[0], vs[0]) < 1-1e-6 {
		t.Fatal("embedding is not deterministic")
	}
}

func TestHashEmbedderFitDownweightsCommonWords(t *testing.T) {
	h := NewHashEmbedder(WithNGramRange(0, -1)) // words only, to isolate IDF
	a, b, c := "alpha common shared", "beta common shared", "alpha zeta"
	before, _ := h.Embed(context.Background(), []string{a, b, c})
	corpus := []string{a, b, c}
	for i := 0; i < 50; i++ {
		corpus = append(corpus, "common shared filler")
	}
	h.Fit(corpus)
	if h.Fitted() != len(corpus) {
		t.Fatalf("Fitted = %d", h.Fitted())
	}
	after, _ := h.Embed(context.Background(), []string{a, b, c})
	ab0, ac0 := dot(before[0], before[1]), dot(before[0], before[2])
	ab1, ac1 := dot(after[0], after[1]), dot(after[0], after[2])
	// Without IDF, a and b share two of three words; with it, the rare
	// shared word "alpha" makes a closer to c.
	if !(ab0 > ac0) || !(ac1 > ab1) {
		t.Fatalf("before fit cos(a,b)=%.3f cos(a,c)=%.3f; after cos(a,b)=%.3f cos(a,c)=%.3f", ab0, ac0, ab1, ac1)
	}
}

func TestHashEmbedderSpanAndEvents(t *testing.T) {
	rec := dispatcher.NewRecorder(0)
	defer dispatcher.Root().AddSpanHandler(rec)()
	defer dispatcher.Root().AddEventHandler(rec)()
	h := NewHashEmbedder(WithHashDimensions(64))
	if _, err := h.Embed(context.Background(), []string{"one two three", "four five"}); err != nil {
		t.Fatal(err)
	}
	var sp *spans.Span
	for _, s := range rec.Spans() {
		if s.Name == SpanName {
			sp = s
		}
	}
	if sp == nil || sp.Stage != spans.StageEmbed || sp.Scope != DispatcherName {
		t.Fatalf("no embed span: %+v", rec.Spans())
	}
	for key, want := range map[string]int64{spans.KeyEmbeddingChunks: 2, spans.KeyEmbeddingTokens: 5} {
		if v, _ := sp.Attr(key); v.AsInt64() != want {
			t.Fatalf("%s = %d, want %d", key, v.AsInt64(), want)
		}
	}
	var start, end int
	for _, e := range rec.Events() {
		switch e := e.(type) {
		case *event.EmbeddingStart:
			start++
		case *event.EmbeddingEnd:
			end++
			if e.Tokens != 5 || e.Dimensions != 64 || e.SpanID != sp.SpanID {
				t.Fatalf("end event %+v", e)
			}
		}
	}
	if start != 1 || end != 1 {
		t.Fatalf("%d start and %d end events", start, end)
	}
}

func TestHashEmbedderCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := NewHashEmbedder().Embed(ctx, []string{"x"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}
