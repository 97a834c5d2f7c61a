package analysis_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stagescope/stagescope/collector/analysis"
	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/engine/corpus"
	"github.com/stagescope/stagescope/engine/faultinject"
	"github.com/stagescope/stagescope/engine/llm"
	"github.com/stagescope/stagescope/engine/query"
	"github.com/stagescope/stagescope/engine/rerank"
	"github.com/stagescope/stagescope/engine/retry"
	"github.com/stagescope/stagescope/spans"
)

// The planted-bottleneck test runs the real engine — the query pipeline over
// the Go standard library corpus with the extractive local LLM — with a
// known bottleneck injected, records every span through the dispatcher, and
// requires the bottleneck report to name that stage first.

var (
	plantedOnce  sync.Once
	plantedIndex *query.GoPipeline
	plantedErr   error
)

func goPipeline(t *testing.T) *query.GoPipeline {
	t.Helper()
	plantedOnce.Do(func() {
		plantedIndex, plantedErr = query.NewGoPipeline(context.Background(), corpus.GOROOT(), llm.NewExtractive(),
			[]corpus.Option{corpus.WithPackages("strings", "bytes", "io", "sort", "sync"), corpus.WithQuestions(40)}, nil)
	})
	if plantedErr != nil {
		t.Fatal(plantedErr)
	}
	return plantedIndex
}

func constant(d time.Duration) *faultinject.Injector {
	return faultinject.New(faultinject.WithLatency(faultinject.Constant(d)), faultinject.WithSeed(1))
}

// record runs fn with a recorder on the root dispatcher and returns the
// spans grouped into traces.
func record(t *testing.T, fn func(ctx context.Context)) []analysis.Trace {
	t.Helper()
	rec := dispatcher.NewRecorder(200_000)
	remove := dispatcher.Root().AddSpanHandler(rec)
	fn(context.Background())
	remove()
	if rec.Overwritten() > 0 {
		t.Fatalf("recorder overflowed by %d spans", rec.Overwritten())
	}
	byTrace := map[spans.TraceID][]*spans.Span{}
	var order []spans.TraceID
	for _, s := range rec.Spans() {
		if _, ok := byTrace[s.TraceID]; !ok {
			order = append(order, s.TraceID)
		}
		byTrace[s.TraceID] = append(byTrace[s.TraceID], s)
	}
	out := make([]analysis.Trace, 0, len(order))
	for _, id := range order {
		out = append(out, analysis.Trace{Spans: byTrace[id]})
	}
	return out
}

func TestPlantedBottleneckInTheRealEngineIsNamedFirst(t *testing.T) {
	p := goPipeline(t)
	questions := p.Corpus.Questions
	if len(questions) < 16 {
		t.Fatalf("only %d questions in the corpus", len(questions))
	}
	const perCase = 12
	ask := func(e *query.Engine) func(ctx context.Context) {
		// One unrecorded warm-up query, so that first-use costs (encoder
		// caches, lazily built tables) are not mistaken for the bottleneck.
		if _, err := e.Query(context.Background(), questions[perCase].Query); err != nil {
			t.Fatalf("warm-up query: %v", err)
		}
		return func(ctx context.Context) {
			for _, q := range questions[:perCase] {
				if _, err := e.Query(ctx, q.Query); err != nil {
					t.Errorf("query %q: %v", q.Query, err)
				}
			}
		}
	}
	newEngine := func(opts ...query.Option) *query.Engine {
		base := []query.Option{query.WithTopK(10), query.WithTopN(3)}
		e, err := query.New(p.Index.Hybrid, rerank.NewLocalReranker(), llm.NewExtractive(), append(base, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	// Large enough to stand out of the noise of a loaded 2-core machine under
	// the race detector, small enough to keep the test at a few seconds.
	const planted = 150 * time.Millisecond

	cases := []struct {
		name  string
		want  spans.Stage
		kind  string
		run   func(ctx context.Context)
		check func(t *testing.T, f analysis.Finding)
	}{
		{name: "retrieve", want: spans.StageRetrieve, kind: "latency",
			run: ask(newEngine(query.WithFaults(map[spans.Stage]*faultinject.Injector{spans.StageRetrieve: constant(planted)})))},
		{name: "rerank", want: spans.StageRerank, kind: "latency",
			run: ask(newEngine(query.WithFaults(map[spans.Stage]*faultinject.Injector{spans.StageRerank: constant(planted)})))},
		{name: "synth", want: spans.StageSynth, kind: "latency",
			run: ask(newEngine(query.WithFaults(map[spans.Stage]*faultinject.Injector{spans.StageSynth: constant(planted)})))},
		{name: "llm", want: spans.StageLLM, kind: "latency",
			run: ask(newEngine(query.WithFaults(map[spans.Stage]*faultinject.Injector{spans.StageLLM: constant(planted)})))},
		{name: "retry storm", want: spans.StageRetry, kind: "retry",
			run: ask(newEngine(
				query.WithFaults(map[spans.Stage]*faultinject.Injector{spans.StageLLM: faultinject.New(faultinject.WithErrorRate(0.7), faultinject.WithSeed(7))}),
				query.WithRetryOptions(retry.WithMaxTries(8), retry.WithMinBackoff(15*time.Millisecond), retry.WithMaxBackoff(60*time.Millisecond), retry.WithSeed(3)),
			))},
		{name: "pool saturation", want: spans.StagePool, kind: "pool",
			run: func(ctx context.Context) {
				// Batches of 8 queries through a one-worker pool: every
				// query waits for the ones before it.
				e := newEngine(query.WithWorkers(1), query.WithFaults(map[spans.Stage]*faultinject.Injector{spans.StageLLM: constant(2 * time.Millisecond)}))
				for b := 0; b < 4; b++ {
					var texts []string
					for _, q := range questions[b*4 : b*4+8] {
						texts = append(texts, q.Query)
					}
					if _, err := e.QueryBatch(ctx, texts); err != nil {
						t.Errorf("batch %d: %v", b, err)
					}
				}
			},
			check: func(t *testing.T, f analysis.Finding) {
				if f.Subject == "" {
					t.Errorf("pool finding names no pool: %+v", f)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			traces := record(t, tc.run)
			// The planted fault is in every trace, so the slower half is the
			// cohort: on a loaded machine under the race detector a single
			// scheduling stall can otherwise own the top 5% on its own.
			rep := analysis.Analyze(traces, analysis.WithSlowQuantile(0.5))
			if len(rep.Findings) == 0 {
				t.Fatal("no findings")
			}
			first := rep.Findings[0]
			if first.Stage != tc.want || first.Kind != tc.kind {
				var got []string
				for _, f := range rep.Findings {
					got = append(got, fmt.Sprintf("%s/%s %.1fms", f.Kind, f.Stage, f.ScoreMs))
				}
				t.Fatalf("first finding is %s/%s, want %s/%s; all: %v", first.Kind, first.Stage, tc.kind, tc.want, got)
			}
			if first.Recommendation == "" || len(first.Exemplars) == 0 {
				t.Errorf("first finding lacks a recommendation or exemplars: %+v", first)
			}
			if tc.check != nil {
				tc.check(t, first)
			}
			t.Logf("%d traces; first finding: %s — %s", len(traces), first.Title, first.Recommendation)
		})
	}
}
