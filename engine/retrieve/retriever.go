package retrieve

import (
	"context"

	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/engine/faultinject"
	"github.com/stagescope/stagescope/spans"
)

// DispatcherName is the dispatcher every retriever reports through.
const DispatcherName = "engine.retrieve"

// SpanName is the name of the span of one Retrieve call.
const SpanName = "retrieve"

// KeyRetriever is the span attribute naming the kind of retriever.
const KeyRetriever = "retrieval.retriever"

// Hit is one retrieved node with the retriever's score (higher is better;
// scores of different retrievers are not comparable).
type Hit struct {
	NodeID string  `json:"node_id"`
	DocID  string  `json:"doc_id"`
	Text   string  `json:"text"`
	Score  float64 `json:"score"`
}

// Retriever returns at most topK hits for query, best first. Implementations
// must be safe for concurrent use.
type Retriever interface {
	Retrieve(ctx context.Context, query string, topK int) ([]Hit, error)
}

// instrument runs fn inside a retrieve span with its start and end events.
func instrument(ctx context.Context, kind, query string, topK int, fn func(ctx context.Context) ([]Hit, error)) (hits []Hit, err error) {
	d := dispatcher.Get(DispatcherName)
	ctx, span := d.Start(ctx, SpanName, spans.StageRetrieve, spans.Int(spans.KeyRetrievalTopK, topK), spans.String(KeyRetriever, kind))
	defer span.Done(&err)
	if ctx, err = faultinject.Inject(ctx, spans.StageRetrieve); err != nil {
		return nil, err
	}
	events := d.EventsEnabled()
	if events {
		d.Emit(ctx, &event.RetrievalStart{Retriever: kind, Query: query, TopK: topK})
	}
	hits, err = fn(ctx)
	if err != nil {
		return nil, err
	}
	span.SetAttributes(spans.Int("retrieval.hits", len(hits)))
	if events {
		d.Emit(ctx, &event.RetrievalEnd{Retriever: kind, Query: query, TopK: topK, Docs: ScoredDocs(hits)})
	}
	return hits, nil
}

// ScoredDocs converts hits to the form retrieval events carry (node ids).
func ScoredDocs(hits []Hit) []event.ScoredDoc {
	out := make([]event.ScoredDoc, len(hits))
	for i, h := range hits {
		out[i] = event.ScoredDoc{ID: h.NodeID, Score: h.Score}
	}
	return out
}
