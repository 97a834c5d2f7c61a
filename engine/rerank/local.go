package rerank

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/stagescope/stagescope/engine/document"
	"github.com/stagescope/stagescope/engine/retrieve"
)

// LocalModel is the rerank.model the local reranker reports.
const LocalModel = "local-bm25-proximity"

// Default weights of the local reranker's score components. BM25 (scaled to
// [0, 1] by the best candidate) ranks; coverage rewards passages that hold
// more of the query's distinct terms (by IDF mass), which BM25 alone can
// trade away for one very frequent term; proximity rewards passages where
// the matched terms sit close together.
const (
	DefaultBM25Weight      = 1.0
	DefaultCoverageWeight  = 0.6
	DefaultProximityWeight = 0.3
)

// LocalReranker scores passages on the machine, with no model. Over the
// candidate set it computes BM25 (IDF and average length taken from the
// candidates themselves), the IDF-weighted share of distinct query terms a
// passage contains, and the density of the smallest window of the passage
// that holds all of its matched query terms; the score is a weighted sum.
type LocalReranker struct {
	k1, b                  float64
	wBM25, wCover, wProxim float64
}

var _ Reranker = (*LocalReranker)(nil)

// LocalOption configures a LocalReranker.
type LocalOption func(*LocalReranker)

// WithWeights sets the weights of the BM25, coverage and proximity
// components.
func WithWeights(bm25, coverage, proximity float64) LocalOption {
	return func(r *LocalReranker) { r.wBM25, r.wCover, r.wProxim = bm25, coverage, proximity }
}

// WithBM25Params sets k1 and b (retrieve.DefaultK1, retrieve.DefaultB).
func WithBM25Params(k1, b float64) LocalOption {
	return func(r *LocalReranker) { r.k1, r.b = k1, b }
}

// NewLocalReranker returns a local reranker.
func NewLocalReranker(opts ...LocalOption) *LocalReranker {
	r := &LocalReranker{k1: retrieve.DefaultK1, b: retrieve.DefaultB,
		wBM25: DefaultBM25Weight, wCover: DefaultCoverageWeight, wProxim: DefaultProximityWeight}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Model returns LocalModel.
func (r *LocalReranker) Model() string { return LocalModel }

// Rerank implements Reranker. Passages that share no term with the query
// score 0 and keep their input order among themselves.
func (r *LocalReranker) Rerank(ctx context.Context, query string, passages []Passage, topN int) ([]Passage, error) {
	return Instrument(ctx, LocalModel, query, passages, topN, func(ctx context.Context) ([]Passage, error) {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("local rerank: %w", err)
		}
		scores := r.Score(query, passages)
		out := slices.Clone(passages)
		order := make([]int, len(out))
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int {
			switch {
			case scores[a] > scores[b]:
				return -1
			case scores[a] < scores[b]:
				return 1
			}
			return 0
		})
		ranked := make([]Passage, clampTopN(topN, len(out)))
		for i := range ranked {
			ranked[i] = out[order[i]]
			ranked[i].Score = scores[order[i]]
		}
		return ranked, nil
	})
}

// Score returns the reranker's score of every passage, in input order.
func (r *LocalReranker) Score(query string, passages []Passage) []float64 {
	qterms := uniqueTerms(document.Terms(query))
	scores := make([]float64, len(passages))
	if len(qterms) == 0 || len(passages) == 0 {
		return scores
	}
	qidx := make(map[string]int, len(qterms))
	for i, t := range qterms {
		qidx[t] = i
	}
	// One pass: each passage's length, per-query-term frequencies and the
	// positions of query terms in it, kept in flat slices (a few
	// allocations per call, not per passage).
	nq := len(qterms)
	lengths := make([]int, len(passages))
	tfs := make([]int, len(passages)*nq)
	hitStart := make([]int, len(passages)+1)
	var hits [][2]int // (position, query term)
	df := make([]int, nq)
	totalLen := 0
	var buf []string
	for i, p := range passages {
		buf = document.AppendTerms(buf[:0], p.Text)
		tf := tfs[i*nq : (i+1)*nq]
		for pos, t := range buf {
			if q, ok := qidx[t]; ok {
				if tf[q] == 0 {
					df[q]++
				}
				tf[q]++
				hits = append(hits, [2]int{pos, q})
			}
		}
		lengths[i] = len(buf)
		totalLen += len(buf)
		hitStart[i+1] = len(hits)
	}
	n := len(passages)
	avg := float64(totalLen) / float64(n)
	idf := make([]float64, len(qterms))
	idfMass := 0.0
	for q := range qterms {
		idf[q] = retrieve.BM25IDF(n, df[q])
		idfMass += idf[q]
	}
	bm25 := make([]float64, n)
	maxBM25 := 0.0
	for i := range passages {
		for q, tf := range tfs[i*nq : (i+1)*nq] {
			if tf > 0 {
				bm25[i] += idf[q] * retrieve.BM25TF(float64(tf), float64(lengths[i]), avg, r.k1, r.b)
			}
		}
		maxBM25 = math.Max(maxBM25, bm25[i])
	}
	if maxBM25 == 0 {
		return scores
	}
	count := make([]int, nq) // scratch for proximity
	for i := range passages {
		if bm25[i] == 0 {
			continue
		}
		covered, matched := 0.0, 0
		for q, tf := range tfs[i*nq : (i+1)*nq] {
			if tf > 0 {
				covered += idf[q]
				matched++
			}
		}
		coverage := 0.0
		if idfMass > 0 {
			coverage = covered / idfMass
		}
		scores[i] = r.wBM25*bm25[i]/maxBM25 + r.wCover*coverage + r.wProxim*proximity(hits[hitStart[i]:hitStart[i+1]], matched, count)
	}
	return scores
}

// proximity is matched / (length of the smallest window holding every
// matched distinct query term), in (0, 1]; 1 when they are adjacent. A
// single matched term has no distance to measure and gets 0.
// count is zeroed scratch space, one slot per query term, left zeroed.
func proximity(hits [][2]int, matched int, count []int) float64 {
	if matched < 2 {
		return 0
	}
	have, best, lo := 0, math.MaxInt, 0
	for hi := range hits {
		if count[hits[hi][1]]++; count[hits[hi][1]] == 1 {
			have++
		}
		for have == matched {
			if w := hits[hi][0] - hits[lo][0] + 1; w < best {
				best = w
			}
			if count[hits[lo][1]]--; count[hits[lo][1]] == 0 {
				have--
			}
			lo++
		}
	}
	clear(count)
	return float64(matched) / float64(best)
}

func uniqueTerms(ts []string) []string {
	seen := make(map[string]struct{}, len(ts))
	out := ts[:0]
	for _, t := range ts {
		if _, ok := seen[t]; !ok {
			seen[t] = struct{}{}
			out = append(out, t)
		}
	}
	return out
}
