package query

import (
	"context"
	"fmt"

	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/engine/corpus"
	"github.com/stagescope/stagescope/engine/document"
	"github.com/stagescope/stagescope/engine/embed"
	"github.com/stagescope/stagescope/engine/llm"
	"github.com/stagescope/stagescope/engine/pool"
	"github.com/stagescope/stagescope/engine/rerank"
	"github.com/stagescope/stagescope/engine/retrieve"
	"github.com/stagescope/stagescope/engine/storage"
	"github.com/stagescope/stagescope/engine/tokens"
	"github.com/stagescope/stagescope/spans"
)

// Defaults of BuildIndex.
const (
	DefaultIndexChunkSize    = 256
	DefaultIndexChunkOverlap = 32
	DefaultEmbedBatch        = 256
	DefaultIndexWorkers      = 2
)

// Index is everything BuildIndex made: the nodes, the stores, and three
// retrievers over them.
type Index struct {
	Nodes    []document.Node
	Storage  *storage.StorageContext
	Embedder *embed.HashEmbedder
	Vector   *retrieve.VectorRetriever
	BM25     *retrieve.BM25
	Hybrid   *retrieve.Hybrid
}

// IndexOption configures BuildIndex.
type IndexOption func(*indexConfig)

type indexConfig struct {
	chunkSize, overlap int
	dims               int
	batch, workers     int
}

// WithChunking sets the splitter's chunk size and overlap in cl100k_base
// tokens (DefaultIndexChunkSize, DefaultIndexChunkOverlap).
func WithChunking(size, overlap int) IndexOption {
	return func(c *indexConfig) { c.chunkSize, c.overlap = size, overlap }
}

// WithEmbeddingDimensions sets the hash embedder's dimensions
// (embed.DefaultHashDimensions).
func WithEmbeddingDimensions(n int) IndexOption { return func(c *indexConfig) { c.dims = n } }

// WithEmbedBatches sets how many nodes one embedding job carries and how
// many jobs run at once (DefaultEmbedBatch, DefaultIndexWorkers).
func WithEmbedBatches(size, workers int) IndexOption {
	return func(c *indexConfig) { c.batch, c.workers = size, workers }
}

// BuildIndex splits docs with a token-aware sentence splitter (cl100k_base),
// fits the hash embedder's IDF on the nodes, embeds them in batches through
// engine/pool, and indexes them in a vector store (the storage context's
// "default" namespace) and in BM25, with a hybrid retriever over both. The
// build is one "build index" span.
func BuildIndex(ctx context.Context, docs []document.Document, opts ...IndexOption) (_ *Index, err error) {
	c := indexConfig{chunkSize: DefaultIndexChunkSize, overlap: DefaultIndexChunkOverlap, dims: embed.DefaultHashDimensions,
		batch: DefaultEmbedBatch, workers: DefaultIndexWorkers}
	for _, o := range opts {
		o(&c)
	}
	ctx, span := dispatcher.Get(DispatcherName).Start(ctx, "build index", spans.StageChain, spans.Int("index.documents", len(docs)))
	defer span.Done(&err)

	enc, err := tokens.Encoding(tokens.CL100KBase)
	if err != nil {
		return nil, fmt.Errorf("building the index: %w", err)
	}
	splitter, err := document.NewSentenceSplitter(enc, document.WithChunkSize(c.chunkSize), document.WithChunkOverlap(c.overlap))
	if err != nil {
		return nil, fmt.Errorf("building the index: %w", err)
	}
	nodes, err := splitter.SplitDocuments(ctx, docs)
	if err != nil {
		return nil, fmt.Errorf("building the index: %w", err)
	}
	span.SetAttributes(spans.Int("index.nodes", len(nodes)))

	emb := embed.NewHashEmbedder(embed.WithHashDimensions(c.dims))
	texts := make([]string, len(nodes))
	for i, n := range nodes {
		texts[i] = n.Text
	}
	emb.Fit(texts)
	var jobs []pool.Job[[][]float32]
	for lo := 0; lo < len(texts); lo += max(c.batch, 1) {
		batch := texts[lo:min(lo+max(c.batch, 1), len(texts))]
		jobs = append(jobs, func(ctx context.Context) ([][]float32, error) { return emb.Embed(ctx, batch) })
	}
	batches, err := pool.RunJobs(ctx, jobs, pool.WithWorkers(c.workers), pool.WithName("index.embed"))
	if err != nil {
		return nil, fmt.Errorf("building the index: embedding %d nodes: %w", len(nodes), err)
	}

	st := storage.New()
	st.Docs.AddDocuments(docs...)
	st.Docs.AddNodes(nodes...)
	entries := make([]retrieve.VectorEntry, 0, len(nodes))
	for _, b := range batches {
		for _, v := range b {
			n := nodes[len(entries)]
			entries = append(entries, retrieve.VectorEntry{NodeID: n.ID, DocID: n.DocID, Text: n.Text, Vector: v})
		}
	}
	vs := st.VectorStore(storage.DefaultNamespace)
	if err := vs.Add(entries...); err != nil {
		return nil, fmt.Errorf("building the index: %w", err)
	}
	bm := retrieve.NewBM25()
	if err := bm.Add(nodes...); err != nil {
		return nil, fmt.Errorf("building the index: %w", err)
	}
	vr := retrieve.NewVectorRetriever(vs, emb)
	hy, err := retrieve.NewHybrid([]retrieve.Retriever{vr, bm})
	if err != nil {
		return nil, fmt.Errorf("building the index: %w", err)
	}
	ids := make([]string, len(nodes))
	for i, n := range nodes {
		ids[i] = n.ID
	}
	st.Indexes.Put(storage.IndexStruct{ID: "vector", Type: "vector", NodeIDs: ids})
	st.Indexes.Put(storage.IndexStruct{ID: "bm25", Type: "bm25", NodeIDs: ids})
	return &Index{Nodes: nodes, Storage: st, Embedder: emb, Vector: vr, BM25: bm, Hybrid: hy}, nil
}

// GoPipeline is a ready query pipeline over the Go standard library.
type GoPipeline struct {
	Corpus *corpus.Corpus
	Index  *Index
	Engine *Engine
}

// NewGoPipeline loads the Go corpus under goroot (corpusOpts limit it),
// builds its index, and returns an engine answering with model over the
// hybrid retriever and the local reranker. It is what the demo and the
// bench tool run.
func NewGoPipeline(ctx context.Context, goroot string, model llm.LLM, corpusOpts []corpus.Option, indexOpts []IndexOption, opts ...Option) (*GoPipeline, error) {
	c, err := corpus.Load(ctx, goroot, corpusOpts...)
	if err != nil {
		return nil, err
	}
	idx, err := BuildIndex(ctx, c.Documents, indexOpts...)
	if err != nil {
		return nil, err
	}
	e, err := New(idx.Hybrid, rerank.NewLocalReranker(), model, opts...)
	if err != nil {
		return nil, err
	}
	return &GoPipeline{Corpus: c, Index: idx, Engine: e}, nil
}
