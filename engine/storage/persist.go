package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/engine/faultinject"
	"github.com/stagescope/stagescope/engine/retrieve"
	"github.com/stagescope/stagescope/spans"
)

// DispatcherName is the dispatcher storage reports through.
const DispatcherName = "engine.storage"

// Store kinds, as the storage.store attribute and the events name them.
const (
	StoreDocStore    = "docstore"
	StoreIndexStore  = "index_store"
	StoreVectorStore = "vector_store"
)

// ErrCorrupt is wrapped by every error about a persisted file that cannot be
// decoded.
var ErrCorrupt = errors.New("corrupt storage file")

// vectorStoreFile is the JSON form of one vector store.
type vectorStoreFile struct {
	Dimensions int                    `json:"dimensions"`
	Entries    []retrieve.VectorEntry `json:"entries"`
}

// Persist writes every store to dir (created if missing), each file
// atomically.
func (s *StorageContext) Persist(ctx context.Context, dir string) (err error) {
	d := dispatcher.Get(DispatcherName)
	ctx, span := d.Start(ctx, "persist", spans.StageStorage, spans.String("storage.dir", dir))
	defer span.Done(&err)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cannot create storage directory %q: %w", dir, err)
	}
	total := int64(0)
	write := func(store, ns, name string, v any) error {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("persisting %s: %w", name, err)
		}
		n, err := persistFile(ctx, d, store, ns, filepath.Join(dir, name), v)
		total += n
		return err
	}
	if err := write(StoreDocStore, "", DocStoreFile, s.Docs.file()); err != nil {
		return err
	}
	if err := write(StoreIndexStore, "", IndexStoreFile, s.Indexes.file()); err != nil {
		return err
	}
	for _, ns := range s.Namespaces() {
		s.mu.RLock()
		vs := s.vectors[ns]
		s.mu.RUnlock()
		f := vectorStoreFile{Dimensions: vs.Dimensions(), Entries: vs.Entries()}
		if f.Entries == nil {
			f.Entries = []retrieve.VectorEntry{}
		}
		if err := write(StoreVectorStore, ns, ns+VectorStoreFileSuffix, f); err != nil {
			return err
		}
	}
	span.SetAttributes(spans.Int64(spans.KeyStorageBytes, total))
	return nil
}

func persistFile(ctx context.Context, d *dispatcher.Dispatcher, store, ns, path string, v any) (n int64, err error) {
	ctx, span := d.Start(ctx, "persist "+store, spans.StageStorage, spans.String(spans.KeyStorageStore, store), spans.String(spans.KeyStorageNamespace, ns))
	defer span.Done(&err)
	if ctx, err = faultinject.Inject(ctx, spans.StageStorage); err != nil {
		return 0, fmt.Errorf("persisting %s: %w", store, err)
	}
	began := time.Now()
	b, err := json.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("encoding %s: %w", path, err)
	}
	b = append(b, '\n')
	if err := writeAtomic(path, b); err != nil {
		return 0, err
	}
	took := time.Since(began)
	span.SetAttributes(spans.Int64(spans.KeyStorageBytes, int64(len(b))))
	if d.EventsEnabled() {
		d.Emit(ctx, &event.StoragePersist{Store: store, Namespace: ns, Path: path, Bytes: int64(len(b)), Duration: took})
	}
	return int64(len(b)), nil
}

// writeAtomic writes b to a temporary file beside path, syncs it and renames
// it over path.
func writeAtomic(path string, b []byte) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("cannot create a temporary file for %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(b); err != nil {
		return fmt.Errorf("writing %s: %w", f.Name(), err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", f.Name(), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", f.Name(), err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("renaming %s to %s: %w", f.Name(), path, err)
	}
	return nil
}

// Load reads a storage context persisted in dir. The directory must exist
// and hold docstore.json and index_store.json; every
// <namespace>__vector_store.json in it becomes a vector store.
func Load(ctx context.Context, dir string) (_ *StorageContext, err error) {
	d := dispatcher.Get(DispatcherName)
	ctx, span := d.Start(ctx, "load", spans.StageStorage, spans.String("storage.dir", dir))
	defer span.Done(&err)
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot load storage from %q: %w", dir, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("cannot load storage from %q: not a directory", dir)
	}
	s := &StorageContext{Docs: NewDocStore(), Indexes: NewIndexStore(), vectors: map[string]*retrieve.VectorStore{}}
	total := int64(0)

	var ds docStoreFile
	n, err := loadFile(ctx, d, StoreDocStore, "", filepath.Join(dir, DocStoreFile), &ds)
	if err != nil {
		return nil, err
	}
	total += n
	for id, doc := range ds.Docs {
		if doc.ID != id {
			return nil, fmt.Errorf("%w: %s: document under key %q has id %q", ErrCorrupt, DocStoreFile, id, doc.ID)
		}
	}
	for id, node := range ds.Nodes {
		if node.ID != id {
			return nil, fmt.Errorf("%w: %s: node under key %q has id %q", ErrCorrupt, DocStoreFile, id, node.ID)
		}
	}
	if ds.Docs != nil {
		s.Docs.docs = ds.Docs
	}
	if ds.Nodes != nil {
		s.Docs.nodes = ds.Nodes
	}

	var is indexStoreFile
	if n, err = loadFile(ctx, d, StoreIndexStore, "", filepath.Join(dir, IndexStoreFile), &is); err != nil {
		return nil, err
	}
	total += n
	if is.Indexes != nil {
		s.Indexes.indexes = is.Indexes
	}

	names, err := filepath.Glob(filepath.Join(dir, "*"+VectorStoreFileSuffix))
	if err != nil {
		return nil, fmt.Errorf("listing vector stores in %q: %w", dir, err)
	}
	slices.Sort(names)
	for _, path := range names {
		ns := strings.TrimSuffix(filepath.Base(path), VectorStoreFileSuffix)
		if ValidNamespace(ns) != nil {
			continue // not one of ours
		}
		var vf vectorStoreFile
		if n, err = loadFile(ctx, d, StoreVectorStore, ns, path, &vf); err != nil {
			return nil, err
		}
		total += n
		vs, err := retrieve.NewVectorStoreFrom(vf.Entries)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, path, err)
		}
		if len(vf.Entries) > 0 && vs.Dimensions() != vf.Dimensions {
			return nil, fmt.Errorf("%w: %s: header says %d dimensions, vectors have %d", ErrCorrupt, path, vf.Dimensions, vs.Dimensions())
		}
		s.vectors[ns] = vs
	}
	if _, ok := s.vectors[DefaultNamespace]; !ok {
		s.vectors[DefaultNamespace] = retrieve.NewVectorStore()
	}
	span.SetAttributes(spans.Int64(spans.KeyStorageBytes, total))
	return s, nil
}

func loadFile(ctx context.Context, d *dispatcher.Dispatcher, store, ns, path string, v any) (n int64, err error) {
	ctx, span := d.Start(ctx, "load "+store, spans.StageStorage, spans.String(spans.KeyStorageStore, store), spans.String(spans.KeyStorageNamespace, ns))
	defer span.Done(&err)
	if ctx, err = faultinject.Inject(ctx, spans.StageStorage); err != nil {
		return 0, fmt.Errorf("loading %s: %w", store, err)
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("loading %s: %w", path, err)
	}
	began := time.Now()
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("cannot load %s: missing %s: %w", store, path, err)
	}
	if err != nil {
		return 0, fmt.Errorf("cannot read %s: %w", path, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return 0, fmt.Errorf("%w: %s: %w", ErrCorrupt, path, err)
	}
	took := time.Since(began)
	span.SetAttributes(spans.Int64(spans.KeyStorageBytes, int64(len(b))))
	if d.EventsEnabled() {
		d.Emit(ctx, &event.StorageLoad{Store: store, Namespace: ns, Path: path, Bytes: int64(len(b)), Duration: took})
	}
	return int64(len(b)), nil
}
