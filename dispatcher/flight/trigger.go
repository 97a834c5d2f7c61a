package flight

import (
	"cmp"
	"fmt"
	"math/bits"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/stagescope/stagescope/spans"
)

// Trigger decides, for each finished span, whether the recorder should
// freeze a snapshot. Check runs on the pipeline's hot path for every span:
// it must be fast, must not block and should not allocate. String names the
// trigger in the frozen snapshot's reason.
type Trigger interface {
	Check(s *spans.Span) bool
	String() string
}

// stageSet is a set of stages; the empty set matches every stage.
type stageSet uint32

func newStageSet(stages []spans.Stage) stageSet {
	var m stageSet
	for _, s := range stages {
		if s.Valid() {
			m |= 1 << s
		}
	}
	return m
}

func (m stageSet) has(s spans.Stage) bool { return m == 0 || m&(1<<s) != 0 }

func (m stageSet) String() string {
	if m == 0 {
		return "any stage"
	}
	var names []string
	for _, s := range spans.AllStages() {
		if m&(1<<s) != 0 {
			names = append(names, s.String())
		}
	}
	return strings.Join(names, ",")
}

type slowerThan struct {
	d      time.Duration
	stages stageSet
}

// SlowerThan fires on a span of one of stages (any stage when none is
// given) that took longer than d.
func SlowerThan(d time.Duration, stages ...spans.Stage) Trigger {
	return &slowerThan{d: d, stages: newStageSet(stages)}
}

func (t *slowerThan) Check(s *spans.Span) bool { return t.stages.has(s.Stage) && s.Duration() > t.d }
func (t *slowerThan) String() string           { return fmt.Sprintf("span slower than %v in %s", t.d, t.stages) }

type errorIn struct{ stages stageSet }

// ErrorIn fires on a span of one of stages (any stage when none is given)
// that ended with an error.
func ErrorIn(stages ...spans.Stage) Trigger { return &errorIn{stages: newStageSet(stages)} }

func (t *errorIn) Check(s *spans.Span) bool {
	return s.Status == spans.StatusError && t.stages.has(s.Stage)
}
func (t *errorIn) String() string { return fmt.Sprintf("error in %s", t.stages) }

// P95 trigger: a rolling one-minute histogram of one stage's durations,
// six ten-second sub-windows of log-spaced buckets (four per power of two,
// so a bucket's upper bound is within 19% of any value in it). Counting is
// two atomic adds; the p95 is computed at most once a second.
const (
	p95Window      = time.Minute
	p95Sub         = 10 * time.Second
	p95Subs        = int(p95Window / p95Sub)
	p95Buckets     = 64 * 4
	p95MinSpans    = 20 // fewer spans in the minute say nothing about a p95
	p95CheckPeriod = int64(time.Second)
)

type p95Above struct {
	stage     spans.Stage
	bound     time.Duration
	subs      [p95Subs]p95SubWindow
	lastCheck atomic.Int64
}

type p95SubWindow struct {
	period atomic.Int64 // which ten seconds since the epoch it counts
	counts [p95Buckets]atomic.Uint32
}

// P95Above fires when the p95 duration of stage's spans over the last
// minute exceeds bound (checked at most once a second, once the minute holds
// at least 20 spans of the stage). The p95 is read from log-spaced buckets,
// so it is known to within about a fifth of its value.
func P95Above(stage spans.Stage, bound time.Duration) Trigger {
	return &p95Above{stage: stage, bound: bound}
}

func (t *p95Above) String() string {
	return fmt.Sprintf("p95 of %s over the last %v above %v", t.stage, p95Window, t.bound)
}

// bucketOf maps a duration to its log-spaced bucket.
func bucketOf(d time.Duration) int {
	v := uint64(max(d, 1))
	e := bits.Len64(v) - 1 // 2^e ≤ v
	var frac uint64
	if e >= 2 {
		frac = (v >> (e - 2)) & 3
	} else {
		frac = (v << (2 - e)) & 3
	}
	return min(e*4+int(frac), p95Buckets-1)
}

// bucketUpper is the largest duration in bucket b.
func bucketUpper(b int) time.Duration {
	e, frac := b/4, uint64(b%4)
	lo := (uint64(4) + frac) << e >> 2
	hi := (uint64(5) + frac) << e >> 2
	return time.Duration(max(hi, lo+1) - 1)
}

func (t *p95Above) Check(s *spans.Span) bool {
	if s.Stage != t.stage {
		return false
	}
	end := s.End.UnixNano()
	period := end / int64(p95Sub)
	w := &t.subs[period%int64(p95Subs)]
	if old := w.period.Load(); old != period {
		// The sub-window last counted an older period: the first writer to
		// notice resets it. Writers racing with the reset may lose a count,
		// which a one-minute p95 does not notice.
		if w.period.CompareAndSwap(old, period) {
			for i := range w.counts {
				w.counts[i].Store(0)
			}
		}
	}
	w.counts[bucketOf(s.Duration())].Add(1)
	last := t.lastCheck.Load()
	if end-last < p95CheckPeriod || !t.lastCheck.CompareAndSwap(last, end) {
		return false
	}
	return t.p95(period) > t.bound
}

// p95 is the upper bound of the bucket holding the nearest-rank p95 of the
// sub-windows of the last minute up to period.
func (t *p95Above) p95(period int64) time.Duration {
	var sum [p95Buckets]uint64
	var n uint64
	for i := range t.subs {
		w := &t.subs[i]
		if p := w.period.Load(); p > period || period-p >= int64(p95Subs) {
			continue
		}
		for b := range w.counts {
			c := uint64(w.counts[b].Load())
			sum[b] += c
			n += c
		}
	}
	if n < p95MinSpans {
		return 0
	}
	rank := (n*95 + 99) / 100
	var acc uint64
	for b, c := range sum {
		acc += c
		if acc >= rank {
			return bucketUpper(b)
		}
	}
	return bucketUpper(p95Buckets - 1)
}

// fire freezes a snapshot unless one was frozen less than a cooldown ago.
// The copy runs in its own goroutine so the span that fired does not pay it.
func (r *Recorder) fire(t Trigger, s *spans.Span) {
	now := s.End.UnixNano()
	last := r.lastFreeze.Load()
	if last != 0 && now-last < r.cooldown {
		return
	}
	if !r.lastFreeze.CompareAndSwap(last, now) {
		return
	}
	seq := r.freezeSeq.Add(1)
	reason := fmt.Sprintf("%s: span %q (%s, trace %s) took %v, status %s", t, s.Name, s.Stage, s.TraceID, s.Duration().Round(time.Microsecond), s.Status)
	r.freezes.Add(1)
	go func() {
		defer r.freezes.Done()
		snap := r.snapshot(reason)
		snap.seq = seq
		r.keep(snap)
	}()
}

// keep adds snap to the frozen snapshots in the order they were frozen
// (their copies may finish in another order), forgetting the oldest beyond
// keepFrozen.
func (r *Recorder) keep(snap *Snapshot) {
	r.frozenMu.Lock()
	i, _ := slices.BinarySearchFunc(r.frozen, snap.seq, func(s *Snapshot, seq uint64) int { return cmp.Compare(s.seq, seq) })
	r.frozen = slices.Insert(r.frozen, i, snap)
	if len(r.frozen) > r.keepFrozen {
		r.frozen = append(r.frozen[:0], r.frozen[len(r.frozen)-r.keepFrozen:]...)
	}
	r.frozenMu.Unlock()
}

// Freeze takes a snapshot now and keeps it with the frozen ones, as a
// trigger would, with reason as its reason.
func (r *Recorder) Freeze(reason string) *Snapshot {
	snap := r.snapshot(reason)
	snap.seq = r.freezeSeq.Add(1)
	r.keep(snap)
	return snap
}

// Frozen returns the frozen snapshots kept, oldest first. It waits for
// snapshots whose copy a trigger has just started.
func (r *Recorder) Frozen() []*Snapshot {
	r.freezes.Wait()
	r.frozenMu.Lock()
	defer r.frozenMu.Unlock()
	return append([]*Snapshot(nil), r.frozen...)
}
