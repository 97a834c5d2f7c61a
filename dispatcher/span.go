package dispatcher

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/spans"
)

// Span is a live span. A nil *Span (what Start returns when nobody listens)
// is valid: every method does nothing.
type Span struct {
	rec      spans.Span
	handlers *handlerSet
	ended    atomic.Bool
	// unsampled spans have no handlers; their children inherit that.
	unsampled bool
	ctx       spans.ParentContext // the child context, in the span's own allocation
}

// Start begins a span named name in stage under the parent carried by ctx (a
// root span of a new trace if there is none) and returns a context that
// carries the new span as parent for its callees. End the span with End,
// EndErr, Done or Drop.
//
// When no span handler listens, Start returns ctx itself and a nil *Span: no
// ID is made and nothing allocates.
func (d *Dispatcher) Start(ctx context.Context, name string, stage spans.Stage, attrs ...spans.Attribute) (context.Context, *Span) {
	hs := d.effective()
	if len(hs.spans) == 0 {
		return ctx, nil
	}
	s := &Span{handlers: hs}
	r := &s.rec
	p := spans.ParentFromContext(ctx)
	if p != nil {
		sc := p.SpanContext()
		r.TraceID, r.ParentID = sc.TraceID, sc.SpanID
	}
	if r.TraceID.IsZero() {
		r.TraceID = spans.NewTraceID()
	}
	if ps, local := p.(*Span); local && ps != nil {
		s.unsampled = ps.unsampled // one decision per trace (sampling.go)
	} else if !hs.sampleAll {
		s.unsampled = !traceSampled(r.TraceID, hs.sampleBelow)
	}
	if s.unsampled {
		s.handlers = unsampledSet
	}
	r.SpanID = spans.NewSpanID()
	r.Name, r.Scope, r.Stage = name, d.name, stage
	r.Tags = spans.TagsFromContext(ctx)
	if len(attrs) > 0 {
		r.Attrs = append(make([]spans.Attribute, 0, len(attrs)+4), attrs...)
	}
	r.Start = spans.Now()
	for _, h := range s.handlers.starters {
		safeStarted(h, r)
	}
	s.ctx = spans.ParentContext{Context: ctx, P: s}
	return &s.ctx, s
}

// SpanFromContext returns the live span that ctx carries, or nil (also when
// the parent is a finished or remote span).
func SpanFromContext(ctx context.Context) *Span {
	s, _ := spans.ParentFromContext(ctx).(*Span)
	return s
}

// SpanContext returns the span's identity; it implements spans.Parent.
func (s *Span) SpanContext() spans.SpanContext {
	if s == nil {
		return spans.SpanContext{}
	}
	return s.rec.SpanContext()
}

// Record returns the span's record. It is safe to read once the span has
// ended; before that only the goroutine that owns the span may touch it.
func (s *Span) Record() *spans.Span {
	if s == nil {
		return nil
	}
	return &s.rec
}

// Recording reports whether the span is being recorded (non-nil and not
// ended).
func (s *Span) Recording() bool { return s != nil && !s.ended.Load() }

// SetAttributes adds attributes; later values of a key win when read.
func (s *Span) SetAttributes(attrs ...spans.Attribute) {
	if s == nil || s.ended.Load() {
		return
	}
	s.rec.Attrs = append(s.rec.Attrs, attrs...)
}

// AddLink links the span to another, for fan-in (one batch serving many
// queries).
func (s *Span) AddLink(l spans.Link) {
	if s == nil || s.ended.Load() {
		return
	}
	s.rec.Links = append(s.rec.Links, l)
}

// Emit emits e as an event of this span's dispatcher with the span as its
// current span. It is a shorthand for d.Emit(ctx, e) with the span's context.
func (s *Span) Emit(e event.Event) {
	if s == nil {
		return
	}
	h := e.EventHeader()
	if h.Time.IsZero() && len(s.handlers.events) > 0 {
		h.Time = spans.Now() // as Dispatcher.Emit does
	}
	h.TraceID, h.SpanID = s.rec.TraceID, s.rec.SpanID
	if h.Tags == nil {
		h.Tags = s.rec.Tags
	}
	for _, eh := range s.handlers.events {
		safeEvent(eh, e)
	}
}

// End exits the span normally (LlamaIndex's span exit). Ending twice is a
// no-op.
func (s *Span) End() { s.finish(spans.StatusOK, "") }

// EndErr ends the span with StatusError and err's text when err is not nil
// (LlamaIndex's span drop), and normally otherwise. It also emits an
// Exception event for a non-nil err.
func (s *Span) EndErr(err error) {
	if s == nil {
		return
	}
	if err == nil {
		s.End()
		return
	}
	if len(s.handlers.events) > 0 && !s.ended.Load() {
		s.Emit(event.NewException(err, s.rec.Stage))
	}
	s.finish(spans.StatusError, err.Error())
}

// Drop ends the span as abandoned (StatusDropped): cancelled, or closed
// before it could finish. A context error passed to EndErr is also recorded
// as dropped.
func (s *Span) Drop(reason string) { s.finish(spans.StatusDropped, reason) }

// Done is meant to be deferred with a pointer to the function's named error
// result: `defer span.Done(&err)`. It ends the span with that error, or, if
// the function is panicking, records the panic as an error (with an
// Exception event carrying the stack) and re-panics.
func (s *Span) Done(errp *error) {
	if r := recover(); r != nil {
		if s != nil && !s.ended.Load() {
			ex := &event.Exception{Type: fmt.Sprintf("%T", r), Message: fmt.Sprint(r), Stack: string(debug.Stack()), Panic: true, InStage: s.rec.Stage}
			s.Emit(ex)
			s.finish(spans.StatusError, "panic: "+fmt.Sprint(r))
		}
		panic(r)
	}
	var err error
	if errp != nil {
		err = *errp
	}
	if err != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		s.finish(spans.StatusDropped, err.Error())
		return
	}
	s.EndErr(err)
}

func (s *Span) finish(st spans.Status, msg string) {
	if s == nil || !s.ended.CompareAndSwap(false, true) {
		return
	}
	// One monotonic clock read instead of time.Now's wall+monotonic pair;
	// Add keeps the monotonic reading, so Duration stays step-proof.
	s.rec.End = s.rec.Start.Add(time.Since(s.rec.Start))
	s.rec.Status, s.rec.Err = st, msg
	for _, h := range s.handlers.spans {
		safeEnded(h, &s.rec)
	}
}

// Run runs fn inside a span and returns its error; a panic in fn is recorded
// on the span and re-panicked.
func (d *Dispatcher) Run(ctx context.Context, name string, stage spans.Stage, fn func(ctx context.Context) error) (err error) {
	ctx, s := d.Start(ctx, name, stage)
	defer s.Done(&err)
	return fn(ctx)
}
