package dispatcher

import (
	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/spans"
)

// SpanHandler receives the lifecycle of spans.
//
// SpanStarted is called synchronously by the goroutine that starts the span;
// the span is live and must not be retained for writing. SpanEnded is called
// once, when the span exits (StatusOK), is dropped with an error
// (StatusError) or is abandoned (StatusDropped); from then on the span is
// immutable and may be kept. A span's start and end go to the handlers that
// were attached when it started. Both calls must be fast and must not block:
// they run on the pipeline's hot path.
type SpanHandler interface {
	SpanStarted(s *spans.Span)
	SpanEnded(s *spans.Span)
}

// EndOnly is implemented by span handlers that only care about finished
// spans (recorders, exporters of finished spans, the collector). Returning
// true spares them the SpanStarted call on the hot path.
type EndOnly interface {
	EndOnly() bool
}

// EventHandler receives events, synchronously, on the emitting goroutine.
// The event may be retained; it is not reused.
type EventHandler interface {
	HandleEvent(e event.Event)
}

// SpanHandlerFuncs adapts two functions to SpanHandler; either may be nil.
type SpanHandlerFuncs struct {
	Started func(*spans.Span)
	Ended   func(*spans.Span)
}

func (f *SpanHandlerFuncs) SpanStarted(s *spans.Span) {
	if f.Started != nil {
		f.Started(s)
	}
}

func (f *SpanHandlerFuncs) SpanEnded(s *spans.Span) {
	if f.Ended != nil {
		f.Ended(s)
	}
}

// EventHandlerFunc adapts a function to EventHandler. Use a pointer to it
// (or any pointer type) so that RemoveEventHandler can find it again.
type EventHandlerFunc func(event.Event)

func (f EventHandlerFunc) HandleEvent(e event.Event) { f(e) }

var (
	_ SpanHandler  = (*SpanHandlerFuncs)(nil)
	_ EventHandler = EventHandlerFunc(nil)
)
