package storage

import (
	"maps"
	"slices"
	"sync"
)

// IndexStruct describes one index: which nodes it covers and of which kind
// it is ("vector", "bm25", …). Nodes are listed in index order.
type IndexStruct struct {
	ID      string   `json:"id"`
	Type    string   `json:"type"`
	NodeIDs []string `json:"node_ids"`
}

// IndexStore holds index structures by ID. It is safe for concurrent use.
type IndexStore struct {
	mu      sync.RWMutex
	indexes map[string]IndexStruct
}

// NewIndexStore returns an empty index store.
func NewIndexStore() *IndexStore { return &IndexStore{indexes: map[string]IndexStruct{}} }

// Put stores is (a copy of its node list), replacing one with the same ID.
func (s *IndexStore) Put(is IndexStruct) {
	is.NodeIDs = slices.Clone(is.NodeIDs)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.indexes[is.ID] = is
}

// Get returns the index structure with the ID.
func (s *IndexStore) Get(id string) (IndexStruct, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	is, ok := s.indexes[id]
	is.NodeIDs = slices.Clone(is.NodeIDs)
	return is, ok
}

// IDs returns the IDs of the stored index structures, sorted.
func (s *IndexStore) IDs() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Sorted(maps.Keys(s.indexes))
}

type indexStoreFile struct {
	Indexes map[string]IndexStruct `json:"indexes"`
}

func (s *IndexStore) file() indexStoreFile {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return indexStoreFile{Indexes: maps.Clone(s.indexes)}
}
