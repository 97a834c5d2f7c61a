package analysis

import (
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
)

type poolAcc struct {
	runs, jobs, workers, maxJobs int
	waits, runTimes              []int64
	sumWait, sumRun              int64
	// over runs with a pool span: wall time, workers × wall, and the jobs'
	// run and in-system time
	wall, capacity, runInRuns, sysInRuns int64
}

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
			p.sumWait += wait
			p.sumRun += run
			continue
		}
		if n.stage != spans.StagePool {
			continue
		}
		_, hasWorkers := n.span.Attr(spans.KeyPoolWorkers)
		var jobs int
		var run, sys int64
		for _, c := range tr.children(v) {
			cn := &tr.nodes[c]
			if cn.span != nil && isJob(cn.span) {
				w, r := jobTimes(cn)
				jobs++
				run += r
				sys += w + r
			}
		}
		if !hasWorkers && jobs == 0 {
			continue
		}
		p := a.pool(poolName(n.span))
		p.runs++
		workers := int(intAttr(n.span, spans.KeyPoolWorkers))
		p.workers = max(p.workers, workers)
		p.maxJobs = max(p.maxJobs, jobs, int(intAttr(n.span, spans.KeyPoolJobs)))
		wall := n.end - n.start
		p.wall += wall
		p.runInRuns += run
		p.sysInRuns += sys
		if workers > 0 {
			p.capacity += int64(workers) * wall
		}
	}
}

// poolStats finishes the pool table, most queue wait first.
func (a *accumulator) poolStats() []PoolStats {
	out := make([]PoolStats, 0, len(a.pools))
	for name, p := range a.pools {
		s := PoolStats{Name: name, Runs: p.runs, Jobs: p.jobs, Workers: p.workers, MaxJobsPerRun: p.maxJobs}
		s.QueueShare = round4(ratio(float64(p.sumWait), float64(p.sumWait+p.sumRun)))
		s.Utilisation = round4(math.Min(ratio(float64(p.runInRuns), float64(p.capacity)), 1))
		s.Busy = round4(ratio(float64(p.runInRuns), float64(p.wall)))
		s.InSystem = round4(ratio(float64(p.sysInRuns), float64(p.wall)))
		s.QueueWait = summarize(p.waits)
		s.RunTime = summarize(p.runTimes)
		s.Saturated = s.QueueShare >= saturatedQueueShare
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

// recommendWorkers sizes a pool. By Little's law the mean number of jobs in
// the system is arrival rate × time in system; a pool with that many workers
// starts every job on arrival, so a saturated pool is told to grow to it
// (never beyond the largest batch it was given). An idle pool is told to
// shrink to its mean busy workers at the target utilisation.
func recommendWorkers(s PoolStats) (int, string) {
	wait := time.Duration(s.QueueWait.Mean)
	switch {
	case s.Saturated:
		// Jobs spend (wait + run) / run times their run time in the pool,
		// so by Little's law that many times the busy workers are needed.
		factor := ratio(float64(s.QueueWait.Mean+s.RunTime.Mean), float64(s.RunTime.Mean))
		if s.Workers == 0 && s.InSystem == 0 {
			return 0, fmt.Sprintf("pool %q is saturated: jobs wait %s on average for a worker (%.0f%% of their time in the pool); multiply pool.workers by %.1f (the worker count is not on the spans).",
				s.Name, fmtDur(int64(wait)), 100*s.QueueShare, factor)
		}
		need := s.InSystem
		if need == 0 {
			need = float64(s.Workers) * factor
		}
		rec := int(math.Ceil(need - 1e-9))
		if s.MaxJobsPerRun > 0 {
			rec = min(rec, s.MaxJobsPerRun)
		}
		rec = max(rec, s.Workers+1)
		return rec, fmt.Sprintf("pool %q is saturated: jobs wait %s on average for a worker (%.0f%% of their time in the pool); raise pool.workers from %d to %d (Little's law: %.1f jobs are in the pool on average).",
			s.Name, fmtDur(int64(wait)), 100*s.QueueShare, s.Workers, rec, need)
	case s.Workers > 1 && s.Utilisation > 0 && s.Utilisation < idleUtilisation && s.QueueShare < saturatedQueueShare/2:
		rec := max(int(math.Ceil(s.Busy/targetUtilisation)), 1)
		if rec < s.Workers {
			return rec, fmt.Sprintf("pool %q is mostly idle (%.0f%% utilised); pool.workers could drop from %d to %d without queueing.",
				s.Name, 100*s.Utilisation, s.Workers, rec)
		}
	}
	return s.Workers, fmt.Sprintf("pool %q is sized right: jobs wait %s on average (%.0f%% of their time in the pool); keep pool.workers at %d.",
		s.Name, fmtDur(int64(wait)), 100*s.QueueShare, s.Workers)
}

// fmtDur prints a duration rounded for people: "1.25s", "120ms", "850µs".
func fmtDur(ns int64) string {
	d := time.Duration(ns)
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= 10*time.Millisecond:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}
