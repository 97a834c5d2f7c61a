package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/engine/document"
	"github.com/stagescope/stagescope/engine/retrieve"
	"github.com/stagescope/stagescope/spans"
)

func filled(t *testing.T) *StorageContext {
	t.Helper()
	s := New()
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 20; i++ {
		d := document.Document{ID: fmt.Sprint("doc", i), Text: fmt.Sprintf("document %d text. Ünïcode \"quoted\" <html> & more.", i)}
		if i%2 == 0 {
			d.Metadata = map[string]string{"package": "p", "z": "last", "a": fmt.Sprint(i)}
		}
		s.Docs.AddDocuments(d)
		var ids []string
		for j := 0; j < 3; j++ {
			n := document.Node{ID: document.NodeID(d.ID, j), DocID: d.ID, Text: d.Text[:10+j], StartChar: 0, EndChar: 10 + j, Metadata: d.Metadata}
			s.Docs.AddNodes(n)
			ids = append(ids, n.ID)
			for _, ns := range []string{DefaultNamespace, "code-v2"} {
				v := make([]float32, 7)
				for k := range v {
					v[k] = float32(r.NormFloat64())
				}
				if err := s.VectorStore(ns).Add(retrieve.VectorEntry{NodeID: n.ID, DocID: d.ID, Text: n.Text, Vector: v}); err != nil {
					t.Fatal(err)
				}
			}
		}
		s.Indexes.Put(IndexStruct{ID: "main", Type: "vector", NodeIDs: ids})
	}
	s.Indexes.Put(IndexStruct{ID: "kw", Type: "bm25", NodeIDs: []string{"doc1#0"}})
	return s
}

func readAll(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

func TestPersistLoadPersistIsByteIdentical(t *testing.T) {
	ctx := context.Background()
	s := filled(t)
	dir1, dir2 := t.TempDir(), t.TempDir()
	if err := s.Persist(ctx, dir1); err != nil {
		t.Fatal(err)
	}
	loaded, err := Load(ctx, dir1)
	if err != nil {
		t.Fatal(err)
	}
	if err := loaded.Persist(ctx, dir2); err != nil {
		t.Fatal(err)
	}
	a, b := readAll(t, dir1), readAll(t, dir2)
	want := []string{"code-v2__vector_store.json", "default__vector_store.json", "docstore.json", "index_store.json"}
	names := make([]string, 0, len(a))
	for n := range a {
		names = append(names, n)
	}
	slices.Sort(names)
	if !slices.Equal(names, want) {
		t.Fatalf("files %v, want %v (no temporary files left)", names, want)
	}
	for name, data := range a {
		if !bytes.Equal(data, b[name]) {
			t.Fatalf("%s differs after a round trip (%d vs %d bytes)", name, len(data), len(b[name]))
		}
	}
	// The loaded context answers like the original.
	if n, ok := loaded.Docs.Node("doc4#2"); !ok || n.Metadata["a"] != "4" || n.EndChar != 12 {
		t.Fatalf("node doc4#2 = %+v, %v", n, ok)
	}
	if is, ok := loaded.Indexes.Get("main"); !ok || len(is.NodeIDs) != 3 {
		t.Fatalf("index main = %+v", is)
	}
	q := []float32{1, -2, 3, 0, 1, 1, -1}
	for _, ns := range []string{DefaultNamespace, "code-v2"} {
		h1, _ := s.VectorStore(ns).Query(ctx, q, 5)
		h2, _ := loaded.VectorStore(ns).Query(ctx, q, 5)
		if !slices.Equal(h1, h2) {
			t.Fatalf("namespace %s answers differently after loading:\n%v\n%v", ns, h1, h2)
		}
	}
	// Persisting over an existing directory replaces the files.
	loaded.Docs.AddDocuments(document.Document{ID: "new", Text: "x"})
	if err := loaded.Persist(ctx, dir2); err != nil {
		t.Fatal(err)
	}
	if again := readAll(t, dir2); bytes.Equal(again[DocStoreFile], a[DocStoreFile]) || len(again) != 4 {
		t.Fatal("persisting again did not replace docstore.json")
	}
}

func TestLoadErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := Load(ctx, filepath.Join(t.TempDir(), "absent")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing directory: %v", err)
	}
	dir := t.TempDir()
	if err := New().Persist(ctx, dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, IndexStoreFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(ctx, dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing index store: %v", err)
	}
	for name, body := range map[string]string{
		DocStoreFile:                      `{"docs": {"a": {"id": "a", "text": `,
		"default" + VectorStoreFileSuffix: `{"dimensions":2,"entries":[{"node_id":"a","vector":[1,0]},{"node_id":"b","vector":[1]}]}`,
	} {
		dir := t.TempDir()
		if err := filled(t).Persist(ctx, dir); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(ctx, dir); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("corrupt %s: err = %v, want ErrCorrupt", name, err)
		}
	}
}

func TestPersistEventsCarryBytes(t *testing.T) {
	rec := dispatcher.NewRecorder(0)
	defer dispatcher.Root().AddSpanHandler(rec)()
	defer dispatcher.Root().AddEventHandler(rec)()
	dir := t.TempDir()
	if err := filled(t).Persist(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	files := readAll(t, dir)
	persisted, loaded := 0, 0
	for _, e := range rec.Events() {
		switch e := e.(type) {
		case *event.StoragePersist:
			persisted++
			if int64(len(files[filepath.Base(e.Path)])) != e.Bytes || e.Duration <= 0 {
				t.Fatalf("persist event %+v: file has %d bytes", e, len(files[filepath.Base(e.Path)]))
			}
		case *event.StorageLoad:
			loaded++
			if int64(len(files[filepath.Base(e.Path)])) != e.Bytes {
				t.Fatalf("load event %+v", e)
			}
		}
	}
	if persisted != 4 || loaded != 4 {
		t.Fatalf("%d persist and %d load events, want 4 each", persisted, loaded)
	}
	var persistSpan *spans.Span
	children := 0
	for _, s := range rec.Spans() {
		if s.Name == "persist" {
			persistSpan = s
		}
	}
	for _, s := range rec.Spans() {
		if persistSpan != nil && s.ParentID == persistSpan.SpanID && s.Stage == spans.StageStorage {
			children++
		}
	}
	total := int64(0)
	for _, b := range files {
		total += int64(len(b))
	}
	if v, _ := persistSpan.Attr(spans.KeyStorageBytes); children != 4 || v.AsInt64() != total {
		t.Fatalf("persist span has %d children and %d bytes, want 4 and %d", children, v.AsInt64(), total)
	}
}

func TestNamespaces(t *testing.T) {
	s := New()
	for _, bad := range []string{"", "a__b", "../x", "a/b", ".hidden"} {
		if err := s.SetVectorStore(bad, retrieve.NewVectorStore()); err == nil {
			t.Errorf("namespace %q accepted", bad)
		}
	}
	if err := s.SetVectorStore("img-v1.2", retrieve.NewVectorStore()); err != nil {
		t.Fatal(err)
	}
	if got := s.Namespaces(); !slices.Equal(got, []string{"default", "img-v1.2"}) {
		t.Fatalf("namespaces %v", got)
	}
}
