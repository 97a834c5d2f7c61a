package retrieve

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"testing"

	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/engine/document"
	"github.com/stagescope/stagescope/engine/embed"
	"github.com/stagescope/stagescope/spans"
)

func TestTopKMatchesSort(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for trial := 0; trial < 50; trial++ {
		n, k := 1+r.IntN(300), 1+r.IntN(20)
		all := make([]scored, n)
		for i := range all {
			all[i] = scored{int32(i), float32(r.IntN(40))} // many ties
		}
		top := newTopK(min(k, n))
		for _, c := range all {
			top.push(c)
		}
		want := slices.Clone(all)
		sort.SliceStable(want, func(i, j int) bool { return want[i].score > want[j].score })
		if got := top.sorted(); !slices.Equal(got, want[:min(k, n)]) {
			t.Fatalf("n=%d k=%d: got %v, want %v", n, k, got, want[:min(k, n)])
		}
	}
}

func randomVector(r *rand.Rand, d int) []float32 {
	v := make([]float32, d)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

func TestVectorStoreExactTopK(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	s := NewVectorStore()
	var entries []VectorEntry
	for i := 0; i < 1000; i++ {
		entries = append(entries, VectorEntry{NodeID: fmt.Sprint("n", i), DocID: fmt.Sprint("d", i/10), Vector: randomVector(r, 16)})
	}
	if err := s.Add(entries...); err != nil {
		t.Fatal(err)
	}
	q := randomVector(r, 16)
	hits, err := s.Query(context.Background(), q, 10)
	if err != nil {
		t.Fatal(err)
	}
	cos := func(a, b []float32) float64 {
		var ab, aa, bb float64
		for i := range a {
			ab += float64(a[i]) * float64(b[i])
			aa += float64(a[i]) * float64(a[i])
			bb += float64(b[i]) * float64(b[i])
		}
		return ab / math.Sqrt(aa*bb)
	}
	type c struct {
		id    string
		score float64
	}
	var want []c
	for _, e := range entries {
		want = append(want, c{e.NodeID, cos(q, e.Vector)})
	}
	sort.Slice(want, func(i, j int) bool { return want[i].score > want[j].score })
	if len(hits) != 10 {
		t.Fatalf("%d hits", len(hits))
	}
	for i, h := range hits {
		if h.NodeID != want[i].id || math.Abs(h.Score-want[i].score) > 1e-5 {
			t.Fatalf("hit %d = %s %.6f, want %s %.6f", i, h.NodeID, h.Score, want[i].id, want[i].score)
		}
	}
}

func TestVectorStoreAddReplaceDelete(t *testing.T) {
	s := NewVectorStore()
	if err := s.Add(VectorEntry{NodeID: "a", DocID: "x", Vector: []float32{3, 4}}, VectorEntry{NodeID: "b", DocID: "y", Vector: []float32{0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(VectorEntry{NodeID: "c", Vector: []float32{1, 2, 3}}); err == nil {
		t.Fatal("a 3-dimensional vector entered a 2-dimensional store")
	}
	if e := s.Entries(); len(e) != 2 || e[0].Vector[0] != 0.6 || e[0].Vector[1] != 0.8 {
		t.Fatalf("entries not normalised: %+v", e)
	}
	if err := s.Add(VectorEntry{NodeID: "a", DocID: "x", Text: "new", Vector: []float32{-1, 0}}); err != nil {
		t.Fatal(err)
	}
	hits, _ := s.Query(context.Background(), []float32{-1, 0}, 5)
	if s.Len() != 2 || hits[0].NodeID != "a" || hits[0].Text != "new" || hits[0].Score != 1 {
		t.Fatalf("replace failed: len %d hits %+v", s.Len(), hits)
	}
	if _, err := s.Query(context.Background(), []float32{1}, 1); err == nil {
		t.Fatal("query of the wrong dimension accepted")
	}
	if n := s.Delete("x"); n != 1 || s.Len() != 1 {
		t.Fatalf("Delete removed %d, %d left", n, s.Len())
	}
	hits, _ = s.Query(context.Background(), []float32{1, 1}, 5)
	if len(hits) != 1 || hits[0].NodeID != "b" {
		t.Fatalf("after delete: %+v", hits)
	}
}

func TestVectorStoreConcurrent(t *testing.T) {
	s := NewVectorStore()
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for i := 0; i < 200; i++ {
				if err := s.Add(VectorEntry{NodeID: fmt.Sprint(w, "-", i), Vector: randomVector(r, 8)}); err != nil {
					t.Error(err)
				}
			}
		}()
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 2))
			for i := 0; i < 200; i++ {
				if _, err := s.Query(context.Background(), randomVector(r, 8), 5); err != nil && s.Len() > 0 {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if s.Len() != 800 {
		t.Fatalf("Len = %d, want 800", s.Len())
	}
}

func nodes(texts ...string) []document.Node {
	out := make([]document.Node, len(texts))
	for i, t := range texts {
		out[i] = document.Node{ID: fmt.Sprint("n", i), DocID: fmt.Sprint("d", i), Text: t}
	}
	return out
}

func TestBM25Scores(t *testing.T) {
	b := NewBM25()
	if err := b.Add(nodes("apple banana", "apple apple cherry", "cherry date")...); err != nil {
		t.Fatal(err)
	}
	if err := b.Add(nodes("again")...); err == nil {
		t.Fatal("duplicate node id accepted")
	}
	hits, err := b.Retrieve(context.Background(), "Apples?", 10)
	if err != nil {
		t.Fatal(err)
	}
	avg := 7.0 / 3
	idf := math.Log(1 + (3-2+0.5)/(2+0.5))
	want1 := idf * 1 * 2.2 / (1 + 1.2*(1-0.75+0.75*2/avg))
	want0 := idf * 2 * 2.2 / (2 + 1.2*(1-0.75+0.75*3/avg))
	if len(hits) != 2 || hits[0].NodeID != "n1" || hits[1].NodeID != "n0" {
		t.Fatalf("hits %+v", hits)
	}
	if math.Abs(hits[0].Score-want0) > 1e-5 || math.Abs(hits[1].Score-want1) > 1e-5 {
		t.Fatalf("scores %.6f %.6f, want %.6f %.6f", hits[0].Score, hits[1].Score, want0, want1)
	}
	// A second query must not see the first one's scores.
	hits, _ = b.Retrieve(context.Background(), "date", 10)
	if len(hits) != 1 || hits[0].NodeID != "n2" || math.Abs(hits[0].Score-math.Log(1+2.5/1.5)*2.2/(1+1.2*(0.25+0.75*2/avg))) > 1e-5 {
		t.Fatalf("hits %+v", hits)
	}
	if hits, _ := b.Retrieve(context.Background(), "nothing matches", 10); len(hits) != 0 {
		t.Fatalf("unmatched query gave %+v", hits)
	}
}

func TestFuse(t *testing.T) {
	a := []Hit{{NodeID: "x"}, {NodeID: "y"}, {NodeID: "z"}}
	b := []Hit{{NodeID: "y"}, {NodeID: "w"}}
	got := Fuse([][]Hit{a, b}, 60, 3)
	if len(got) != 3 || got[0].NodeID != "y" || got[1].NodeID != "x" || got[2].NodeID != "w" {
		t.Fatalf("fused %+v", got)
	}
	if want := 1.0/62 + 1.0/61; math.Abs(got[0].Score-want) > 1e-12 {
		t.Fatalf("y scored %v, want %v", got[0].Score, want)
	}
}

func TestHybridSpanTreeAndEvents(t *testing.T) {
	rec := dispatcher.NewRecorder(0)
	defer dispatcher.Root().AddSpanHandler(rec)()
	defer dispatcher.Root().AddEventHandler(rec)()
	ns := nodes("the reader reads bytes from a file", "the writer writes bytes", "square root of a number", "open a file for reading")
	b := NewBM25()
	if err := b.Add(ns...); err != nil {
		t.Fatal(err)
	}
	emb := embed.NewHashEmbedder(embed.WithHashDimensions(128))
	vs := NewVectorStore()
	entries := make([]VectorEntry, len(ns))
	for i, n := range ns {
		entries[i] = VectorEntry{NodeID: n.ID, DocID: n.DocID, Text: n.Text}
	}
	if err := IndexVectors(context.Background(), vs, emb, entries); err != nil {
		t.Fatal(err)
	}
	h, err := NewHybrid([]Retriever{NewVectorRetriever(vs, emb), b})
	if err != nil {
		t.Fatal(err)
	}
	rec.Reset()
	hits, err := h.Retrieve(context.Background(), "read a file", 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 2 || !(hits[0].NodeID == "n0" || hits[0].NodeID == "n3") {
		t.Fatalf("hits %+v", hits)
	}
	byID := map[spans.SpanID]*spans.Span{}
	var root *spans.Span
	inner := map[string]*spans.Span{}
	for _, s := range rec.Spans() {
		byID[s.SpanID] = s
		if s.Name == SpanName {
			v, _ := s.Attr(KeyRetriever)
			if v.AsString() == "hybrid" {
				root = s
			} else {
				inner[v.AsString()] = s
			}
		}
	}
	if root == nil || len(inner) != 2 {
		t.Fatalf("retrieve spans: root %v inner %v", root, inner)
	}
	if v, _ := root.Attr(spans.KeyRetrievalTopK); v.AsInt64() != 2 {
		t.Fatalf("top_k = %d", v.AsInt64())
	}
	for kind, s := range inner {
		job := byID[s.ParentID]
		if job == nil || job.Stage != spans.StagePool {
			t.Fatalf("%s retrieval is not under a pool job", kind)
		}
		run := byID[job.ParentID]
		if run == nil || run.Stage != spans.StagePool || run.ParentID != root.SpanID {
			t.Fatalf("%s retrieval's pool run is not under the hybrid span", kind)
		}
		if v, _ := s.Attr(spans.KeyRetrievalTopK); v.AsInt64() != 4 {
			t.Fatalf("%s asked for %d candidates, want 4", kind, v.AsInt64())
		}
	}
	var embedUnderVector bool
	for _, s := range rec.Spans() {
		if s.Stage == spans.StageEmbed && s.ParentID == inner["vector"].SpanID {
			embedUnderVector = true
		}
	}
	if !embedUnderVector {
		t.Fatal("the query's embed span is not under the vector retrieval")
	}
	var ends int
	for _, e := range rec.Events() {
		if e, ok := e.(*event.RetrievalEnd); ok && e.Retriever == "hybrid" {
			ends++
			if len(e.Docs) != 2 || e.Docs[0].ID != hits[0].NodeID || e.Docs[0].Score != hits[0].Score || e.SpanID != root.SpanID {
				t.Fatalf("end event %+v", e)
			}
		}
	}
	if ends != 1 {
		t.Fatalf("%d hybrid end events", ends)
	}
}
