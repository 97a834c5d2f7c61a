package faultinject_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stagescope/stagescope/engine/faultinject"
)

// Plant a slow, flaky reranker to see it stand out in the bottleneck report.
func ExampleWrap() {
	inj := faultinject.New(
		faultinject.WithLatency(faultinject.Constant(time.Millisecond)),
		faultinject.WithErrorRate(1),
		faultinject.WithSeed(1),
	)
	rerank := faultinject.Wrap(inj, func(ctx context.Context) ([]string, error) { return []string{"doc-1"}, nil })
	_, err := rerank(context.Background())
	fmt.Println(errors.Is(err, faultinject.ErrInjected))
	// Output: true
}
