package embed_test

import (
	"context"
	"fmt"

	"github.com/stagescope/stagescope/engine/embed"
)

func ExampleHashEmbedder() {
	texts := []string{"ReadFile reads the named file.", "ReadDir reads the named directory.", "Sqrt returns the square root."}
	e := embed.NewHashEmbedder(embed.WithHashDimensions(256))
	e.Fit(texts)
	vs, err := e.Embed(context.Background(), texts)
	if err != nil {
		panic(err)
	}
	cos := func(a, b []float32) (s float32) {
		for i := range a {
			s += a[i] * b[i]
		}
		return s
	}
	fmt.Println(e.Model(), len(vs[0]), cos(vs[0], vs[1]) > cos(vs[0], vs[2]))
	// Output: hash-tfidf-256 256 true
}
