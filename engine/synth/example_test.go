package synth_test

import (
	"context"
	"fmt"

	"github.com/stagescope/stagescope/engine/llm"
	"github.com/stagescope/stagescope/engine/synth"
)

func ExampleSynthesizer_Synthesize() {
	s := synth.New(llm.NewExtractive(llm.WithMaxSentences(1)), synth.WithMode(synth.Compact))
	res, err := s.Synthesize(context.Background(), "Which package sorts slices?", []string{
		"Package strings implements simple functions to manipulate UTF-8 encoded strings.",
		"Package sort provides primitives for sorting slices and user-defined collections.",
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Response)
	fmt.Println(res.LLMCalls, "call")
	// Output:
	// Package sort provides primitives for sorting slices and user-defined collections.
	// 1 call
}
