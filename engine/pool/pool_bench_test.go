package pool

import (
	"context"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/spans"
)

const (
	benchJobs    = 1000
	benchWorkers = 4
)

func trivialJobs() []Job[int] {
	jobs := make([]Job[int], benchJobs)
	for i := range jobs {
		jobs[i] = func(context.Context) (int, error) { return i + 1, nil }
	}
	return jobs
}

// BenchmarkPoolVsErrgroup runs the same trivial jobs, with the same worker
// count and results kept in input order, through errgroup with SetLimit and
// through RunJobs, with no handler and with a recorder attached. ns/job is
// the overhead per job.
func BenchmarkPoolVsErrgroup(b *testing.B) {
	jobs := trivialJobs()
	ctx := context.Background()
	perJob := func(b *testing.B) {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchJobs), "ns/job")
	}
	b.Run("errgroup", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			results := make([]int, len(jobs))
			g, gctx := errgroup.WithContext(ctx)
			g.SetLimit(benchWorkers)
			for i, job := range jobs {
				g.Go(func() error {
					v, err := job(gctx)
					results[i] = v
					return err
				})
			}
			if err := g.Wait(); err != nil {
				b.Fatal(err)
			}
		}
		perJob(b)
	})
	quiet := dispatcher.Get("bench.pool.quiet")
	quiet.SetPropagate(false)
	b.Run("pool", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := RunJobs(ctx, jobs, WithWorkers(benchWorkers), WithDispatcher(quiet)); err != nil {
				b.Fatal(err)
			}
		}
		perJob(b)
	})
	traced := dispatcher.Get("bench.pool.recorded")
	traced.SetPropagate(false)
	rec := dispatcher.NewRecorder(0)
	b.Run("pool_recorder", func(b *testing.B) {
		defer traced.AddSpanHandler(rec)()
		defer traced.AddEventHandler(rec)()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := RunJobs(ctx, jobs, WithWorkers(benchWorkers), WithDispatcher(traced)); err != nil {
				b.Fatal(err)
			}
		}
		perJob(b)
	})
	// The fair comparison for a traced run: errgroup with one span per job
	// through the same dispatcher and recorder.
	b.Run("errgroup_recorder_spans_only", func(b *testing.B) {
		defer traced.AddSpanHandler(rec)()
		b.ReportAllocs()
		for b.Loop() {
			results := make([]int, len(jobs))
			pctx, ps := traced.Start(ctx, "errgroup", spans.StagePool)
			g, gctx := errgroup.WithContext(pctx)
			g.SetLimit(benchWorkers)
			for i, job := range jobs {
				g.Go(func() error {
					jctx, js := traced.Start(gctx, "errgroup.job", spans.StagePool, spans.Int(spans.KeyPoolJob, i))
					v, err := job(jctx)
					results[i] = v
					js.EndErr(err)
					return err
				})
			}
			err := g.Wait()
			ps.EndErr(err)
			if err != nil {
				b.Fatal(err)
			}
		}
		perJob(b)
	})
	b.Run("pool_recorder_spans_only", func(b *testing.B) {
		defer traced.AddSpanHandler(rec)()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := RunJobs(ctx, jobs, WithWorkers(benchWorkers), WithDispatcher(traced)); err != nil {
				b.Fatal(err)
			}
		}
		perJob(b)
	})
}
