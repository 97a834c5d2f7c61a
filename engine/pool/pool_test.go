package pool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/dispatcher/dispatchertest"
	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/spans"
)

func recorded(t *testing.T) (*dispatcher.Dispatcher, *dispatcher.Recorder) {
	return dispatchertest.Isolated(t, "test.pool")
}

func squares(n int) []Job[int] {
	jobs := make([]Job[int], n)
	for i := range jobs {
		jobs[i] = func(context.Context) (int, error) {
			for range i % 7 {
				// uneven work so that jobs finish out of order
				time.Sleep(0)
			}
			return i * i, nil
		}
	}
	return jobs
}

func TestOrderPreserved(t *testing.T) {
	for _, traced := range []bool{false, true} {
		var opts []Option
		if traced {
			d, _ := recorded(t)
			opts = append(opts, WithDispatcher(d))
		}
		got, err := RunJobs(context.Background(), squares(200), append(opts, WithWorkers(8))...)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 200 {
			t.Fatalf("len = %d", len(got))
		}
		for i, v := range got {
			if v != i*i {
				t.Fatalf("traced=%v: result %d = %d, want %d", traced, i, v, i*i)
			}
		}
	}
	got, err := RunJobs[int](context.Background(), nil)
	if err != nil || len(got) != 0 {
		t.Errorf("empty run = %v, %v", got, err)
	}
}

// gate makes the first `workers` jobs wait until that many are in flight, so
// the pool must reach its full concurrency, and then records the maximum.
type gate struct {
	workers  int64
	inFlight atomic.Int64
	max      atomic.Int64
	release  chan struct{}
	once     sync.Once
}

func (g *gate) job(ctx context.Context) (int, error) {
	n := g.inFlight.Add(1)
	defer g.inFlight.Add(-1)
	for {
		m := g.max.Load()
		if n <= m || g.max.CompareAndSwap(m, n) {
			break
		}
	}
	if n >= g.workers {
		g.once.Do(func() { close(g.release) })
	}
	select {
	case <-g.release:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	return int(n), nil
}

func TestBoundedConcurrency(t *testing.T) {
	for _, workers := range []int{1, 3, 8} {
		g := &gate{workers: int64(workers), release: make(chan struct{})}
		jobs := make([]Job[int], 50)
		for i := range jobs {
			jobs[i] = g.job
		}
		if _, err := RunJobs(context.Background(), jobs, WithWorkers(workers)); err != nil {
			t.Fatal(err)
		}
		if got := g.max.Load(); got != int64(workers) {
			t.Errorf("workers=%d: max in flight = %d", workers, got)
		}
	}
}

var errBoom = errors.New("boom")

func TestFailFastCancelsTheRest(t *testing.T) {
	var started atomic.Int64
	var sawCancel atomic.Bool
	jobs := make([]Job[int], 20)
	for i := range jobs {
		jobs[i] = func(ctx context.Context) (int, error) {
			started.Add(1)
			if i == 0 {
				return 0, errBoom
			}
			<-ctx.Done() // only cancellation ends the others
			sawCancel.Store(true)
			return 0, ctx.Err()
		}
	}
	_, err := RunJobs(context.Background(), jobs, WithWorkers(2), WithName("ff"))
	if !errors.Is(err, errBoom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if !strings.Contains(err.Error(), "pool ff: job 0: boom") {
		t.Errorf("error text %q", err)
	}
	var je JobError
	if !errors.As(err, &je) || je.Index != 0 {
		t.Errorf("JobError = %+v", je)
	}
	if s := started.Load(); s > 2 {
		t.Errorf("%d jobs started after the failure, want at most 2", s)
	}
	if started.Load() == 2 && !sawCancel.Load() {
		t.Error("the running job was not cancelled")
	}
}

func TestCollectAll(t *testing.T) {
	jobs := make([]Job[string], 10)
	for i := range jobs {
		jobs[i] = func(context.Context) (string, error) {
			if i%2 == 1 {
				return "", fmt.Errorf("odd %d: %w", i, errBoom)
			}
			return fmt.Sprint("ok", i), nil
		}
	}
	got, err := RunJobs(context.Background(), jobs, WithWorkers(3), WithCollectErrors(), WithName("all"))
	var je *JobErrors
	if !errors.As(err, &je) {
		t.Fatalf("err = %v, want *JobErrors", err)
	}
	if len(je.Errors) != 5 || je.Total != 10 {
		t.Fatalf("JobErrors = %+v", je)
	}
	for k, e := range je.Errors {
		if e.Index != 2*k+1 {
			t.Errorf("error %d has index %d", k, e.Index)
		}
	}
	if !errors.Is(err, errBoom) || je.ByIndex(3) == nil || je.ByIndex(4) != nil {
		t.Error("errors.Is / ByIndex do not see the job errors")
	}
	if !strings.HasPrefix(err.Error(), "pool all: 5 of 10 jobs failed; job 1: odd 1: boom") || !strings.Contains(err.Error(), "job 9") {
		t.Errorf("error text %q", err)
	}
	for i, v := range got {
		want := ""
		if i%2 == 0 {
			want = fmt.Sprint("ok", i)
		}
		if v != want {
			t.Errorf("result %d = %q, want %q", i, v, want)
		}
	}
}

func TestChunksRunOneAfterAnother(t *testing.T) {
	const n, chunk = 23, 5
	var mu sync.Mutex
	var log []string // "s<i>" / "f<i>" in order
	var inFlight, maxInFlight atomic.Int64
	jobs := make([]Job[int], n)
	for i := range jobs {
		jobs[i] = func(context.Context) (int, error) {
			f := inFlight.Add(1)
			for {
				m := maxInFlight.Load()
				if f <= m || maxInFlight.CompareAndSwap(m, f) {
					break
				}
			}
			mu.Lock()
			log = append(log, fmt.Sprint("s", i))
			mu.Unlock()
			time.Sleep(0)
			mu.Lock()
			log = append(log, fmt.Sprint("f", i))
			mu.Unlock()
			inFlight.Add(-1)
			return i, nil
		}
	}
	got, err := RunJobs(context.Background(), jobs, WithWorkers(8), WithChunkSize(chunk))
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range got {
		if v != i {
			t.Fatalf("result %d = %d", i, v)
		}
	}
	if maxInFlight.Load() > chunk {
		t.Errorf("max in flight %d exceeds the chunk size %d", maxInFlight.Load(), chunk)
	}
	finished := map[int]int{} // chunk → finished jobs
	for _, e := range log {
		var i int
		fmt.Sscan(e[1:], &i)
		c := i / chunk
		if e[0] == 's' {
			for prev := 0; prev < c; prev++ {
				want := min(chunk, n-prev*chunk)
				if finished[prev] != want {
					t.Fatalf("job %d of chunk %d started before chunk %d finished (%d/%d)", i, c, prev, finished[prev], want)
				}
			}
		} else {
			finished[c]++
		}
	}
}

func TestCallerCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var started atomic.Int64
	jobs := make([]Job[int], 30)
	for i := range jobs {
		jobs[i] = func(jctx context.Context) (int, error) {
			started.Add(1)
			if i == 1 {
				cancel()
			}
			<-jctx.Done()
			return 0, jctx.Err()
		}
	}
	for _, collect := range []bool{false, true} {
		started.Store(0)
		opts := []Option{WithWorkers(3)}
		if collect {
			opts = append(opts, WithCollectErrors())
		}
		_, err := RunJobs(ctx, jobs, opts...)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("collect=%v: err = %v, want context.Canceled", collect, err)
		}
		if s := started.Load(); s > 3 {
			t.Errorf("collect=%v: %d jobs started, want at most 3", collect, s)
		}
	}
}

func TestPanicBecomesError(t *testing.T) {
	jobs := []Job[int]{
		func(context.Context) (int, error) { return 1, nil },
		func(context.Context) (int, error) { panic("kaput") },
	}
	_, err := RunJobs(context.Background(), jobs, WithWorkers(1))
	var pe *PanicError
	if !errors.As(err, &pe) || pe.Value != "kaput" || !strings.Contains(pe.Stack, "pool") {
		t.Fatalf("err = %v", err)
	}
}

func TestSpanTreeAndTimings(t *testing.T) {
	d, rec := recorded(t)
	inner := dispatcher.Get(dispatchertest.UniqueName("test.pool.inner"))
	t.Cleanup(inner.AddSpanHandler(rec))
	const n, workers = 6, 2
	const work = 2 * time.Millisecond
	ctx, caller := d.Start(context.Background(), "caller", spans.StageQuery)
	jobs := make([]Job[int], n)
	for i := range jobs {
		jobs[i] = func(ctx context.Context) (int, error) {
			_, s := inner.Start(ctx, "inner", spans.StageOther, spans.Int("i", i))
			time.Sleep(work) // blocking work: later jobs must queue
			s.End()
			return i, nil
		}
	}
	if _, err := RunJobs(ctx, jobs, WithDispatcher(d), WithWorkers(workers), WithName("embed")); err != nil {
		t.Fatal(err)
	}
	caller.End()

	var poolSpan *spans.Span
	jobSpans := map[int64]*spans.Span{}
	innerSpans := map[int64]*spans.Span{}
	for _, s := range rec.Spans() {
		switch s.Name {
		case "embed":
			poolSpan = s
		case "embed.job":
			v, _ := s.Attr(spans.KeyPoolJob)
			jobSpans[v.AsInt64()] = s
		case "inner":
			v, _ := s.Attr("i")
			innerSpans[v.AsInt64()] = s
		}
	}
	if poolSpan == nil || poolSpan.ParentID != caller.Record().SpanID || poolSpan.Stage != spans.StagePool {
		t.Fatalf("pool span = %+v", poolSpan)
	}
	for k, want := range map[string]int64{spans.KeyPoolWorkers: workers, spans.KeyPoolJobs: n, "pool.done": n, "pool.failed": 0} {
		if v, _ := poolSpan.Attr(k); v.AsInt64() != want {
			t.Errorf("pool span %s = %d, want %d", k, v.AsInt64(), want)
		}
	}
	if len(jobSpans) != n || len(innerSpans) != n {
		t.Fatalf("job spans %d, inner spans %d, want %d each", len(jobSpans), len(innerSpans), n)
	}
	var waits []time.Duration
	for i := int64(0); i < n; i++ {
		j := jobSpans[i]
		if j.ParentID != poolSpan.SpanID || j.TraceID != poolSpan.TraceID {
			t.Errorf("job %d is not a child of the pool span", i)
		}
		if innerSpans[i].ParentID != j.SpanID {
			t.Errorf("inner span of job %d is not a child of its job span", i)
		}
		qv, okq := j.Attr(spans.KeyPoolQueueNanos)
		rv, okr := j.Attr(spans.KeyPoolRunNanos)
		if !okq || !okr {
			t.Fatalf("job %d lacks queue wait or run time", i)
		}
		wait, runTime := time.Duration(qv.AsInt64()), time.Duration(rv.AsInt64())
		waits = append(waits, wait)
		if runTime < work {
			t.Errorf("job %d run time %v < its %v of work", i, runTime, work)
		}
		if runTime > j.Duration() {
			t.Errorf("job %d run time %v exceeds its span's duration %v", i, runTime, j.Duration())
		}
		if i >= workers && wait <= 0 {
			t.Errorf("job %d queue wait = %v, want > 0", i, wait)
		}
	}
	// The last job can start only when two rounds of work have finished on
	// two workers.
	if last := waits[n-1]; last < 2*work {
		t.Errorf("last job waited %v, want ≥ %v", last, 2*work)
	}

	counts := map[string]int{}
	var lastProgress *event.PoolProgress
	for _, e := range rec.Events() {
		counts[e.Name()]++
		if p, ok := e.(*event.PoolProgress); ok {
			lastProgress = p
		}
		if js, ok := e.(*event.JobStarted); ok && js.InFlight > workers {
			t.Errorf("JobStarted in_flight %d > workers", js.InFlight)
		}
	}
	for _, name := range []string{"pool.job_queued", "pool.job_started", "pool.job_finished", "pool.progress"} {
		if counts[name] != n {
			t.Errorf("%s events = %d, want %d", name, counts[name], n)
		}
	}
	if lastProgress == nil || lastProgress.Total != n {
		t.Errorf("progress = %+v", lastProgress)
	}
}

func TestProgressOnlyOnTerminals(t *testing.T) {
	var buf bytes.Buffer
	if _, err := RunJobs(context.Background(), squares(10), WithProgress(&buf)); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 0 {
		t.Errorf("progress written to a non-terminal: %q", buf.String())
	}
}

func TestProgressEventsAreBounded(t *testing.T) {
	d, rec := recorded(t)
	if _, err := RunJobs(context.Background(), squares(1000), WithDispatcher(d)); err != nil {
		t.Fatal(err)
	}
	var progress []*event.PoolProgress
	for _, e := range rec.Events() {
		if p, ok := e.(*event.PoolProgress); ok {
			progress = append(progress, p)
		}
	}
	if len(progress) < 100 || len(progress) > 101 {
		t.Errorf("progress events = %d, want 100 or 101 for 1000 jobs", len(progress))
	}
	// Workers emit concurrently, so the final event need not arrive last.
	last := progress[0]
	for _, p := range progress {
		if p.Done > last.Done {
			last = p
		}
	}
	if last.Done != 1000 || last.Total != 1000 || last.Failed != 0 {
		t.Errorf("last progress = %+v", last)
	}
}
