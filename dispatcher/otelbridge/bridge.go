package otelbridge

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/spans"
)

// DefaultInstrumentationName is the tracer name the bridge asks for.
const DefaultInstrumentationName = "github.com/stagescope/stagescope"

// Bridge is a dispatcher SpanHandler and EventHandler that mirrors spans and
// events onto an OpenTelemetry tracer.
type Bridge struct {
	tp      trace.TracerProvider
	name    string
	mu      sync.Mutex
	live    map[spans.SpanID]trace.Span
	tracers map[string]trace.Tracer // by dispatcher name: the span's instrumentation scope
	orphan  atomic.Uint64
}

var (
	_ dispatcher.SpanHandler  = (*Bridge)(nil)
	_ dispatcher.EventHandler = (*Bridge)(nil)
)

// Option configures a Bridge.
type Option func(*config)

type config struct{ name string }

// WithInstrumentationName sets the instrumentation scope of spans that have
// none (DefaultInstrumentationName); a span's scope is otherwise the name of
// the dispatcher that made it.
func WithInstrumentationName(name string) Option { return func(c *config) { c.name = name } }

// New returns a bridge that creates spans with tp's tracer.
func New(tp trace.TracerProvider, opts ...Option) *Bridge {
	c := config{name: DefaultInstrumentationName}
	for _, o := range opts {
		o(&c)
	}
	return &Bridge{tp: tp, name: c.name, live: map[spans.SpanID]trace.Span{}, tracers: map[string]trace.Tracer{}}
}

// tracer returns the tracer of the span's scope.
func (b *Bridge) tracer(scope string) trace.Tracer {
	if scope == "" {
		scope = b.name
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.tracers[scope]
	if !ok {
		t = b.tp.Tracer(scope)
		b.tracers[scope] = t
	}
	return t
}

// OrphanEvents returns how many events arrived for a span the bridge did not
// know (attached after the span started, or emitted outside any span); they
// are not exported.
func (b *Bridge) OrphanEvents() uint64 { return b.orphan.Load() }

func toTraceID(t spans.TraceID) trace.TraceID { return trace.TraceID(t) }
func toSpanID(s spans.SpanID) trace.SpanID    { return trace.SpanID(s) }

func (b *Bridge) start(s *spans.Span) trace.Span {
	ctx := context.Background()
	if !s.ParentID.IsZero() {
		b.mu.Lock()
		p, ok := b.live[s.ParentID]
		b.mu.Unlock()
		if ok {
			ctx = trace.ContextWithSpan(ctx, p)
		} else {
			ctx = trace.ContextWithRemoteSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
				TraceID: toTraceID(s.TraceID), SpanID: toSpanID(s.ParentID), TraceFlags: trace.FlagsSampled, Remote: true,
			}))
		}
	}
	ctx = withIDs(ctx, toTraceID(s.TraceID), toSpanID(s.SpanID))
	kind := trace.SpanKind(s.Kind) // the enums agree value for value
	if s.Kind == spans.SpanKindUnspecified {
		kind = trace.SpanKindInternal
	}
	opts := []trace.SpanStartOption{trace.WithTimestamp(s.Start), trace.WithSpanKind(kind)}
	for _, l := range s.Links {
		opts = append(opts, trace.WithLinks(trace.Link{
			SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: toTraceID(l.TraceID), SpanID: toSpanID(l.SpanID), TraceFlags: trace.FlagsSampled, Remote: true}),
			Attributes:  attrs(l.Attrs),
		}))
	}
	_, os := b.tracer(s.Scope).Start(ctx, s.Name, opts...)
	return os
}

// SpanStarted opens the OTel span, so that its children and events can find
// it while it runs.
func (b *Bridge) SpanStarted(s *spans.Span) {
	os := b.start(s)
	b.mu.Lock()
	b.live[s.SpanID] = os
	b.mu.Unlock()
}

// SpanEnded completes the OTel span with the final attributes and status.
func (b *Bridge) SpanEnded(s *spans.Span) {
	b.mu.Lock()
	os, ok := b.live[s.SpanID]
	delete(b.live, s.SpanID)
	b.mu.Unlock()
	if !ok {
		os = b.start(s)
	}
	b.finish(os, s, len(s.Links) > 0 && ok)
}

func (b *Bridge) finish(os trace.Span, s *spans.Span, addLinks bool) {
	os.SetAttributes(spanAttributes(s)...)
	if addLinks { // links added while the span ran were not known at start
		for _, l := range s.Links {
			os.AddLink(trace.Link{SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: toTraceID(l.TraceID), SpanID: toSpanID(l.SpanID), TraceFlags: trace.FlagsSampled, Remote: true}), Attributes: attrs(l.Attrs)})
		}
	}
	switch s.Status {
	case spans.StatusError, spans.StatusDropped:
		os.SetStatus(codes.Error, s.Err)
	case spans.StatusOK:
		os.SetStatus(codes.Ok, "")
	}
	end := s.End
	if end.IsZero() {
		end = time.Now()
	}
	os.End(trace.WithTimestamp(end))
}

// HandleEvent adds e as a span event of the span current when it was
// emitted.
func (b *Bridge) HandleEvent(e event.Event) {
	h := e.EventHeader()
	b.mu.Lock()
	os, ok := b.live[h.SpanID]
	b.mu.Unlock()
	if !ok {
		b.orphan.Add(1)
		return
	}
	os.AddEvent(e.Name(), trace.WithTimestamp(h.Time), trace.WithAttributes(attrs(e.Attrs())...))
}

// Replay exports an already finished span with its events in one go: for
// sending stored traces (from the collector) to an OTel backend. Parents are
// referenced by ID, so spans may be replayed in any order.
func (b *Bridge) Replay(s *spans.Span, events []event.Record) {
	os := b.start(s)
	for _, e := range events {
		os.AddEvent(e.Name, trace.WithTimestamp(e.Time), trace.WithAttributes(attrs(e.Attrs)...))
	}
	b.finish(os, s, false)
}
