package embed

import (
	"context"
	"math"

	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/spans"
)

// DispatcherName is the dispatcher every embedder reports through.
const DispatcherName = "engine.embed"

// SpanName is the name of the span of one Embed call.
const SpanName = "embed"

// Embedder maps texts to vectors of a fixed dimension. Embed returns one
// vector per text, in order. Implementations must be safe for concurrent
// use.
type Embedder interface {
	// Model names the embedding model, as spans and stores record it.
	Model() string
	// Dimensions is the length of every vector Embed returns (0 if not
	// known until the first call).
	Dimensions() int
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// embedSpan opens the span and start event of one Embed call.
func embedSpan(ctx context.Context, model string, n int) (context.Context, *dispatcher.Span) {
	d := dispatcher.Get(DispatcherName)
	ctx, span := d.Start(ctx, SpanName, spans.StageEmbed, spans.String(spans.KeyEmbeddingModel, model), spans.Int(spans.KeyEmbeddingChunks, n))
	if d.EventsEnabled() {
		d.Emit(ctx, &event.EmbeddingStart{Model: model, Chunks: n})
	}
	return ctx, span
}

// endEmbedSpan records the tokens and the end event, then ends the span.
func endEmbedSpan(ctx context.Context, span *dispatcher.Span, model string, n, tokens, dims int, err error) {
	d := dispatcher.Get(DispatcherName)
	if err == nil {
		span.SetAttributes(spans.Int(spans.KeyEmbeddingTokens, tokens), spans.Int("embedding.dimensions", dims))
		if d.EventsEnabled() {
			d.Emit(ctx, &event.EmbeddingEnd{Model: model, Chunks: n, Tokens: tokens, Dimensions: dims})
		}
	}
	span.Done(&err)
}

// Normalize scales v to unit L2 length in place and returns it; a zero
// vector is left as it is.
func Normalize(v []float32) []float32 {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	if ss == 0 {
		return v
	}
	inv := float32(1 / math.Sqrt(ss))
	for i := range v {
		v[i] *= inv
	}
	return v
}
