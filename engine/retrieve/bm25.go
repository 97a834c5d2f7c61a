package retrieve

import (
	"context"
	"fmt"
	"math"
	"sync"

	"github.com/stagescope/stagescope/engine/document"
)

// Defaults of BM25, the usual Okapi values.
const (
	DefaultK1 = 1.2
	DefaultB  = 0.75
)

// BM25IDF is the Okapi BM25 inverse document frequency of a term found in df
// of n documents, in the non-negative form ln(1 + (n−df+0.5)/(df+0.5)).
func BM25IDF(n, df int) float64 {
	return math.Log(1 + (float64(n)-float64(df)+0.5)/(float64(df)+0.5))
}

// BM25TF is the saturated, length-normalised term frequency of Okapi BM25
// for a term seen tf times in a document of docLen terms when documents
// average avgLen terms.
func BM25TF(tf, docLen, avgLen, k1, b float64) float64 {
	if avgLen <= 0 {
		avgLen = 1
	}
	return tf * (k1 + 1) / (tf + k1*(1-b+b*docLen/avgLen))
}

type posting struct {
	doc int32
	tf  int32
}

// BM25 is a keyword retriever over an in-memory inverted index of the terms
// document.Terms finds. It is safe for concurrent use.
type BM25 struct {
	k1, b float64

	mu       sync.RWMutex
	ids      []string
	docs     []string
	texts    []string
	lens     []int32
	totalLen int64
	postings map[string][]posting
	index    map[string]struct{}

	scratch sync.Pool // *[]float32 score accumulators
}

var _ Retriever = (*BM25)(nil)

// BM25Option configures a BM25 retriever.
type BM25Option func(*BM25)

// WithK1 sets the term-frequency saturation (DefaultK1).
func WithK1(k1 float64) BM25Option { return func(r *BM25) { r.k1 = k1 } }

// WithB sets the length normalisation, 0 (none) to 1 (full) (DefaultB).
func WithB(b float64) BM25Option { return func(r *BM25) { r.b = b } }

// NewBM25 returns an empty BM25 retriever; fill it with Add.
func NewBM25(opts ...BM25Option) *BM25 {
	r := &BM25{k1: DefaultK1, b: DefaultB, postings: map[string][]posting{}, index: map[string]struct{}{}}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Len returns the number of indexed nodes.
func (r *BM25) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.ids)
}

// Add indexes nodes. A node whose ID is already indexed is an error, and on
// error nothing is added.
func (r *BM25) Add(nodes ...document.Node) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := make(map[string]struct{}, len(nodes))
	for _, n := range nodes {
		_, dup := r.index[n.ID]
		if _, again := seen[n.ID]; dup || again {
			return fmt.Errorf("bm25: node %q is already indexed", n.ID)
		}
		seen[n.ID] = struct{}{}
	}
	tf := map[string]int32{}
	var terms []string
	for _, n := range nodes {
		doc := int32(len(r.ids))
		r.ids = append(r.ids, n.ID)
		r.docs = append(r.docs, n.DocID)
		r.texts = append(r.texts, n.Text)
		r.index[n.ID] = struct{}{}
		terms = document.AppendTerms(terms[:0], n.Text)
		r.lens = append(r.lens, int32(len(terms)))
		r.totalLen += int64(len(terms))
		clear(tf)
		for _, t := range terms {
			tf[t]++
		}
		for t, c := range tf {
			r.postings[t] = append(r.postings[t], posting{doc, c})
		}
	}
	return nil
}

// Retrieve implements Retriever: the topK nodes by BM25 score; nodes that
// share no term with the query are never returned.
func (r *BM25) Retrieve(ctx context.Context, query string, topK int) ([]Hit, error) {
	return instrument(ctx, "bm25", query, topK, func(ctx context.Context) ([]Hit, error) {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("bm25 query: %w", err)
		}
		return r.search(query, topK), nil
	})
}

func (r *BM25) search(query string, topK int) []Hit {
	r.mu.RLock()
	defer r.mu.RUnlock()
	n := len(r.ids)
	if n == 0 || topK <= 0 {
		return nil
	}
	sp, _ := r.scratch.Get().(*[]float32)
	if sp == nil || len(*sp) < n {
		s := make([]float32, n)
		sp = &s
	}
	scores := (*sp)[:n]
	defer r.scratch.Put(sp)

	avg := float64(r.totalLen) / float64(n)
	var touched []int32
	seen := map[string]struct{}{}
	for _, t := range document.Terms(query) {
		if _, dup := seen[t]; dup {
			continue
		}
		seen[t] = struct{}{}
		ps := r.postings[t]
		if len(ps) == 0 {
			continue
		}
		idf := BM25IDF(n, len(ps))
		for _, p := range ps {
			if scores[p.doc] == 0 {
				touched = append(touched, p.doc)
			}
			scores[p.doc] += float32(idf * BM25TF(float64(p.tf), float64(r.lens[p.doc]), avg, r.k1, r.b))
		}
	}
	top := newTopK(min(topK, len(touched)))
	for _, d := range touched {
		top.push(scored{d, scores[d]})
		scores[d] = 0 // leave the scratch clean for the next query
	}
	best := top.sorted()
	hits := make([]Hit, len(best))
	for i, c := range best {
		hits[i] = Hit{NodeID: r.ids[c.idx], DocID: r.docs[c.idx], Text: r.texts[c.idx], Score: float64(c.score)}
	}
	return hits
}
