package retrieve

import (
	"context"
	"sync"
	"testing"

	"github.com/stagescope/stagescope/engine/corpus"
	"github.com/stagescope/stagescope/engine/document"
	"github.com/stagescope/stagescope/engine/embed"
	"github.com/stagescope/stagescope/engine/tokens"
)

// benchChunks is the size of the benchmark index.
const benchChunks = 10_000

type benchIndex struct {
	queries []string
	vector  *VectorRetriever
	bm25    *BM25
	hybrid  *Hybrid
}

var (
	benchOnce sync.Once
	benchIdx  *benchIndex
	benchErr  error
)

// loadBenchIndex indexes the first 10k chunks (40 cl100k tokens each, 8
// overlap) of the Go standard library's doc comments; the queries are the
// corpus's labelled questions.
func loadBenchIndex(b *testing.B) *benchIndex {
	b.Helper()
	benchOnce.Do(func() {
		ctx := context.Background()
		c, err := corpus.Load(ctx, corpus.GOROOT(), corpus.WithQuestions(500))
		if err != nil {
			benchErr = err
			return
		}
		enc, err := tokens.Encoding(tokens.CL100KBase)
		if err != nil {
			benchErr = err
			return
		}
		sp, err := document.NewSentenceSplitter(enc, document.WithChunkSize(40), document.WithChunkOverlap(8))
		if err != nil {
			benchErr = err
			return
		}
		nodes, err := sp.SplitDocuments(ctx, c.Documents)
		if err != nil {
			benchErr = err
			return
		}
		if len(nodes) < benchChunks {
			b.Logf("corpus has only %d chunks", len(nodes))
		}
		nodes = nodes[:min(benchChunks, len(nodes))]
		emb := embed.NewHashEmbedder()
		texts := make([]string, len(nodes))
		entries := make([]VectorEntry, len(nodes))
		for i, n := range nodes {
			texts[i] = n.Text
			entries[i] = VectorEntry{NodeID: n.ID, DocID: n.DocID, Text: n.Text}
		}
		emb.Fit(texts)
		vs := NewVectorStore()
		if benchErr = IndexVectors(ctx, vs, emb, entries); benchErr != nil {
			return
		}
		bm := NewBM25()
		if benchErr = bm.Add(nodes...); benchErr != nil {
			return
		}
		idx := &benchIndex{vector: NewVectorRetriever(vs, emb), bm25: bm}
		idx.hybrid, benchErr = NewHybrid([]Retriever{idx.vector, idx.bm25})
		for _, q := range c.Questions {
			idx.queries = append(idx.queries, q.Query)
		}
		benchIdx = idx
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchIdx
}

func benchmarkRetriever(b *testing.B, pick func(*benchIndex) Retriever) {
	idx := loadBenchIndex(b)
	r := pick(idx)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		hits, err := r.Retrieve(ctx, idx.queries[i%len(idx.queries)], 10)
		if err != nil || len(hits) == 0 {
			b.Fatalf("%d hits, %v", len(hits), err)
		}
	}
}

// Retrieval latency, top 10 of 10k chunks, no span handler attached.
func BenchmarkRetrieveVector10k(b *testing.B) {
	benchmarkRetriever(b, func(i *benchIndex) Retriever { return i.vector })
}
func BenchmarkRetrieveBM2510k(b *testing.B) {
	benchmarkRetriever(b, func(i *benchIndex) Retriever { return i.bm25 })
}
func BenchmarkRetrieveHybrid10k(b *testing.B) {
	benchmarkRetriever(b, func(i *benchIndex) Retriever { return i.hybrid })
}

// The vector store's scan alone, with the query already embedded.
func BenchmarkVectorStoreQuery10k(b *testing.B) {
	idx := loadBenchIndex(b)
	ctx := context.Background()
	vs, err := idx.vector.embedder.Embed(ctx, idx.queries[:50])
	if err != nil {
		b.Fatal(err)
	}
	store := idx.vector.Store()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := store.Query(ctx, vs[i%len(vs)], 10); err != nil {
			b.Fatal(err)
		}
	}
}
