package flight

import (
	"math/bits"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/spans"
)

// Defaults of a Recorder.
const (
	// DefaultCapacity is the number of finished spans kept (a power of two).
	DefaultCapacity = 1 << 14
	// DefaultEventCapacity is the number of events kept.
	DefaultEventCapacity = 1 << 12
	// DefaultWindow is how far back a snapshot reaches.
	DefaultWindow = 30 * time.Second
	// DefaultKeepFrozen is how many frozen snapshots are kept (the oldest
	// goes first).
	DefaultKeepFrozen = 4
	// DefaultCooldown is the least time between two frozen snapshots.
	DefaultCooldown = 10 * time.Second
)

type config struct {
	capacity, eventCapacity int
	window, cooldown        time.Duration
	keepFrozen              int
	triggers                []Trigger
}

// Option configures a Recorder.
type Option func(*config)

// WithCapacity sets how many finished spans the ring holds (rounded up to a
// power of two; DefaultCapacity when n ≤ 0).
func WithCapacity(n int) Option { return func(c *config) { c.capacity = n } }

// WithEventCapacity sets how many events the ring holds (rounded up to a
// power of two; DefaultEventCapacity when n ≤ 0).
func WithEventCapacity(n int) Option { return func(c *config) { c.eventCapacity = n } }

// WithWindow sets how far back a snapshot reaches: spans that ended longer
// ago are left out even when the ring still holds them. 0 keeps all the
// ring holds.
func WithWindow(d time.Duration) Option { return func(c *config) { c.window = max(d, 0) } }

// WithTrigger adds a trigger that freezes a snapshot when it fires.
func WithTrigger(t Trigger) Option { return func(c *config) { c.triggers = append(c.triggers, t) } }

// WithCooldown sets the least time between two frozen snapshots
// (DefaultCooldown when d ≤ 0), so a burst of slow spans freezes once.
func WithCooldown(d time.Duration) Option {
	return func(c *config) { c.cooldown = d }
}

// WithKeepFrozen sets how many frozen snapshots are kept
// (DefaultKeepFrozen when n ≤ 0).
func WithKeepFrozen(n int) Option { return func(c *config) { c.keepFrozen = n } }

// Recorder is the flight recorder: a dispatcher.SpanHandler and
// dispatcher.EventHandler. Make one with New and attach it (usually to
// dispatcher.Root()) for the life of the program.
type Recorder struct {
	slots []atomic.Pointer[spans.Span]
	mask  uint64
	next  atomic.Uint64 // spans recorded so far; slot = (next-1) & mask

	evSlots   []eventSlot
	evMask    uint64
	evNext    atomic.Uint64
	evSkipped atomic.Uint64 // events not kept because their slot was being read

	window time.Duration

	triggers   []Trigger
	cooldown   int64        // nanoseconds
	lastFreeze atomic.Int64 // unix nanoseconds of the last freeze
	freezeSeq  atomic.Uint64
	freezes    sync.WaitGroup
	frozenMu   sync.Mutex
	frozen     []*Snapshot
	keepFrozen int

	tap atomic.Pointer[Subscription]
}

// eventSlot holds one event. Events are interfaces, which cannot be stored
// atomically in one word, so a slot has a busy flag: a writer that finds it
// set (a snapshot is reading it, or the ring lapped a slow writer) skips the
// event and counts it rather than wait.
type eventSlot struct {
	busy atomic.Bool
	ev   event.Event
}

var (
	_ dispatcher.SpanHandler  = (*Recorder)(nil)
	_ dispatcher.EventHandler = (*Recorder)(nil)
	_ dispatcher.EndOnly      = (*Recorder)(nil)
)

// New returns a flight recorder.
func New(opts ...Option) *Recorder {
	c := config{capacity: DefaultCapacity, eventCapacity: DefaultEventCapacity, window: DefaultWindow,
		cooldown: DefaultCooldown, keepFrozen: DefaultKeepFrozen}
	for _, o := range opts {
		o(&c)
	}
	if c.capacity <= 0 {
		c.capacity = DefaultCapacity
	}
	if c.eventCapacity <= 0 {
		c.eventCapacity = DefaultEventCapacity
	}
	if c.cooldown <= 0 {
		c.cooldown = DefaultCooldown
	}
	if c.keepFrozen <= 0 {
		c.keepFrozen = DefaultKeepFrozen
	}
	n, ne := ceilPow2(c.capacity), ceilPow2(c.eventCapacity)
	r := &Recorder{
		slots: make([]atomic.Pointer[spans.Span], n), mask: uint64(n - 1),
		evSlots: make([]eventSlot, ne), evMask: uint64(ne - 1),
		window: c.window, triggers: c.triggers, cooldown: int64(c.cooldown), keepFrozen: c.keepFrozen,
	}
	return r
}

func ceilPow2(n int) int { return 1 << bits.Len(uint(n-1)) }

// Capacity returns how many spans the ring holds.
func (r *Recorder) Capacity() int { return len(r.slots) }

// Window returns how far back a snapshot reaches (0: the whole ring).
func (r *Recorder) Window() time.Duration { return r.window }

// SpanStarted does nothing: only finished spans are kept.
func (r *Recorder) SpanStarted(*spans.Span) {}

// EndOnly tells the dispatcher not to call SpanStarted.
func (r *Recorder) EndOnly() bool { return true }

// SpanEnded keeps s: one atomic add and one atomic store. It also offers s
// to the live subscriber, if any, and runs the triggers.
func (r *Recorder) SpanEnded(s *spans.Span) {
	i := r.next.Add(1) - 1
	r.slots[i&r.mask].Store(s)
	if t := r.tap.Load(); t != nil {
		t.offerSpan(s)
	}
	for _, tr := range r.triggers {
		if tr.Check(s) {
			r.fire(tr, s)
		}
	}
}

// HandleEvent keeps e, unless its slot is busy (then it is counted in
// Stats().EventsSkipped).
func (r *Recorder) HandleEvent(e event.Event) {
	i := r.evNext.Add(1) - 1
	sl := &r.evSlots[i&r.evMask]
	if sl.busy.CompareAndSwap(false, true) {
		sl.ev = e
		sl.busy.Store(false)
	} else {
		r.evSkipped.Add(1)
	}
	if t := r.tap.Load(); t != nil {
		t.offerEvent(e)
	}
}

// Stats are the recorder's counters.
type Stats struct {
	Capacity      int    `json:"capacity"`
	SpansRecorded uint64 `json:"spans_recorded"` // since the recorder was made
	// SpansOverwritten were pushed out of the ring by newer ones.
	SpansOverwritten uint64 `json:"spans_overwritten"`
	EventsRecorded   uint64 `json:"events_recorded"`
	EventsSkipped    uint64 `json:"events_skipped"`
	Frozen           int    `json:"frozen"` // frozen snapshots kept
	Subscribed       bool   `json:"subscribed"`
}

// Stats returns the recorder's counters.
func (r *Recorder) Stats() Stats {
	n := r.next.Load()
	st := Stats{Capacity: len(r.slots), SpansRecorded: n, EventsRecorded: r.evNext.Load(), EventsSkipped: r.evSkipped.Load(),
		Subscribed: r.tap.Load() != nil}
	if n > uint64(len(r.slots)) {
		st.SpansOverwritten = n - uint64(len(r.slots))
	}
	r.frozenMu.Lock()
	st.Frozen = len(r.frozen)
	r.frozenMu.Unlock()
	return st
}

// Snapshot is what the recorder held at one moment.
type Snapshot struct {
	Taken time.Time `json:"taken"`
	// Reason says which trigger froze the snapshot, and on which span; ""
	// for a snapshot taken on demand.
	Reason string        `json:"reason,omitempty"`
	Window time.Duration `json:"window_ns"`
	// Spans ended within the window, in the order they ended.
	Spans  []*spans.Span  `json:"-"`
	Events []event.Record `json:"-"`
	// SpansOverwritten counts spans the ring had written over by then:
	// when it is not zero, the window reached further back than the ring.
	SpansOverwritten uint64 `json:"spans_overwritten"`
	seq              uint64 // order of freezing
}

// Snapshot returns the spans and events the recorder holds that ended (were
// emitted) within its window, oldest first. It never blocks the pipeline:
// writers that meet a slot being read skip one event rather than wait.
func (r *Recorder) Snapshot() *Snapshot { return r.snapshot("") }

func (r *Recorder) snapshot(reason string) *Snapshot {
	now := time.Now()
	snap := &Snapshot{Taken: now, Reason: reason, Window: r.window}
	var from time.Time
	if r.window > 0 {
		from = now.Add(-r.window)
	}
	n := r.next.Load()
	if n > uint64(len(r.slots)) {
		snap.SpansOverwritten = n - uint64(len(r.slots))
	}
	seen := make(map[*spans.Span]bool, min(n, uint64(len(r.slots))))
	for i := range r.slots {
		s := r.slots[i].Load()
		if s == nil || seen[s] || (!from.IsZero() && s.End.Before(from)) {
			continue
		}
		seen[s] = true
		snap.Spans = append(snap.Spans, s)
	}
	slices.SortStableFunc(snap.Spans, func(a, b *spans.Span) int { return a.End.Compare(b.End) })
	for i := range r.evSlots {
		sl := &r.evSlots[i]
		for !sl.busy.CompareAndSwap(false, true) {
			runtime.Gosched() // a writer holds it for a few instructions
		}
		e := sl.ev
		sl.busy.Store(false)
		if e == nil {
			continue
		}
		rec := event.ToRecord(e)
		if !from.IsZero() && rec.Time.Before(from) {
			continue
		}
		snap.Events = append(snap.Events, rec)
	}
	slices.SortStableFunc(snap.Events, func(a, b event.Record) int { return a.Time.Compare(b.Time) })
	return snap
}
