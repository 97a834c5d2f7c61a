package retrieve

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/stagescope/stagescope/engine/faultinject"
	"github.com/stagescope/stagescope/spans"
)

// VectorEntry is one node's vector as a VectorStore holds it.
type VectorEntry struct {
	NodeID string    `json:"node_id"`
	DocID  string    `json:"doc_id"`
	Text   string    `json:"text,omitempty"`
	Vector []float32 `json:"vector"`
}

// VectorStore is an in-memory store of L2-normalised vectors answering
// cosine top-k queries by exact scan. Vectors live in one flat slice so a
// scan reads memory in order. It is safe for concurrent use: queries share a
// read lock, Add and Delete take the write lock.
type VectorStore struct {
	mu    sync.RWMutex
	dims  int
	ids   []string
	docs  []string
	texts []string
	flat  []float32 // len(ids) × dims
	index map[string]int
}

// NewVectorStore returns an empty store; its dimension is fixed by the
// first vector added.
func NewVectorStore() *VectorStore { return &VectorStore{index: map[string]int{}} }

// Dimensions returns the vector length (0 while empty).
func (s *VectorStore) Dimensions() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.dims
}

// Len returns the number of vectors.
func (s *VectorStore) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.ids)
}

// Add stores entries, normalising a copy of each vector; an entry whose
// NodeID is already stored replaces it. All vectors must have the store's
// dimension; on error nothing is added.
func (s *VectorStore) Add(entries ...VectorEntry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	dims := s.dims
	for i, e := range entries {
		if dims == 0 {
			dims = len(e.Vector)
		}
		if len(e.Vector) == 0 || len(e.Vector) != dims {
			return fmt.Errorf("vector store: entry %d (%s) has %d dimensions, want %d", i, e.NodeID, len(e.Vector), dims)
		}
	}
	s.dims = dims
	for _, e := range entries {
		v := normalized(e.Vector)
		if i, ok := s.index[e.NodeID]; ok {
			s.docs[i], s.texts[i] = e.DocID, e.Text
			copy(s.flat[i*dims:(i+1)*dims], v)
			continue
		}
		s.index[e.NodeID] = len(s.ids)
		s.ids = append(s.ids, e.NodeID)
		s.docs = append(s.docs, e.DocID)
		s.texts = append(s.texts, e.Text)
		s.flat = append(s.flat, v...)
	}
	return nil
}

// Delete removes every vector of document docID and returns how many it
// removed. The order of the remaining vectors is kept.
func (s *VectorStore) Delete(docID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := 0
	for r := range s.ids {
		if s.docs[r] == docID {
			delete(s.index, s.ids[r])
			continue
		}
		if w != r {
			s.ids[w], s.docs[w], s.texts[w] = s.ids[r], s.docs[r], s.texts[r]
			copy(s.flat[w*s.dims:(w+1)*s.dims], s.flat[r*s.dims:(r+1)*s.dims])
			s.index[s.ids[w]] = w
		}
		w++
	}
	removed := len(s.ids) - w
	s.ids, s.docs, s.texts = s.ids[:w], s.docs[:w], s.texts[:w]
	s.flat = s.flat[:w*s.dims]
	return removed
}

// Entries returns copies of the stored entries in insertion order (the
// order persistence writes them in).
func (s *VectorStore) Entries() []VectorEntry {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]VectorEntry, len(s.ids))
	for i := range s.ids {
		out[i] = VectorEntry{NodeID: s.ids[i], DocID: s.docs[i], Text: s.texts[i], Vector: slices.Clone(s.flat[i*s.dims : (i+1)*s.dims])}
	}
	return out
}

// Query returns the topK entries with the highest cosine similarity to
// vector, best first. It takes the context for symmetry with retrievers and
// checks it once: a scan is short.
func (s *VectorStore) Query(ctx context.Context, vector []float32, topK int) ([]Hit, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("vector query: %w", err)
	}
	if _, err := faultinject.Inject(ctx, spans.StageStorage); err != nil {
		return nil, fmt.Errorf("vector query: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := len(s.ids)
	if n == 0 || topK <= 0 {
		return nil, nil
	}
	if len(vector) != s.dims {
		return nil, fmt.Errorf("vector query: query has %d dimensions, store %d", len(vector), s.dims)
	}
	q := normalized(vector)
	top := newTopK(min(topK, n))
	d := s.dims
	for i := 0; i < n; i++ {
		top.push(scored{int32(i), dot(q, s.flat[i*d:(i+1)*d:(i+1)*d])})
	}
	best := top.sorted()
	hits := make([]Hit, len(best))
	for j, c := range best {
		hits[j] = Hit{NodeID: s.ids[c.idx], DocID: s.docs[c.idx], Text: s.texts[c.idx], Score: float64(c.score)}
	}
	return hits, nil
}

// dot is the inner product, unrolled by four; both slices have len(a).
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return s0 + s1 + s2 + s3
}

// normalized returns a unit-length copy of v (a zero vector stays zero).
func normalized(v []float32) []float32 {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	out := make([]float32, len(v))
	if ss == 0 {
		return out
	}
	inv := 1 / math.Sqrt(ss)
	for i, x := range v {
		out[i] = float32(float64(x) * inv)
	}
	return out
}

// NewVectorStoreFrom rebuilds a store from entries as Entries returned them
// (already normalised, one dimension), keeping their vectors bit for bit so
// that a persisted store loads and persists again to identical bytes.
func NewVectorStoreFrom(entries []VectorEntry) (*VectorStore, error) {
	s := NewVectorStore()
	for i, e := range entries {
		if i == 0 {
			s.dims = len(e.Vector)
		}
		if len(e.Vector) == 0 || len(e.Vector) != s.dims {
			return nil, fmt.Errorf("vector store: entry %d (%s) has %d dimensions, want %d", i, e.NodeID, len(e.Vector), s.dims)
		}
		if _, dup := s.index[e.NodeID]; dup {
			return nil, fmt.Errorf("vector store: node %q appears twice", e.NodeID)
		}
		s.index[e.NodeID] = len(s.ids)
		s.ids = append(s.ids, e.NodeID)
		s.docs = append(s.docs, e.DocID)
		s.texts = append(s.texts, e.Text)
		s.flat = append(s.flat, e.Vector...)
	}
	return s, nil
}
