package storage

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/stagescope/stagescope/engine/retrieve"
)

// DefaultNamespace is the vector store namespace used when none is named.
const DefaultNamespace = "default"

// File names inside a persist directory.
const (
	DocStoreFile          = "docstore.json"
	IndexStoreFile        = "index_store.json"
	VectorStoreFileSuffix = "__vector_store.json"
)

// StorageContext groups the stores of one index. Its stores are safe for
// concurrent use; Persist takes a consistent copy of each store in turn.
type StorageContext struct {
	Docs    *DocStore
	Indexes *IndexStore

	mu      sync.RWMutex
	vectors map[string]*retrieve.VectorStore
}

// New returns an empty storage context with an empty "default" vector
// store.
func New() *StorageContext {
	return &StorageContext{Docs: NewDocStore(), Indexes: NewIndexStore(),
		vectors: map[string]*retrieve.VectorStore{DefaultNamespace: retrieve.NewVectorStore()}}
}

// VectorStore returns the vector store of namespace ns, creating an empty
// one on first use. It panics on a name ValidNamespace rejects, which is a
// programming error; use SetVectorStore to check a name coming from input.
func (s *StorageContext) VectorStore(ns string) *retrieve.VectorStore {
	if err := ValidNamespace(ns); err != nil {
		panic(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	vs, ok := s.vectors[ns]
	if !ok {
		vs = retrieve.NewVectorStore()
		s.vectors[ns] = vs
	}
	return vs
}

// SetVectorStore puts vs under namespace ns, replacing what was there.
func (s *StorageContext) SetVectorStore(ns string, vs *retrieve.VectorStore) error {
	if err := ValidNamespace(ns); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.vectors[ns] = vs
	return nil
}

// Namespaces returns the vector store namespaces, sorted.
func (s *StorageContext) Namespaces() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Sorted(maps.Keys(s.vectors))
}

// ValidNamespace reports whether ns can name a vector store file: non-empty,
// letters, digits, '-', '_' and '.', without "__" (the file name separator)
// and not starting with '.'.
func ValidNamespace(ns string) error {
	if ns == "" || strings.Contains(ns, "__") || strings.HasPrefix(ns, ".") {
		return fmt.Errorf("invalid vector store namespace %q", ns)
	}
	for _, r := range ns {
		if !(r == '-' || r == '_' || r == '.' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9')) {
			return fmt.Errorf("invalid vector store namespace %q: %q is not allowed", ns, r)
		}
	}
	return nil
}
