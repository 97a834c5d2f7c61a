package jaeger

import (
	"context"
	"sync"
	"sync/atomic"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// liveCounters are the live exporter's tallies. Every ended span is, after
// Shutdown, exactly one of exported, failed or dropped.
type liveCounters struct {
	ended    atomic.Uint64
	dropped  atomic.Uint64
	exported atomic.Uint64
	failed   atomic.Uint64
	queued   atomic.Int64 // admitted, not yet handed to the exporter
	closed   atomic.Bool  // Shutdown has begun: spans are dropped
}

// gateProcessor bounds the batch span processor's queue from the outside so
// that drops can be counted: the SDK's processor drops silently. A span is
// admitted while fewer than limit spans are queued (admitted and not yet
// handed to the exporter); the inner processor's queue, of the same size,
// therefore never overflows.
type gateProcessor struct {
	next  sdktrace.SpanProcessor
	limit int64
	c     *liveCounters
}

var _ sdktrace.SpanProcessor = (*gateProcessor)(nil)

func (g *gateProcessor) OnStart(ctx context.Context, s sdktrace.ReadWriteSpan) {
	g.next.OnStart(ctx, s)
}

func (g *gateProcessor) OnEnd(s sdktrace.ReadOnlySpan) {
	g.c.ended.Add(1)
	if g.c.closed.Load() {
		g.c.dropped.Add(1)
		return
	}
	if g.c.queued.Add(1) > g.limit {
		g.c.queued.Add(-1)
		g.c.dropped.Add(1)
		return
	}
	g.next.OnEnd(s)
}

func (g *gateProcessor) Shutdown(ctx context.Context) error { return g.next.Shutdown(ctx) }

func (g *gateProcessor) ForceFlush(ctx context.Context) error { return g.next.ForceFlush(ctx) }

// countingExporter counts what leaves the queue and how each request ended.
// It keeps errors from the SDK's global error handler: they are counted and
// passed to the configured handler instead.
type countingExporter struct {
	next    sdktrace.SpanExporter
	c       *liveCounters
	onError func(error)

	mu      sync.Mutex
	lastErr error
}

var _ sdktrace.SpanExporter = (*countingExporter)(nil)

func (e *countingExporter) ExportSpans(ctx context.Context, batch []sdktrace.ReadOnlySpan) error {
	n := len(batch)
	e.c.queued.Add(-int64(n))
	if err := e.next.ExportSpans(ctx, batch); err != nil {
		e.c.failed.Add(uint64(n))
		e.mu.Lock()
		e.lastErr = err
		e.mu.Unlock()
		if e.onError != nil {
			e.onError(err)
		}
		return nil
	}
	e.c.exported.Add(uint64(n))
	return nil
}

func (e *countingExporter) Shutdown(ctx context.Context) error { return e.next.Shutdown(ctx) }

func (e *countingExporter) err() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.lastErr
}
