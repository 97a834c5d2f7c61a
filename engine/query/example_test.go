package query_test

import (
	"context"
	"fmt"

	"github.com/stagescope/stagescope/engine/corpus"
	"github.com/stagescope/stagescope/engine/llm"
	"github.com/stagescope/stagescope/engine/query"
	"github.com/stagescope/stagescope/engine/synth"
)

func ExampleNewGoPipeline() {
	ctx := context.Background()
	p, err := query.NewGoPipeline(ctx, corpus.GOROOT(), llm.NewExtractive(),
		[]corpus.Option{corpus.WithPackages("strings")}, nil,
		query.WithTopK(10), query.WithTopN(2), query.WithResponseMode(synth.Compact))
	if err != nil {
		panic(err)
	}
	resp, err := p.Engine.Query(ctx, "How do I split a string around each instance of a separator?")
	if err != nil {
		panic(err)
	}
	fmt.Println(resp.Sources[0].DocID, resp.LLMCalls)
	fmt.Println(resp.Answer != "")

	ev, _ := query.Evaluate(ctx, p.Index.BM25, p.Corpus.Questions, 10)
	fmt.Println(ev.Questions > 0, ev.HitRate > 0.8)
	// Output:
	// strings.Split 1
	// true
	// true true
}
