package rerank_test

import (
	"context"
	"fmt"

	"github.com/stagescope/stagescope/engine/rerank"
)

func ExampleLocalReranker() {
	passages := []rerank.Passage{
		{ID: "sqrt", Text: "Sqrt returns the square root of x."},
		{ID: "far", Text: "Open the file first; much later, after many other steps, read."},
		{ID: "readfile", Text: "ReadFile reads the named file: read a file in one call."},
	}
	out, err := rerank.NewLocalReranker().Rerank(context.Background(), "read a file", passages, 2)
	if err != nil {
		panic(err)
	}
	for _, p := range out {
		fmt.Printf("%s %.3f\n", p.ID, p.Score)
	}
	// Output:
	// readfile 1.900
	// far 1.316
}
