package rerank

import (
	"context"
	"sync"
	"testing"

	"github.com/stagescope/stagescope/engine/corpus"
	"github.com/stagescope/stagescope/engine/document"
	"github.com/stagescope/stagescope/engine/retrieve"
	"github.com/stagescope/stagescope/engine/tokens"
)

const benchChunks = 10_000

type benchSet struct {
	queries    []string
	candidates [][]Passage // per query, the BM25 top 50 of the 10k chunks
	all        []Passage   // the 10k chunks
}

var (
	benchOnce sync.Once
	bench     *benchSet
	benchErr  error
)

// loadBench cuts the Go standard library's doc comments into 10k chunks of
// 40 cl100k tokens and retrieves BM25 candidates for the corpus questions.
func loadBench(b *testing.B) *benchSet {
	b.Helper()
	benchOnce.Do(func() {
		ctx := context.Background()
		c, err := corpus.Load(ctx, corpus.GOROOT(), corpus.WithQuestions(200))
		if err != nil {
			benchErr = err
			return
		}
		enc, err := tokens.Encoding(tokens.CL100KBase)
		if err != nil {
			benchErr = err
			return
		}
		sp, _ := document.NewSentenceSplitter(enc, document.WithChunkSize(40), document.WithChunkOverlap(8))
		nodes, err := sp.SplitDocuments(ctx, c.Documents)
		if err != nil {
			benchErr = err
			return
		}
		nodes = nodes[:min(benchChunks, len(nodes))]
		bm := retrieve.NewBM25()
		if benchErr = bm.Add(nodes...); benchErr != nil {
			return
		}
		s := &benchSet{}
		for _, n := range nodes {
			s.all = append(s.all, Passage{ID: n.ID, Text: n.Text})
		}
		for _, q := range c.Questions {
			hits, err := bm.Retrieve(ctx, q.Query, 50)
			if err != nil {
				benchErr = err
				return
			}
			ps := make([]Passage, len(hits))
			for i, h := range hits {
				ps[i] = Passage{ID: h.NodeID, Text: h.Text, Score: h.Score}
			}
			s.queries = append(s.queries, q.Query)
			s.candidates = append(s.candidates, ps)
		}
		bench = s
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return bench
}

// What a query pays: rerank the 50 candidates retrieved from 10k chunks down
// to 10.
func BenchmarkLocalRerank50Of10k(b *testing.B) {
	s := loadBench(b)
	r := NewLocalReranker()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		j := i % len(s.queries)
		if _, err := r.Rerank(ctx, s.queries[j], s.candidates[j], 10); err != nil {
			b.Fatal(err)
		}
	}
}

// The worst case: rerank all 10k chunks for one query.
func BenchmarkLocalRerankAll10k(b *testing.B) {
	s := loadBench(b)
	r := NewLocalReranker()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := r.Rerank(ctx, s.queries[i%len(s.queries)], s.all, 10); err != nil {
			b.Fatal(err)
		}
	}
}
