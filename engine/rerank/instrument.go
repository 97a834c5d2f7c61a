package rerank

import (
	"context"

	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/engine/faultinject"
	"github.com/stagescope/stagescope/spans"
)

// Instrument runs fn inside a "rerank" span (stage rerank, with rerank.top_n
// and rerank.model) between RerankStart and RerankEnd events, through the
// dispatcher DispatcherName. Rerankers call it so that every implementation
// reports the same way; fn receives the context carrying the span.
func Instrument(ctx context.Context, model, query string, passages []Passage, topN int,
	fn func(ctx context.Context) ([]Passage, error)) (out []Passage, err error) {
	d := dispatcher.Get(DispatcherName)
	ctx, span := d.Start(ctx, SpanName, spans.StageRerank,
		spans.Int(spans.KeyRerankTopN, topN), spans.String(spans.KeyRerankModel, model), spans.Int("rerank.candidates", len(passages)))
	defer span.Done(&err)
	if ctx, err = faultinject.Inject(ctx, spans.StageRerank); err != nil {
		return nil, err
	}
	events := d.EventsEnabled()
	var in []event.ScoredDoc
	if events {
		in = ScoredDocs(passages)
		d.Emit(ctx, &event.RerankStart{Model: model, Query: query, TopN: topN, In: in})
	}
	out, err = fn(ctx)
	if err != nil {
		return nil, err
	}
	if events {
		d.Emit(ctx, &event.RerankEnd{Model: model, Query: query, TopN: topN, In: in, Out: ScoredDocs(out)})
	}
	return out, nil
}
