package llm_test

import (
	"context"
	"fmt"

	"github.com/stagescope/stagescope/engine/llm"
)

func ExampleNewExtractive() {
	model := llm.NewExtractive(llm.WithMaxSentences(1))
	prompt := "Context information is below.\n---\n" +
		"Package sort provides primitives for sorting slices. Package strings manipulates strings.\n---\n" +
		"Query: Which package sorts slices?\nAnswer: "
	resp, err := model.Complete(context.Background(), llm.Prompt(prompt))
	if err != nil {
		panic(err)
	}
	fmt.Println(resp.Content)
	fmt.Println(resp.TokenSource, resp.CompletionTokens)
	// Output:
	// Package sort provides primitives for sorting slices.
	// tiktoken 8
}
