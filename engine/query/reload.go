package query

import (
	"context"
	"fmt"

	"github.com/stagescope/stagescope/engine/document"
	"github.com/stagescope/stagescope/engine/embed"
	"github.com/stagescope/stagescope/engine/retrieve"
	"github.com/stagescope/stagescope/engine/storage"
)

// IndexFromStorage rebuilds the retrievers of an index that BuildIndex made
// and storage.Load read back: the vector store is used as loaded, BM25 is
// rebuilt from the docstore's nodes in the "bm25" index's order, and the
// hash embedder is fitted again on the same nodes (the IDF depends only on
// the set of node texts, so query vectors match the stored ones).
func IndexFromStorage(ctx context.Context, st *storage.StorageContext) (*Index, error) {
	is, ok := st.Indexes.Get("bm25")
	if !ok {
		return nil, fmt.Errorf("rebuilding the index: no %q index structure in storage", "bm25")
	}
	nodes := make([]document.Node, 0, len(is.NodeIDs))
	texts := make([]string, 0, len(is.NodeIDs))
	for _, id := range is.NodeIDs {
		n, ok := st.Docs.Node(id)
		if !ok {
			return nil, fmt.Errorf("rebuilding the index: node %q of the bm25 index is not in the docstore", id)
		}
		nodes = append(nodes, n)
		texts = append(texts, n.Text)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("rebuilding the index: %w", err)
	}
	vs := st.VectorStore(storage.DefaultNamespace)
	if vs.Len() != len(nodes) {
		return nil, fmt.Errorf("rebuilding the index: %d vectors for %d nodes", vs.Len(), len(nodes))
	}
	emb := embed.NewHashEmbedder(embed.WithHashDimensions(vs.Dimensions()))
	emb.Fit(texts)
	bm := retrieve.NewBM25()
	if err := bm.Add(nodes...); err != nil {
		return nil, fmt.Errorf("rebuilding the index: %w", err)
	}
	vr := retrieve.NewVectorRetriever(vs, emb)
	hy, err := retrieve.NewHybrid([]retrieve.Retriever{vr, bm})
	if err != nil {
		return nil, fmt.Errorf("rebuilding the index: %w", err)
	}
	return &Index{Nodes: nodes, Storage: st, Embedder: emb, Vector: vr, BM25: bm, Hybrid: hy}, nil
}
