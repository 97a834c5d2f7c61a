package retrieve_test

import (
	"context"
	"fmt"

	"github.com/stagescope/stagescope/engine/document"
	"github.com/stagescope/stagescope/engine/embed"
	"github.com/stagescope/stagescope/engine/retrieve"
)

func ExampleHybrid() {
	ctx := context.Background()
	nodes := []document.Node{
		{ID: "a", DocID: "os", Text: "ReadFile reads the named file and returns its contents."},
		{ID: "b", DocID: "math", Text: "Sqrt returns the square root of x."},
		{ID: "c", DocID: "os", Text: "WriteFile writes data to the named file, creating it if necessary."},
	}
	bm25 := retrieve.NewBM25()
	if err := bm25.Add(nodes...); err != nil {
		panic(err)
	}
	emb := embed.NewHashEmbedder()
	store := retrieve.NewVectorStore()
	entries := make([]retrieve.VectorEntry, len(nodes))
	for i, n := range nodes {
		entries[i] = retrieve.VectorEntry{NodeID: n.ID, DocID: n.DocID, Text: n.Text}
	}
	if err := retrieve.IndexVectors(ctx, store, emb, entries); err != nil {
		panic(err)
	}
	hybrid, _ := retrieve.NewHybrid([]retrieve.Retriever{retrieve.NewVectorRetriever(store, emb), bm25})
	hits, err := hybrid.Retrieve(ctx, "read a file", 2)
	if err != nil {
		panic(err)
	}
	for _, h := range hits {
		fmt.Printf("%s %.4f\n", h.NodeID, h.Score)
	}
	// Output:
	// a 0.0328
	// c 0.0323
}
