package analysis

import (
	"strings"
	"testing"
	"time"

	"github.com/stagescope/stagescope/spans"
)

// poolTrace runs 8 jobs of 10 ms each on 2 workers, all queued at 0. With
// waitInSpan the job spans start at enqueue; otherwise at pick-up.
func poolTrace(waitInSpan bool) Trace {
	b := newTrace()
	q := b.span(nil, "query", spans.StageQuery, 0, 40)
	p := b.span(q, "pool embed", spans.StagePool, 0, 40, spans.String(spans.KeyPoolName, "embed"),
		spans.Int(spans.KeyPoolWorkers, 2), spans.Int(spans.KeyPoolJobs, 8))
	for j := range 8 {
		wave := float64(j / 2)
		wait := msDur(10 * wave)
		start := 10 * wave
		if waitInSpan {
			start = 0
		}
		job := b.span(p, "job", spans.StagePool, start, 10*wave+10, spans.Int(spans.KeyPoolJob, j),
			spans.Int64(spans.KeyPoolQueueNanos, int64(wait)), spans.Int64(spans.KeyPoolRunNanos, int64(msDur(10))))
		b.span(job, "embed", spans.StageEmbed, 10*wave, 10*wave+10)
	}
	return b.trace()
}

func TestPoolSaturation(t *testing.T) {
	for _, inSpan := range []bool{false, true} {
		r := Analyze([]Trace{poolTrace(inSpan), poolTrace(inSpan)})
		if len(r.Pools) != 1 {
			t.Fatalf("pools = %+v", r.Pools)
		}
		p := r.Pools[0]
		if p.Name != "embed" || p.Runs != 2 || p.Jobs != 16 || p.Workers != 2 || p.MaxJobsPerRun != 8 {
			t.Fatalf("inSpan %v: pool counts = %+v", inSpan, p)
		}
		// Waits 0,0,10,10,20,20,30,30 → mean 15 ms; run 10 ms each.
		if p.QueueWait.Mean != msDur(15) || p.QueueWait.P95 != msDur(30) || p.RunTime.P50 != msDur(10) {
			t.Fatalf("inSpan %v: wait %+v run %+v", inSpan, p.QueueWait, p.RunTime)
		}
		// 120/(120+80) waiting; 80 ms of work on 2×40 ms capacity; 200 ms
		// in system over 40 ms → 5 jobs in the pool on average.
		if p.QueueShare != 0.6 || p.Utilisation != 1 || p.Busy != 2 || p.InSystem != 5 || !p.Saturated || p.CPUContention || p.IdleWaitShare != 0 {
			t.Fatalf("inSpan %v: pool figures = %+v", inSpan, p)
		}
		// The batch model: 8 jobs of 10 ms take ceil(8/w) waves.
		want := map[int]time.Duration{1: msDur(80), 2: msDur(40), 3: msDur(30), 4: msDur(20), 7: msDur(20), 8: msDur(10)}
		for w, d := range want {
			if got, _ := predicted(p.Model, w); got != d {
				t.Errorf("inSpan %v: model at %d workers %v, want %v", inSpan, w, got, d)
			}
		}
		if len(p.Model) != 8 || p.BatchTime != msDur(40) || p.RecommendedWorkers != 8 {
			t.Fatalf("inSpan %v: model %+v, batch time %v, recommended %d", inSpan, p.Model, p.BatchTime, p.RecommendedWorkers)
		}
		if !strings.Contains(p.Recommendation, "raise pool.workers from 2 (attribute pool.workers of the pool spans) to 8: its batches of up to 8 jobs would take 10ms instead of 40ms (measured now: 40ms)") {
			t.Fatalf("recommendation %q", p.Recommendation)
		}
		// Path: 30 ms of waiting charged to pool, the last job's 10 ms to embed.
		if c, _ := stageCP(r, spans.StagePool); c.MeanPerTrace != msDur(30) {
			t.Fatalf("inSpan %v: pool on path %v, want 30ms", inSpan, c.MeanPerTrace)
		}
		if c, _ := stageCP(r, spans.StageEmbed); c.MeanPerTrace != msDur(10) {
			t.Fatalf("inSpan %v: embed on path %v, want 10ms", inSpan, c.MeanPerTrace)
		}
		f := r.Findings[0]
		if f.Kind != "pool" || f.Subject != "embed" || f.Score != msDur(30) || f.Share != 0.75 || f.Recommendation != p.Recommendation {
			t.Fatalf("inSpan %v: first finding = %+v", inSpan, f)
		}
	}
}

func TestPoolIdleAndRightSized(t *testing.T) {
	b := newTrace()
	q := b.span(nil, "query", spans.StageQuery, 0, 100)
	p := b.span(q, "pool", spans.StagePool, 0, 100, spans.String(spans.KeyPoolName, "idle"), spans.Int(spans.KeyPoolWorkers, 16))
	for range 4 {
		b.span(p, "job", spans.StagePool, 0, 100, spans.Int64(spans.KeyPoolQueueNanos, 0), spans.Int64(spans.KeyPoolRunNanos, int64(msDur(100))))
	}
	r := Analyze([]Trace{b.trace()})
	s := r.Pools[0]
	// 4 busy of 16 → 25 % utilised; batches of 4 jobs take one wave from 4
	// workers up.
	if s.Saturated || s.Utilisation != 0.25 || s.RecommendedWorkers != 4 ||
		!strings.Contains(s.Recommendation, "could drop from 16 (attribute pool.workers of the pool spans) to 4: its batches of up to 4 jobs would still take 100ms") {
		t.Fatalf("idle pool = %+v", s)
	}
}

func TestPoolJobsAsTraceRoots(t *testing.T) {
	// Each request is a job of a pool whose span lives elsewhere: the job is
	// the trace root and waited 50 ms for a worker before it began.
	var traces []Trace
	for range 10 {
		b := newTrace()
		job := b.span(nil, "job", spans.StagePool, 0, 20, spans.String(spans.KeyPoolName, "queries"),
			spans.Int64(spans.KeyPoolQueueNanos, int64(msDur(50))), spans.Int64(spans.KeyPoolRunNanos, int64(msDur(20))))
		q := b.span(job, "query", spans.StageQuery, 0, 20)
		b.span(q, "llm", spans.StageLLM, 0, 20)
		traces = append(traces, b.trace())
	}
	r := Analyze(traces)
	f := r.Findings[0]
	if f.Kind != "pool" || f.Subject != "queries" || f.Score != msDur(50) {
		t.Fatalf("first finding = %+v", f)
	}
	p := r.Pools[0]
	// No pool span and no worker count: the advice is a factor, (50+20)/20.
	if p.Runs != 0 || p.RecommendedWorkers != 0 || !strings.Contains(p.Recommendation, "multiply pool.workers by 3.5") {
		t.Fatalf("pool = %+v", p)
	}
}

// gappyPoolTrace runs 4 jobs of 10 ms on 2 workers, all queued at 0: two
// start at once, the other two only at pick ms although both workers are
// free from 10 ms on.
func gappyPoolTrace(pick float64) Trace {
	b := newTrace()
	q := b.span(nil, "query", spans.StageQuery, 0, pick+10)
	p := b.span(q, "pool", spans.StagePool, 0, pick+10, spans.String(spans.KeyPoolName, "gappy"), spans.Int(spans.KeyPoolWorkers, 2))
	for j := range 4 {
		at := 0.0
		if j >= 2 {
			at = pick
		}
		b.span(p, "job", spans.StagePool, at, at+10, spans.Int(spans.KeyPoolJob, j),
			spans.Int64(spans.KeyPoolQueueNanos, int64(msDur(at))), spans.Int64(spans.KeyPoolRunNanos, int64(msDur(10))))
	}
	return b.trace()
}

func TestPoolQueueWaitWithFreeWorkersIsCPUContention(t *testing.T) {
	// Picked at 14 ms: 2 × 14 ms of wait, of which 2 × 4 ms (10–14) with
	// both workers free. Mostly a lack of workers: 2 waves → 1 at 4.
	p := Analyze([]Trace{gappyPoolTrace(14)}).Pools[0]
	if p.IdleWaitShare != 0.2857 || p.CPUContention || p.RecommendedWorkers != 4 {
		t.Fatalf("picked at 14 ms: %+v", p)
	}
	// Picked at 30 ms: 20 of each 30 ms waited beside free workers.
	p = Analyze([]Trace{gappyPoolTrace(30)}).Pools[0]
	if p.IdleWaitShare != 0.6667 || !p.CPUContention || p.RecommendedWorkers != 2 ||
		!strings.Contains(p.Recommendation, "yet 67% of the wait passed while a worker was free: this is CPU contention") ||
		!strings.Contains(p.Recommendation, "keep pool.workers at 2 (attribute pool.workers of the pool spans)") {
		t.Fatalf("picked at 30 ms: %+v", p)
	}

	// A pool that never gets more jobs than workers: any wait is the CPU.
	b := newTrace()
	q := b.span(nil, "query", spans.StageQuery, 0, 20)
	pl := b.span(q, "pool", spans.StagePool, 0, 20, spans.String(spans.KeyPoolName, "hybrid"), spans.Int(spans.KeyPoolWorkers, 2), spans.Int(spans.KeyPoolJobs, 2))
	for j := range 2 {
		b.span(pl, "job", spans.StagePool, 8, 20, spans.Int(spans.KeyPoolJob, j),
			spans.Int64(spans.KeyPoolQueueNanos, int64(msDur(8))), spans.Int64(spans.KeyPoolRunNanos, int64(msDur(12))))
	}
	p = Analyze([]Trace{b.trace()}).Pools[0]
	if !p.Saturated || !p.CPUContention || p.RecommendedWorkers != 2 || p.IdleWaitShare != 1 ||
		!strings.Contains(p.Recommendation, "the pool never had more than 2 jobs at once for its 2 workers: this is CPU contention") {
		t.Fatalf("hybrid pool: %+v", p)
	}
}
