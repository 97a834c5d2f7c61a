package rerank

import (
	"context"
	"math"
	"testing"

	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/spans"
)

func TestProximity(t *testing.T) {
	for _, tc := range []struct {
		hits    [][2]int
		matched int
		want    float64
	}{
		{[][2]int{{0, 0}, {5, 1}, {6, 0}}, 2, 1},
		{[][2]int{{0, 0}, {4, 1}}, 2, 2.0 / 5},
		{[][2]int{{1, 0}, {3, 1}, {9, 2}, {10, 1}, {11, 0}}, 3, 1},
		{[][2]int{{1, 0}}, 1, 0},
	} {
		if got := proximity(tc.hits, tc.matched, make([]int, 3)); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("proximity(%v) = %v, want %v", tc.hits, got, tc.want)
		}
	}
}

func TestLocalScoreExact(t *testing.T) {
	r := NewLocalReranker()
	s := r.Score("read the file", []Passage{{ID: "a", Text: "Read file."}, {ID: "b", Text: "zzz"}})
	// Best BM25 (normalised to 1) + full coverage × 0.6 + adjacent terms × 0.3.
	if math.Abs(s[0]-1.9) > 1e-12 || s[1] != 0 {
		t.Fatalf("scores %v, want [1.9 0]", s)
	}
}

func TestLocalRerankOrdersByRelevance(t *testing.T) {
	passages := []Passage{
		{ID: "unrelated", Text: "Sqrt returns the square root of x.", Score: 9},
		{ID: "far", Text: "Open the file. Many other words are written here before we finally read.", Score: 8},
		{ID: "one-term", Text: "The file is closed.", Score: 7},
		{ID: "close", Text: "ReadFile: read the named file and return its contents.", Score: 1},
	}
	in := append([]Passage(nil), passages...)
	out, err := NewLocalReranker().Rerank(context.Background(), "read a file", passages, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"close", "far", "one-term"}
	if len(out) != 3 {
		t.Fatalf("got %d passages, want topN 3", len(out))
	}
	for i, id := range want {
		if out[i].ID != id {
			t.Fatalf("rank %d = %s, want %s (all: %+v)", i, out[i].ID, id, out)
		}
	}
	if !(out[0].Score > out[1].Score && out[1].Score > out[2].Score && out[2].Score > 0) {
		t.Fatalf("scores not strictly decreasing: %+v", out)
	}
	for i := range in {
		if in[i] != passages[i] {
			t.Fatal("Rerank modified its input")
		}
	}
	all, _ := NewLocalReranker().Rerank(context.Background(), "read a file", passages, 0)
	if len(all) != 4 || all[3].ID != "unrelated" || all[3].Score != 0 {
		t.Fatalf("topN 0 should keep all, unrelated last with 0: %+v", all)
	}
}

func TestLocalRerankSpanAndEvents(t *testing.T) {
	rec := dispatcher.NewRecorder(0)
	defer dispatcher.Root().AddSpanHandler(rec)()
	defer dispatcher.Root().AddEventHandler(rec)()
	out, err := NewLocalReranker().Rerank(context.Background(), "alpha beta", []Passage{{ID: "1", Text: "beta"}, {ID: "2", Text: "alpha beta"}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	sp := rec.Spans()
	if len(sp) != 1 || sp[0].Name != SpanName || sp[0].Stage != spans.StageRerank {
		t.Fatalf("spans %+v", sp)
	}
	if v, _ := sp[0].Attr(spans.KeyRerankTopN); v.AsInt64() != 1 {
		t.Fatalf("top_n %v", v)
	}
	if v, _ := sp[0].Attr(spans.KeyRerankModel); v.AsString() != LocalModel {
		t.Fatalf("model %v", v)
	}
	var end *event.RerankEnd
	for _, e := range rec.Events() {
		if e, ok := e.(*event.RerankEnd); ok {
			end = e
		}
	}
	if end == nil || len(end.In) != 2 || len(end.Out) != 1 || end.Out[0].ID != "2" || end.Out[0].Score != out[0].Score {
		t.Fatalf("end event %+v", end)
	}
}

func TestLocalRerankCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := NewLocalReranker().Rerank(ctx, "q", []Passage{{ID: "1", Text: "q"}}, 1); err == nil {
		t.Fatal("cancelled rerank succeeded")
	}
}
