package storage_test

import (
	"context"
	"fmt"
	"os"

	"github.com/stagescope/stagescope/engine/document"
	"github.com/stagescope/stagescope/engine/retrieve"
	"github.com/stagescope/stagescope/engine/storage"
)

func ExampleStorageContext_Persist() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "stagescope-storage-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	s := storage.New()
	s.Docs.AddNodes(document.Node{ID: "n1", DocID: "d1", Text: "hello"})
	_ = s.VectorStore("default").Add(retrieve.VectorEntry{NodeID: "n1", DocID: "d1", Vector: []float32{3, 4}})
	if err := s.Persist(ctx, dir); err != nil {
		panic(err)
	}
	loaded, err := storage.Load(ctx, dir)
	if err != nil {
		panic(err)
	}
	n, _ := loaded.Docs.Node("n1")
	fmt.Println(n.Text, loaded.VectorStore("default").Entries()[0].Vector, loaded.Namespaces())
	// Output: hello [0.6 0.8] [default]
}
