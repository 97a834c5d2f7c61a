package analysis_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stagescope/stagescope/collector/analysis"
	"github.com/stagescope/stagescope/engine/faultinject"
	"github.com/stagescope/stagescope/engine/llm"
	"github.com/stagescope/stagescope/engine/query"
	"github.com/stagescope/stagescope/engine/rerank"
	"github.com/stagescope/stagescope/spans"
)

// TestPoolAdviceCheckedAgainstTheRealEngine runs the engine's query batches
// (6 queries, each waiting 200 ms in its model call, so that waves of jobs
// show through the CPU work of a loaded machine) through the batch pool at
// 1, 2, 3 and 6 workers, takes the pool advice given at 2 workers, runs at
// the recommended count and checks that the batches got faster, as the
// advice said, and that the advice agrees with the measured sweep. Batch
// times are medians of several batches and only compared with each other:
// on a loaded machine every figure drifts, the waves do not.
func TestPoolAdviceCheckedAgainstTheRealEngine(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the engine for a few seconds")
	}
	p := goPipeline(t)
	questions := p.Corpus.Questions
	const batchSize, batches, start = 6, 3, 2
	run := func(t *testing.T, workers int) ([]analysis.Trace, time.Duration) {
		t.Helper()
		e, err := query.New(p.Index.Hybrid, rerank.NewLocalReranker(), llm.NewExtractive(), query.WithTopK(10), query.WithTopN(3),
			query.WithWorkers(workers), query.WithFaults(map[spans.Stage]*faultinject.Injector{spans.StageLLM: constant(200 * time.Millisecond)}))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Query(context.Background(), questions[0].Query); err != nil { // warm-up, unrecorded
			t.Fatal(err)
		}
		traces := record(t, func(ctx context.Context) {
			for b := range batches {
				var texts []string
				for _, q := range questions[b : b+batchSize] {
					texts = append(texts, q.Query)
				}
				if _, err := e.QueryBatch(ctx, texts); err != nil {
					t.Errorf("batch %d: %v", b, err)
				}
			}
		})
		// The batch time is the pool span's duration (the pool is not in a
		// trace of its own queries: each query is a trace of its own, and the
		// pool span a trace of its own too).
		var times []time.Duration
		for _, tr := range traces {
			for _, s := range tr.Spans {
				if s.Stage == spans.StagePool && s.Name != "" && hasAttr(s, spans.KeyPoolWorkers) && attrString(s, spans.KeyPoolName) == "query.batch" {
					times = append(times, s.Duration())
				}
			}
		}
		if len(times) != batches {
			t.Fatalf("%d batch pool spans at %d workers, want %d", len(times), workers, batches)
		}
		slices.Sort(times)
		return traces, times[len(times)/2]
	}
	poolOf := func(t *testing.T, r *analysis.Report, name string) analysis.PoolStats {
		t.Helper()
		for _, p := range r.Pools {
			// Advice never leaves what the data allows.
			if p.RecommendedWorkers > max(p.MaxJobsPerRun, p.Workers) {
				t.Errorf("pool %s: %d workers recommended for batches of at most %d: %s", p.Name, p.RecommendedWorkers, p.MaxJobsPerRun, p.Recommendation)
			}
			if p.Name == "hybrid" && p.RecommendedWorkers > 2 {
				t.Errorf("hybrid pool (2 retrievers) told to grow: %s", p.Recommendation)
			}
		}
		for _, p := range r.Pools {
			if p.Name == name {
				return p
			}
		}
		t.Fatalf("no pool %q in %+v", name, r.Pools)
		return analysis.PoolStats{}
	}

	measured := map[int]time.Duration{}
	var at2 []analysis.Trace
	for _, w := range []int{1, 2, 3, 6} {
		traces, med := run(t, w)
		measured[w] = med
		if w == start {
			at2 = traces
		}
	}
	t.Logf("measured median batch time by workers: %v", measured)

	rep := analysis.Analyze(at2)
	before := poolOf(t, rep, "query.batch")
	rec := before.RecommendedWorkers
	if before.Workers != start || before.MaxJobsPerRun != batchSize || rec <= start || rec > batchSize {
		t.Fatalf("advice at %d workers: %+v", start, before)
	}
	if !strings.Contains(before.Recommendation, "raise pool.workers from 2 (attribute pool.workers of the pool spans) to") {
		t.Fatalf("advice %q", before.Recommendation)
	}
	// The model's batch times rank the worker counts as the sweep does:
	// 6, 3 and 2 waves of jobs at 1, 2 and 3 workers, one at 6.
	for _, pair := range [][2]int{{3, 2}, {2, 1}, {6, 3}} {
		fast, slow := pair[0], pair[1]
		pf, _ := predictedAt(before.Model, fast)
		ps, _ := predictedAt(before.Model, slow)
		if pf >= ps || measured[fast] >= measured[slow] {
			t.Errorf("%d workers against %d: predicted %v vs %v, measured %v vs %v", fast, slow, pf, ps, measured[fast], measured[slow])
		}
	}

	// Run at the recommended count: the batches are faster, as promised,
	// and close to the best of the sweep; the advice there stays put.
	after, med := run(t, rec)
	if med >= measured[start] {
		t.Errorf("at the recommended %d workers batches take %v, at %d they took %v", rec, med, start, measured[start])
	}
	best := measured[1]
	for _, m := range measured {
		best = min(best, m)
	}
	if float64(med) > 1.5*float64(best) {
		t.Errorf("recommended %d workers: %v, the sweep's best %v (%v)", rec, med, best, measured)
	}
	again := poolOf(t, analysis.Analyze(after), "query.batch")
	if again.RecommendedWorkers != rec {
		t.Errorf("at the recommended %d workers the advice moves to %d: %s", rec, again.RecommendedWorkers, again.Recommendation)
	}
	t.Logf("advice at %d: %s", start, before.Recommendation)
	t.Logf("advice at %d: %s", rec, again.Recommendation)
}

func predictedAt(m []analysis.BatchPrediction, w int) (time.Duration, bool) {
	for _, p := range m {
		if p.Workers == w {
			return p.Time, true
		}
	}
	return 0, false
}

func hasAttr(s *spans.Span, key string) bool {
	_, ok := s.Attr(key)
	return ok
}

func attrString(s *spans.Span, key string) string {
	v, _ := s.Attr(key)
	return v.AsString()
}
