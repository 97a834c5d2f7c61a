package pool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/engine/faultinject"
	"github.com/stagescope/stagescope/spans"
)

// Job is one unit of work. Its ctx carries the job's span as parent and is
// cancelled when the run fails fast or the caller's context ends.
type Job[T any] func(ctx context.Context) (T, error)

// run is the state of one RunJobs call shared by its workers.
type run[T any] struct {
	c       *config
	d       *dispatcher.Dispatcher
	jobs    []Job[T]
	results []T
	ctx     context.Context
	cancel  context.CancelFunc
	traced  bool // a span handler listens
	events  bool // an event handler listens
	jobName string
	workers int
	bar     *progressbar.ProgressBar

	inFlight atomic.Int64
	done     atomic.Int64
	failed   atomic.Int64

	mu       sync.Mutex
	firstErr *JobError
	errs     []JobError
}

// RunJobs runs jobs on at most WithWorkers workers and returns their results
// in input order. In the default fail-fast mode the first failure cancels
// the others and is returned as "pool <name>: job <i>: <error>" (results of
// jobs that did not finish are zero); with WithCollectErrors every job runs
// and the failures come back as a *JobErrors next to the results of the jobs
// that succeeded. A panicking job fails with a *PanicError. When ctx ends,
// no further job starts and the context's error is returned.
func RunJobs[T any](ctx context.Context, jobs []Job[T], opts ...Option) (_ []T, err error) {
	c := newConfig(opts)
	n := len(jobs)
	r := &run[T]{c: &c, d: c.d, jobs: jobs, results: make([]T, n), jobName: c.name + ".job", workers: min(c.workers, max(n, 1))}
	pctx, span := c.d.Start(ctx, c.name, spans.StagePool,
		spans.String(spans.KeyPoolName, c.name), spans.Int(spans.KeyPoolWorkers, r.workers), spans.Int(spans.KeyPoolJobs, n))
	defer func() {
		span.SetAttributes(spans.Int("pool.done", int(r.done.Load())), spans.Int("pool.failed", int(r.failed.Load())))
		span.Done(&err)
	}()
	r.traced = span != nil
	r.events = c.d.EventsEnabled()
	r.ctx, r.cancel = context.WithCancel(pctx)
	defer r.cancel()
	r.bar = newBar(&c, n)

	chunk := c.chunkSize
	if chunk <= 0 || chunk > n {
		chunk = n
	}
	for lo := 0; lo < n && r.ctx.Err() == nil; lo += chunk {
		r.runChunk(lo, min(n, lo+chunk))
	}
	if r.bar != nil {
		_ = r.bar.Finish()
	}
	return r.results, r.outcome(ctx, n)
}

func (r *run[T]) outcome(parent context.Context, n int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.c.collect && r.firstErr != nil {
		return fmt.Errorf("pool %s: %w", r.c.name, *r.firstErr)
	}
	var errs error
	if len(r.errs) > 0 {
		slices.SortFunc(r.errs, func(a, b JobError) int { return a.Index - b.Index })
		errs = &JobErrors{Pool: r.c.name, Total: n, Errors: r.errs}
	}
	if cerr := parent.Err(); cerr != nil {
		cerr = fmt.Errorf("pool %s: stopped after %d of %d jobs: %w", r.c.name, r.done.Load(), n, cerr)
		return errors.Join(cerr, errs)
	}
	return errs
}

func (r *run[T]) runChunk(lo, hi int) {
	var queued time.Time
	if r.traced || r.events {
		queued = time.Now()
	}
	if r.events {
		inFlight := int(r.inFlight.Load())
		for i := lo; i < hi; i++ {
			r.d.Emit(r.ctx, &event.JobQueued{Header: event.Header{Time: queued}, Pool: r.c.name, Job: i, Workers: r.workers, InFlight: inFlight})
		}
	}
	var next atomic.Int64
	next.Store(int64(lo))
	work := func() {
		for r.ctx.Err() == nil {
			i := int(next.Add(1) - 1)
			if i >= hi {
				return
			}
			r.runJob(i, queued)
		}
	}
	w := min(r.workers, hi-lo)
	var wg sync.WaitGroup
	wg.Add(w - 1)
	for range w - 1 {
		go func() {
			defer wg.Done()
			work()
		}()
	}
	work() // the calling goroutine is the last worker
	wg.Wait()
}

func (r *run[T]) runJob(i int, queued time.Time) {
	timed := r.traced || r.events
	ctx, span := r.ctx, (*dispatcher.Span)(nil)
	if r.traced {
		ctx, span = r.d.Start(r.ctx, r.jobName, spans.StagePool, spans.String(spans.KeyPoolName, r.c.name), spans.Int(spans.KeyPoolJob, i))
	}
	// Timed after the span started, so run time ≤ the span's duration.
	var started time.Time
	var wait time.Duration
	if timed {
		started = time.Now()
		wait = started.Sub(queued)
	}
	inFlight := r.inFlight.Add(1)
	if r.events {
		r.d.Emit(ctx, &event.JobStarted{Header: event.Header{Time: started}, Pool: r.c.name, Job: i, Workers: r.workers, InFlight: int(inFlight), QueueWait: wait})
	}
	// A fault planted in the pool holds the worker, as a slow job would.
	ctx, err := faultinject.Inject(ctx, spans.StagePool)
	var v T
	if err == nil {
		v, err = call(ctx, r.jobs[i])
	}
	r.inFlight.Add(-1)
	var runTime time.Duration
	if timed {
		runTime = time.Since(started)
	}
	if span != nil {
		span.SetAttributes(spans.Int64(spans.KeyPoolQueueNanos, int64(wait)), spans.Int64(spans.KeyPoolRunNanos, int64(runTime)))
		span.Done(&err)
	}
	if err == nil {
		r.results[i] = v
	} else {
		r.fail(i, err)
	}
	done := r.done.Add(1)
	if r.events {
		var errText string
		if err != nil {
			errText = err.Error()
		}
		r.d.Emit(ctx, &event.JobFinished{Pool: r.c.name, Job: i, QueueWait: wait, RunTime: runTime, Err: errText})
		if total := int64(len(r.jobs)); done == total || done%max(1, total/progressSteps) == 0 {
			r.d.Emit(r.ctx, &event.PoolProgress{Pool: r.c.name, Done: int(done), Failed: int(r.failed.Load()), Total: int(total)})
		}
	}
	if r.bar != nil {
		_ = r.bar.Add(1)
	}
}

func (r *run[T]) fail(i int, err error) {
	r.failed.Add(1)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.c.collect {
		r.errs = append(r.errs, JobError{Index: i, Err: err})
		return
	}
	// Jobs that fail because an earlier failure cancelled them do not
	// replace the error that caused it.
	if r.firstErr == nil && (r.ctx.Err() == nil || !isContextErr(err)) {
		r.firstErr = &JobError{Index: i, Err: err}
		r.cancel()
	}
}

func call[T any](ctx context.Context, job Job[T]) (v T, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &PanicError{Value: p, Stack: string(debug.Stack())}
		}
	}()
	return job(ctx)
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// progressSteps bounds the PoolProgress events of a run: one per job for
// small runs, about one per percent for large ones, and always the last.
const progressSteps = 100

// progressThrottle limits how often the bar redraws.
const progressThrottle = 100 * time.Millisecond

func newBar(c *config, n int) *progressbar.ProgressBar {
	f, ok := c.progress.(*os.File)
	if !ok || n == 0 || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return progressbar.NewOptions(n,
		progressbar.OptionSetWriter(f),
		progressbar.OptionSetDescription(c.name),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionThrottle(progressThrottle),
		progressbar.OptionClearOnFinish(),
	)
}
