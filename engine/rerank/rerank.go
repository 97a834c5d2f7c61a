package rerank

import (
	"context"

	"github.com/stagescope/stagescope/dispatcher/event"
)

// DispatcherName is the dispatcher every reranker reports through.
const DispatcherName = "engine.rerank"

// SpanName is the name of the span a reranker opens per Rerank call.
const SpanName = "rerank"

// Passage is a candidate text as retrieval hands it to a reranker. ID is the
// node (chunk) identifier; Score is the score of whoever produced the
// passage, and a reranker replaces it with its own.
type Passage struct {
	ID    string
	Text  string
	Score float64
}

// Reranker reorders passages by relevance to query and returns at most topN
// of them, best first, each carrying the reranker's score. A topN ≤ 0 or
// larger than len(passages) keeps every passage. Implementations must not
// modify the passages slice they are given, and must be safe for concurrent
// use.
type Reranker interface {
	Rerank(ctx context.Context, query string, passages []Passage, topN int) ([]Passage, error)
}

// ScoredDocs converts passages to the form rerank events carry.
func ScoredDocs(passages []Passage) []event.ScoredDoc {
	out := make([]event.ScoredDoc, len(passages))
	for i, p := range passages {
		out[i] = event.ScoredDoc{ID: p.ID, Score: p.Score}
	}
	return out
}

// clampTopN returns how many passages a rerank of n candidates keeps.
func clampTopN(topN, n int) int {
	if topN <= 0 || topN > n {
		return n
	}
	return topN
}
