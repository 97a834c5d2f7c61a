package dispatcher

import (
	"sync"

	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/spans"
)

// DefaultRecorderCapacity is the number of spans (and, separately, events) a
// Recorder keeps when no capacity is given.
const DefaultRecorderCapacity = 10_000

// Recorder is a bounded in-memory SpanHandler and EventHandler: it keeps the
// most recent finished spans and events in ring buffers and counts what it
// had to overwrite. It is meant for tests, examples and the tree printer.
type Recorder struct {
	mu          sync.Mutex
	spans       []*spans.Span
	events      []event.Event
	spanNext    int
	eventNext   int
	spanFull    bool
	eventFull   bool
	overwritten uint64
}

var (
	_ SpanHandler  = (*Recorder)(nil)
	_ EventHandler = (*Recorder)(nil)
)

// NewRecorder returns a recorder that keeps up to capacity spans and as many
// events (DefaultRecorderCapacity when capacity ≤ 0).
func NewRecorder(capacity int) *Recorder {
	if capacity <= 0 {
		capacity = DefaultRecorderCapacity
	}
	return &Recorder{spans: make([]*spans.Span, capacity), events: make([]event.Event, capacity)}
}

// SpanStarted does nothing: the recorder keeps finished spans only.
func (r *Recorder) SpanStarted(*spans.Span) {}

// EndOnly tells the dispatcher not to call SpanStarted.
func (r *Recorder) EndOnly() bool { return true }

// SpanEnded keeps s.
func (r *Recorder) SpanEnded(s *spans.Span) {
	r.mu.Lock()
	if r.spanFull {
		r.overwritten++
	}
	r.spans[r.spanNext] = s
	r.spanNext++
	if r.spanNext == len(r.spans) {
		r.spanNext, r.spanFull = 0, true
	}
	r.mu.Unlock()
}

// HandleEvent keeps e.
func (r *Recorder) HandleEvent(e event.Event) {
	r.mu.Lock()
	if r.eventFull {
		r.overwritten++
	}
	r.events[r.eventNext] = e
	r.eventNext++
	if r.eventNext == len(r.events) {
		r.eventNext, r.eventFull = 0, true
	}
	r.mu.Unlock()
}

// Spans returns the kept spans, oldest first (in the order they ended).
func (r *Recorder) Spans() []*spans.Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return ring(r.spans, r.spanNext, r.spanFull)
}

// Events returns the kept events, oldest first.
func (r *Recorder) Events() []event.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return ring(r.events, r.eventNext, r.eventFull)
}

// Overwritten returns how many spans and events were pushed out because the
// recorder was full.
func (r *Recorder) Overwritten() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.overwritten
}

// Reset forgets everything kept.
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.spans)
	clear(r.events)
	r.spanNext, r.eventNext, r.spanFull, r.eventFull, r.overwritten = 0, 0, false, false, 0
}

func ring[T any](buf []T, next int, full bool) []T {
	if !full {
		return append([]T(nil), buf[:next]...)
	}
	out := make([]T, 0, len(buf))
	out = append(out, buf[next:]...)
	return append(out, buf[:next]...)
}
