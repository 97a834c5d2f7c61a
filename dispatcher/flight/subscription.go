package flight

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/spans"
)

// ErrSubscribed is returned by Subscribe while another subscriber is
// attached: one attacher at a time.
var ErrSubscribed = errors.New("the flight recorder already has a live subscriber (one attacher at a time)")

// DefaultSubscriptionBuffer is the channel size of a subscription when none
// is given.
const DefaultSubscriptionBuffer = 1 << 14

// Subscription is a live tap on a recorder: every span that ends while it
// is attached is offered to its channel, and every event emitted. A full
// channel drops and counts; the pipeline never waits on the subscriber.
type Subscription struct {
	r       *Recorder
	spans   chan *spans.Span
	events  chan event.Event
	cutoff  atomic.Int64 // unix nanoseconds; 0 while open
	dropped atomic.Uint64
	evDrops atomic.Uint64
	// Attached is when the subscription started taking spans: every span
	// that ended after it is offered.
	Attached time.Time
}

// Subscribe attaches a live subscriber with channels of buffer spans and
// events (DefaultSubscriptionBuffer when buffer ≤ 0). It fails with
// ErrSubscribed while another one is attached.
func (r *Recorder) Subscribe(buffer int) (*Subscription, error) {
	if buffer <= 0 {
		buffer = DefaultSubscriptionBuffer
	}
	sub := &Subscription{r: r, spans: make(chan *spans.Span, buffer), events: make(chan event.Event, buffer)}
	if !r.tap.CompareAndSwap(nil, sub) {
		return nil, ErrSubscribed
	}
	// Read after the tap is in place, so every span ending at or after
	// Attached is offered.
	sub.Attached = time.Now()
	return sub, nil
}

// Spans delivers the offered spans.
func (sub *Subscription) Spans() <-chan *spans.Span { return sub.spans }

// Events delivers the offered events.
func (sub *Subscription) Events() <-chan event.Event { return sub.events }

// Dropped returns how many spans were not delivered because the channel
// was full.
func (sub *Subscription) Dropped() uint64 { return sub.dropped.Load() }

// EventsDropped is Dropped for events.
func (sub *Subscription) EventsDropped() uint64 { return sub.evDrops.Load() }

// Stop makes the subscription refuse spans that end (and events emitted)
// after the time it returns; spans that ended before it and are still
// being handed over are delivered. Call Detach once they had time to
// arrive.
func (sub *Subscription) Stop() time.Time {
	now := time.Now()
	sub.cutoff.CompareAndSwap(0, now.UnixNano())
	return time.Unix(0, sub.cutoff.Load())
}

// Detach removes the tap: from now on the recorder costs the pipeline what
// it did before Subscribe. It also stops the subscription if Stop was not
// called. Detaching twice is a no-op.
func (sub *Subscription) Detach() {
	sub.Stop()
	sub.r.tap.CompareAndSwap(sub, nil)
}

func (sub *Subscription) offerSpan(s *spans.Span) {
	if c := sub.cutoff.Load(); c != 0 && s.End.UnixNano() > c {
		return
	}
	select {
	case sub.spans <- s:
	default:
		sub.dropped.Add(1)
	}
}

func (sub *Subscription) offerEvent(e event.Event) {
	if c := sub.cutoff.Load(); c != 0 && e.EventHeader().Time.UnixNano() > c {
		return
	}
	select {
	case sub.events <- e:
	default:
		sub.evDrops.Add(1)
	}
}
