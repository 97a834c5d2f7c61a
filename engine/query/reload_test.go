package query

import (
	"context"
	"slices"
	"testing"

	"github.com/stagescope/stagescope/engine/storage"
)

func TestIndexSurvivesPersistAndLoad(t *testing.T) {
	ctx := context.Background()
	p := goPipeline(t)
	dir := t.TempDir()
	if err := p.Index.Storage.Persist(ctx, dir); err != nil {
		t.Fatal(err)
	}
	st, err := storage.Load(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := IndexFromStorage(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	if len(idx.Nodes) != len(p.Index.Nodes) {
		t.Fatalf("%d nodes after loading, %d before", len(idx.Nodes), len(p.Index.Nodes))
	}
	for _, q := range p.Corpus.Questions[:20] {
		before, _ := p.Index.Hybrid.Retrieve(ctx, q.Query, 10)
		after, _ := idx.Hybrid.Retrieve(ctx, q.Query, 10)
		if !slices.Equal(before, after) {
			t.Fatalf("hybrid answers %q differently after a reload:\n%v\n%v", q.Query, before, after)
		}
	}
	st.Indexes.Put(storage.IndexStruct{ID: "bm25", Type: "bm25", NodeIDs: []string{"missing#0"}})
	if _, err := IndexFromStorage(ctx, st); err == nil {
		t.Fatal("a bm25 index naming a missing node was accepted")
	}
}
