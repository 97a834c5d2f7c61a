package storage

import (
	"maps"
	"slices"
	"sync"

	"github.com/stagescope/stagescope/engine/document"
)

// DocStore holds documents and nodes by ID. It is safe for concurrent use.
type DocStore struct {
	mu    sync.RWMutex
	docs  map[string]document.Document
	nodes map[string]document.Node
}

// NewDocStore returns an empty docstore.
func NewDocStore() *DocStore {
	return &DocStore{docs: map[string]document.Document{}, nodes: map[string]document.Node{}}
}

// AddDocuments stores documents, replacing any with the same ID.
func (s *DocStore) AddDocuments(docs ...document.Document) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range docs {
		s.docs[d.ID] = d
	}
}

// AddNodes stores nodes, replacing any with the same ID.
func (s *DocStore) AddNodes(nodes ...document.Node) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range nodes {
		s.nodes[n.ID] = n
	}
}

// Document returns the document with the ID.
func (s *DocStore) Document(id string) (document.Document, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d, ok := s.docs[id]
	return d, ok
}

// Node returns the node with the ID.
func (s *DocStore) Node(id string) (document.Node, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n, ok := s.nodes[id]
	return n, ok
}

// Documents returns every document, sorted by ID.
func (s *DocStore) Documents() []document.Document {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]document.Document, 0, len(s.docs))
	for _, id := range slices.Sorted(maps.Keys(s.docs)) {
		out = append(out, s.docs[id])
	}
	return out
}

// Nodes returns every node, sorted by ID.
func (s *DocStore) Nodes() []document.Node {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]document.Node, 0, len(s.nodes))
	for _, id := range slices.Sorted(maps.Keys(s.nodes)) {
		out = append(out, s.nodes[id])
	}
	return out
}

// docStoreFile is the JSON form; encoding/json writes map keys sorted.
type docStoreFile struct {
	Docs  map[string]document.Document `json:"docs"`
	Nodes map[string]document.Node     `json:"nodes"`
}

func (s *DocStore) file() docStoreFile {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return docStoreFile{Docs: maps.Clone(s.docs), Nodes: maps.Clone(s.nodes)}
}
