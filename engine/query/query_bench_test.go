package query

import (
	"context"
	"testing"
)

// One whole query (hybrid top 10 → local rerank top 3 → compact synthesis
// with the extractive local LLM) over the 908-document corpus slice of the
// tests, no span handler attached.
func BenchmarkQueryGoCorpus(b *testing.B) {
	p := goPipeline(b)
	ctx := context.Background()
	qs := p.Corpus.Questions
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := p.Engine.Query(ctx, qs[i%len(qs)].Query); err != nil {
			b.Fatal(err)
		}
	}
}
