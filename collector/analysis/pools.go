package analysis

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/stagescope/stagescope/spans"
)

// Pool thresholds.
const (
	// saturatedQueueShare: jobs waiting at least this share of their time in
	// system mean the pool is too small.
	saturatedQueueShare = 0.2
	// targetUtilisation is what a right-sized pool runs at; pools well below
	// it are told to shrink.
	targetUtilisation = 0.7
	// idleUtilisation: below it, with little queueing, a pool is oversized.
	idleUtilisation = 0.3
	// contentionShare: when at least this share of the queue wait passed
	// while a worker was free, the wait is the CPU (the scheduler starting
	// the worker), not a lack of workers.
	contentionShare = 0.5
	// makespanGain is the least relative drop of the predicted batch time
	// worth a change of pool.workers.
	makespanGain = 0.1
	// maxModelRuns and maxModelWorkers bound the batch-time model's work:
	// the first runs are kept, and worker counts beyond the bound are not
	// tried.
	maxModelRuns    = 2000
	maxModelWorkers = 256
)

// poolAcc gathers one pool. Counts are of the analysed spans; sums, means,
// shares and percentiles are weighted by the trace weights (WithSample),
// so a sample that holds every slow trace does not overstate the wait.
type poolAcc struct {
	runs, jobs, workers, maxJobs int
	waits, runTimes              []int64
	jobW                         []float64 // each job's trace weight
	sumWait, sumRun              float64
	// over runs with a pool span: their weight, wall time, workers × wall,
	// and the jobs' run and in-system time
	runsW, wall, capacity, runInRuns, sysInRuns float64
	// waitInRuns is the queue wait of jobs in runs whose workers are known,
	// idleWait the part of it that passed while fewer jobs ran than there
	// were workers.
	waitInRuns, idleWait float64
	// batches are the run times of the first maxModelRuns runs' jobs in
	// the order they were picked up, for the batch-time model; batchW
	// their trace weights.
	batches [][]int64
	batchW  []float64
}

// jobTiming is a job of one pool run: queued, picked up by a worker, done
// (nanoseconds from the trace's start).
type jobTiming struct{ queued, picked, done int64 }

// isJob reports whether s is a pool job span.
func isJob(s *spans.Span) bool {
	_, w := s.Attr(spans.KeyPoolQueueNanos)
	_, r := s.Attr(spans.KeyPoolRunNanos)
	return w || r
}

func (a *accumulator) pool(name string) *poolAcc {
	p := a.pools[name]
	if p == nil {
		p = &poolAcc{}
		a.pools[name] = p
	}
	return p
}

func poolName(s *spans.Span) string {
	if v, ok := s.Attr(spans.KeyPoolName); ok && v.AsString() != "" {
		return v.AsString()
	}
	return s.Name
}

// jobTimes returns a job's queue wait and run time.
func jobTimes(n *node) (wait, run int64) {
	wait = max(intAttr(n.span, spans.KeyPoolQueueNanos), 0)
	run = intAttr(n.span, spans.KeyPoolRunNanos)
	if run <= 0 {
		run = n.end - n.start
		if n.waitOutside == 0 {
			run = max(run-wait, 0)
		}
	}
	return wait, run
}

// addPools gathers the pool runs and jobs of the current trace.
func (a *accumulator) addPools() {
	tr := a.tree
	for _, v := range tr.order {
		n := &tr.nodes[v]
		if n.span == nil {
			continue
		}
		if isJob(n.span) {
			name := ""
			if v, ok := n.span.Attr(spans.KeyPoolName); ok {
				name = v.AsString()
			}
			if name == "" && n.parent >= 0 {
				if p := tr.nodes[n.parent].span; p != nil && p.Stage == spans.StagePool && !isJob(p) {
					name = poolName(p)
				}
			}
			if name == "" {
				name = n.span.Name
			}
			wait, run := jobTimes(n)
			p := a.pool(name)
			p.jobs++
			p.waits = append(p.waits, wait)
			p.runTimes = append(p.runTimes, run)
			p.jobW = append(p.jobW, a.curW)
			p.sumWait += a.curW * float64(wait)
			p.sumRun += a.curW * float64(run)
			continue
		}
		if n.stage != spans.StagePool {
			continue
		}
		_, hasWorkers := n.span.Attr(spans.KeyPoolWorkers)
		var jobs int
		var run, sys int64
		timings := a.jobTimings[:0]
		for _, c := range tr.children(v) {
			cn := &tr.nodes[c]
			if cn.span != nil && isJob(cn.span) {
				w, r := jobTimes(cn)
				jobs++
				run += r
				sys += w + r
				picked := cn.start + w
				if cn.waitOutside > 0 {
					picked = cn.start
				}
				timings = append(timings, jobTiming{queued: picked - w, picked: picked, done: picked + r})
			}
		}
		a.jobTimings = timings
		if !hasWorkers && jobs == 0 {
			continue
		}
		p := a.pool(poolName(n.span))
		p.runs++
		workers := int(intAttr(n.span, spans.KeyPoolWorkers))
		p.workers = max(p.workers, workers)
		p.maxJobs = max(p.maxJobs, jobs, int(intAttr(n.span, spans.KeyPoolJobs)))
		w := a.curW
		wall := float64(n.end - n.start)
		p.runsW += w
		p.wall += w * wall
		p.runInRuns += w * float64(run)
		p.sysInRuns += w * float64(sys)
		if workers > 0 {
			p.capacity += w * float64(workers) * wall
			var wait int64
			for _, j := range timings {
				wait += j.picked - j.queued
			}
			p.waitInRuns += w * float64(wait)
			p.idleWait += w * float64(idleWait(timings, workers))
		}
		if len(timings) > 0 && len(p.batches) < maxModelRuns {
			slices.SortStableFunc(timings, func(x, y jobTiming) int { return cmp.Compare(x.picked, y.picked) })
			b := make([]int64, len(timings))
			for i, j := range timings {
				b[i] = j.done - j.picked
			}
			p.batches = append(p.batches, b)
			p.batchW = append(p.batchW, w)
		}
	}
}

// idleWait returns how much of the jobs' queue wait passed while fewer jobs
// were running than the pool has workers: time a free worker did not pick
// the job up. Batches beyond maxModelWorkers jobs are not examined.
func idleWait(jobs []jobTiming, workers int) int64 {
	if len(jobs) > maxModelWorkers {
		return 0
	}
	var idle int64
	var cuts []int64
	for _, j := range jobs {
		if j.picked <= j.queued {
			continue
		}
		// Between consecutive pick-ups and ends the number running is
		// constant: cut the wait there and test each piece.
		cuts = append(cuts[:0], j.queued, j.picked)
		for _, k := range jobs {
			if k.picked > j.queued && k.picked < j.picked {
				cuts = append(cuts, k.picked)
			}
			if k.done > j.queued && k.done < j.picked {
				cuts = append(cuts, k.done)
			}
		}
		slices.Sort(cuts)
		for i := 1; i < len(cuts); i++ {
			lo, hi := cuts[i-1], cuts[i]
			if hi <= lo {
				continue
			}
			running := 0
			for _, k := range jobs {
				if k.picked <= lo && k.done > lo {
					running++
				}
			}
			if running < workers {
				idle += hi - lo
			}
		}
	}
	return idle
}

// makespan predicts the time a FIFO pool of w workers takes for each batch:
// jobs are picked up in their observed order, each by the worker that
// frees first, and keep their observed run times. With equal jobs this is
// ceil(jobs/w) waves × the job time. It returns the mean over the batches,
// weighted by weights (nil: every batch weighs 1).
func makespan(batches [][]int64, weights []float64, w int) time.Duration {
	if len(batches) == 0 || w < 1 {
		return 0
	}
	var sum, total float64
	var free []int64 // a min-heap of the workers' free times
	for i, b := range batches {
		bw := 1.0
		if weights != nil {
			bw = weights[i]
		}
		total += bw
		free = free[:0]
		var end int64
		for _, r := range b {
			if len(free) < w {
				free = append(free, r)
				siftUp(free, len(free)-1)
				end = max(end, r)
				continue
			}
			free[0] += r
			end = max(end, free[0])
			siftDown(free, 0)
		}
		sum += bw * float64(end)
	}
	return time.Duration(ratio(sum, total))
}

func siftUp(h []int64, i int) {
	for i > 0 {
		p := (i - 1) / 2
		if h[p] <= h[i] {
			return
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

func siftDown(h []int64, i int) {
	for {
		l, m := 2*i+1, i
		if l < len(h) && h[l] < h[m] {
			m = l
		}
		if r := l + 1; r < len(h) && h[r] < h[m] {
			m = r
		}
		if m == i {
			return
		}
		h[m], h[i] = h[i], h[m]
		i = m
	}
}

// BatchPrediction is the batch-time model's answer for one worker count.
type BatchPrediction struct {
	Workers int           `json:"workers"`
	Time    time.Duration `json:"time_ns"`
	TimeMs  float64       `json:"time_ms"`
}

// batchModel predicts the mean batch time for worker counts from 1 to the
// largest batch (every count to 16, then powers of two, the current count
// and the largest batch), at most maxModelWorkers.
func batchModel(batches [][]int64, weights []float64, workers, maxJobs int) []BatchPrediction {
	out := []BatchPrediction{}
	if len(batches) == 0 {
		return out
	}
	top := min(max(maxJobs, workers, 1), maxModelWorkers)
	var ws []int
	for w := 1; w <= top; w++ {
		if w <= 16 || w&(w-1) == 0 || w == workers || w == top {
			ws = append(ws, w)
		}
	}
	for _, w := range ws {
		t := makespan(batches, weights, w)
		out = append(out, BatchPrediction{Workers: w, Time: t, TimeMs: ms(t)})
	}
	return out
}

// predicted returns the model's batch time at w workers (false when w was
// not modelled).
func predicted(m []BatchPrediction, w int) (time.Duration, bool) {
	for _, p := range m {
		if p.Workers == w {
			return p.Time, true
		}
	}
	return 0, false
}

// poolStats finishes the pool table, most queue wait first.
func (a *accumulator) poolStats() []PoolStats {
	out := make([]PoolStats, 0, len(a.pools))
	for name, p := range a.pools {
		s := PoolStats{Name: name, Runs: p.runs, Jobs: p.jobs, Workers: p.workers, MaxJobsPerRun: p.maxJobs}
		s.QueueShare = round4(ratio(p.sumWait, p.sumWait+p.sumRun))
		s.Utilisation = round4(math.Min(ratio(p.runInRuns, p.capacity), 1))
		s.Busy = round4(ratio(p.runInRuns, p.wall))
		s.InSystem = round4(ratio(p.sysInRuns, p.wall))
		jobW, batchW := p.jobW, p.batchW
		if !a.weighted {
			jobW, batchW = nil, nil
		}
		s.QueueWait = summarizeWeighted(p.waits, slices.Clone(jobW))
		s.RunTime = summarizeWeighted(p.runTimes, slices.Clone(jobW))
		s.Saturated = s.QueueShare >= saturatedQueueShare
		s.IdleWaitShare = round4(ratio(p.idleWait, p.waitInRuns))
		s.CPUContention = s.Saturated && s.Workers > 0 && (s.IdleWaitShare >= contentionShare || (s.MaxJobsPerRun > 0 && s.MaxJobsPerRun <= s.Workers))
		if p.runs > 0 {
			s.BatchTime = time.Duration(ratio(p.wall, p.runsW))
			s.BatchTimeMs = ms(s.BatchTime)
		}
		s.Model = batchModel(p.batches, batchW, s.Workers, s.MaxJobsPerRun)
		s.RecommendedWorkers, s.Recommendation = recommendWorkers(s)
		out = append(out, s)
	}
	slices.SortFunc(out, func(x, y PoolStats) int {
		if x.QueueWait.Mean != y.QueueWait.Mean {
			if x.QueueWait.Mean > y.QueueWait.Mean {
				return -1
			}
			return 1
		}
		return strings.Compare(x.Name, y.Name)
	})
	return out
}

// workersFrom names where a pool's worker count was read.
const workersFrom = "attribute pool.workers of the pool spans"

// recommendWorkers sizes a pool, never beyond the largest batch it was
// given. Queue wait that passed while workers were free (or in a pool that
// never had more jobs than workers) is CPU contention: more workers would
// not help. A saturated pool with batches is sized by the batch-time model:
// the fewest workers that reach the shortest predicted batch time, if that
// is at least makespanGain shorter than now; an idle one shrinks to the
// fewest workers that keep the predicted batch time. Without batches (jobs
// that are trace roots), Little's law sizes it: the mean number of jobs in
// the system is arrival rate × time in system.
func recommendWorkers(s PoolStats) (int, string) {
	wait := dur(s.QueueWait.Mean)
	now, modelled := predicted(s.Model, s.Workers)
	switch {
	case s.CPUContention:
		why := fmt.Sprintf("%.0f%% of the wait passed while a worker was free", 100*s.IdleWaitShare)
		if s.MaxJobsPerRun > 0 && s.MaxJobsPerRun <= s.Workers {
			why = fmt.Sprintf("the pool never had more than %s at once for its %s", plural(s.MaxJobsPerRun, "job"), plural(s.Workers, "worker"))
		}
		return s.Workers, fmt.Sprintf("pool %q: jobs wait %s on average for a worker (%.0f%% of their time in the pool), yet %s: this is CPU contention (the workers wait for a CPU), not a lack of workers; keep pool.workers at %d (%s) and give the process more CPU or run less beside it.",
			s.Name, wait, 100*s.QueueShare, why, s.Workers, workersFrom)
	case s.Saturated && s.Workers > 0 && modelled:
		best := BatchPrediction{Workers: s.Workers, Time: now}
		for _, p := range s.Model {
			if p.Workers > s.Workers && p.Workers <= max(s.MaxJobsPerRun, s.Workers) && p.Time < best.Time {
				best = p
			}
		}
		if best.Workers > s.Workers && float64(best.Time) <= (1-makespanGain)*float64(now) {
			return best.Workers, fmt.Sprintf("pool %q is saturated: jobs wait %s on average for a worker (%.0f%% of their time in the pool); raise pool.workers from %d (%s) to %d: its batches of up to %s would take %s instead of %s (measured now: %s), by a model that runs each batch's jobs in order on the first free worker with their measured run times.",
				s.Name, wait, 100*s.QueueShare, s.Workers, workersFrom, best.Workers, plural(s.MaxJobsPerRun, "job"), dur(best.Time), dur(now), dur(s.BatchTime))
		}
		return s.Workers, fmt.Sprintf("pool %q: jobs wait %s on average (%.0f%% of their time in the pool), but more workers would not shorten its batches of up to %s (%s predicted at %d workers); keep pool.workers at %d (%s) and make the jobs shorter instead.",
			s.Name, wait, 100*s.QueueShare, plural(s.MaxJobsPerRun, "job"), dur(now), s.Workers, s.Workers, workersFrom)
	case s.Saturated:
		// Jobs spend (wait + run) / run times their run time in the pool,
		// so by Little's law that many times the busy workers are needed.
		factor := ratio(float64(s.QueueWait.Mean+s.RunTime.Mean), float64(s.RunTime.Mean))
		if s.Workers == 0 && s.InSystem == 0 {
			return 0, fmt.Sprintf("pool %q is saturated: jobs wait %s on average for a worker (%.0f%% of their time in the pool); multiply pool.workers by %.1f (the worker count is not on the spans).",
				s.Name, wait, 100*s.QueueShare, factor)
		}
		need := s.InSystem
		if need == 0 {
			need = float64(s.Workers) * factor
		}
		rec := int(math.Ceil(need - 1e-9))
		if s.MaxJobsPerRun > 0 {
			rec = min(rec, s.MaxJobsPerRun)
		}
		if rec <= s.Workers {
			break
		}
		return rec, fmt.Sprintf("pool %q is saturated: jobs wait %s on average for a worker (%.0f%% of their time in the pool); raise pool.workers from %d to %d (Little's law: %.1f jobs are in the pool on average).",
			s.Name, wait, 100*s.QueueShare, s.Workers, rec, need)
	case s.Workers > 1 && s.Utilisation > 0 && s.Utilisation < idleUtilisation && s.QueueShare < saturatedQueueShare/2:
		if modelled {
			for _, p := range s.Model {
				if p.Workers < s.Workers && float64(p.Time) <= (1+makespanGain/2)*float64(now) {
					return p.Workers, fmt.Sprintf("pool %q is mostly idle (%.0f%% utilised); pool.workers could drop from %d (%s) to %d: its batches of up to %s would still take %s (%s now, by the batch model).",
						s.Name, 100*s.Utilisation, s.Workers, workersFrom, p.Workers, plural(s.MaxJobsPerRun, "job"), dur(p.Time), dur(now))
				}
			}
			break
		}
		rec := max(int(math.Ceil(s.Busy/targetUtilisation)), 1)
		if rec < s.Workers {
			return rec, fmt.Sprintf("pool %q is mostly idle (%.0f%% utilised); pool.workers could drop from %d (%s) to %d without queueing.",
				s.Name, 100*s.Utilisation, s.Workers, workersFrom, rec)
		}
	}
	return s.Workers, fmt.Sprintf("pool %q is sized right: jobs wait %s on average (%.0f%% of their time in the pool); keep pool.workers at %d.",
		s.Name, wait, 100*s.QueueShare, s.Workers)
}

// fmtDur is dur for a duration in nanoseconds.
func fmtDur(ns int64) string { return dur(time.Duration(ns)) }
