package retrieve

import (
	"context"
	"fmt"

	"github.com/stagescope/stagescope/engine/embed"
)

// VectorRetriever embeds the query with an Embedder and asks a VectorStore.
// The embed span of the query is a child of the retrieve span.
type VectorRetriever struct {
	store    *VectorStore
	embedder embed.Embedder
}

var _ Retriever = (*VectorRetriever)(nil)

// NewVectorRetriever returns a retriever over store; embedder must be the
// one the stored vectors were made with.
func NewVectorRetriever(store *VectorStore, embedder embed.Embedder) *VectorRetriever {
	return &VectorRetriever{store: store, embedder: embedder}
}

// Store returns the underlying store.
func (r *VectorRetriever) Store() *VectorStore { return r.store }

// Retrieve implements Retriever.
func (r *VectorRetriever) Retrieve(ctx context.Context, query string, topK int) ([]Hit, error) {
	return instrument(ctx, "vector", query, topK, func(ctx context.Context) ([]Hit, error) {
		vs, err := r.embedder.Embed(ctx, []string{query})
		if err != nil {
			return nil, fmt.Errorf("embedding the query: %w", err)
		}
		if len(vs) != 1 {
			return nil, fmt.Errorf("embedding the query: embedder returned %d vectors for 1 text", len(vs))
		}
		return r.store.Query(ctx, vs[0], topK)
	})
}

// IndexVectors embeds the entries' texts in one Embed call and adds the
// entries, with their vectors, to store.
func IndexVectors(ctx context.Context, store *VectorStore, embedder embed.Embedder, entries []VectorEntry) error {
	texts := make([]string, len(entries))
	for i, e := range entries {
		texts[i] = e.Text
	}
	vs, err := embedder.Embed(ctx, texts)
	if err != nil {
		return fmt.Errorf("embedding %d nodes for the vector store: %w", len(entries), err)
	}
	for i := range entries {
		entries[i].Vector = vs[i]
	}
	return store.Add(entries...)
}
