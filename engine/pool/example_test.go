package pool_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/stagescope/stagescope/engine/pool"
)

func ExampleRunJobs() {
	words := []string{"retrieve", "rerank", "synthesize"}
	jobs := make([]pool.Job[string], len(words))
	for i, w := range words {
		jobs[i] = func(ctx context.Context) (string, error) { return strings.ToUpper(w), nil }
	}
	out, err := pool.RunJobs(context.Background(), jobs, pool.WithWorkers(2), pool.WithName("upper"))
	fmt.Println(out, err)
	// Output: [RETRIEVE RERANK SYNTHESIZE] <nil>
}
