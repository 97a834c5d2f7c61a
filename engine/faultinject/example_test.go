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

// Plant a tail in rerank: 5% of the calls get 500ms more. The stage calls
// Inject right after starting its span.
func ExampleInject() {
	stage, inj, err := faultinject.ParsePlant("rerank=latency:500ms@0.05", 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := faultinject.WithPlan(context.Background(), faultinject.Plan{stage: inj})
	// … d.Start(ctx, "rerank", spans.StageRerank) …
	if _, err := faultinject.Inject(ctx, stage); err != nil {
		fmt.Println(err)
	}
	calls, _, _ := inj.Stats()
	fmt.Println(stage, calls, inj.Delayed() <= calls)
	// Output: rerank 1 true
}
