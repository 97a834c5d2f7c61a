package retrieve

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/stagescope/stagescope/engine/pool"
)

// Defaults of the hybrid retriever.
const (
	// DefaultRRFConstant is k in score = Σ 1/(k + rank); 60 is the value of
	// the original reciprocal-rank-fusion paper and damps the weight of the
	// very first ranks.
	DefaultRRFConstant = 60
	// DefaultCandidateFactor: each inner retriever is asked for this many
	// times topK candidates, so that a node ranked low by one and high by
	// the other still reaches the fusion.
	DefaultCandidateFactor = 2
)

// Hybrid runs several retrievers concurrently (through engine/pool, so each
// inner retrieval is a pool job and a child span) and fuses their rankings
// with reciprocal-rank fusion: a node's score is Σ over retrievers of
// 1/(k + rank), rank starting at 1.
type Hybrid struct {
	retrievers []Retriever
	k          float64
	factor     int
}

var _ Retriever = (*Hybrid)(nil)

// HybridOption configures a Hybrid retriever.
type HybridOption func(*Hybrid)

// WithRRFConstant sets k (DefaultRRFConstant).
func WithRRFConstant(k float64) HybridOption { return func(h *Hybrid) { h.k = k } }

// WithCandidateFactor sets how many times topK candidates each inner
// retriever returns (DefaultCandidateFactor).
func WithCandidateFactor(f int) HybridOption { return func(h *Hybrid) { h.factor = f } }

// NewHybrid fuses retrievers (at least one).
func NewHybrid(retrievers []Retriever, opts ...HybridOption) (*Hybrid, error) {
	if len(retrievers) == 0 {
		return nil, errors.New("hybrid retriever: no retrievers to fuse")
	}
	h := &Hybrid{retrievers: slices.Clone(retrievers), k: DefaultRRFConstant, factor: DefaultCandidateFactor}
	for _, o := range opts {
		o(h)
	}
	if h.factor < 1 {
		h.factor = 1
	}
	return h, nil
}

// Retrieve implements Retriever.
func (h *Hybrid) Retrieve(ctx context.Context, query string, topK int) ([]Hit, error) {
	return instrument(ctx, "hybrid", query, topK, func(ctx context.Context) ([]Hit, error) {
		if topK <= 0 {
			return nil, nil
		}
		jobs := make([]pool.Job[[]Hit], len(h.retrievers))
		for i, r := range h.retrievers {
			jobs[i] = func(ctx context.Context) ([]Hit, error) { return r.Retrieve(ctx, query, topK*h.factor) }
		}
		lists, err := pool.RunJobs(ctx, jobs, pool.WithWorkers(len(jobs)), pool.WithName("hybrid"))
		if err != nil {
			return nil, fmt.Errorf("hybrid retrieval: %w", err)
		}
		return Fuse(lists, h.k, topK), nil
	})
}

// Fuse merges ranked lists by reciprocal-rank fusion with constant k and
// returns the topK nodes, best first. Ties keep the order in which nodes
// were first seen (list by list, rank by rank).
func Fuse(lists [][]Hit, k float64, topK int) []Hit {
	pos := map[string]int{}
	var fused []Hit
	for _, l := range lists {
		for rank, hit := range l {
			i, ok := pos[hit.NodeID]
			if !ok {
				i = len(fused)
				pos[hit.NodeID] = i
				hit.Score = 0
				fused = append(fused, hit)
			}
			fused[i].Score += 1 / (k + float64(rank+1))
		}
	}
	slices.SortStableFunc(fused, func(a, b Hit) int {
		switch {
		case a.Score > b.Score:
			return -1
		case a.Score < b.Score:
			return 1
		}
		return 0
	})
	if len(fused) > topK {
		fused = fused[:topK]
	}
	return fused
}
