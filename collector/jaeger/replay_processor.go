package jaeger

import (
	"context"
	"sync"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// replayProcessor collects ended spans so that Export can send them itself,
// synchronously and with the caller's context, and see every error.
type replayProcessor struct {
	mu    sync.Mutex
	ended []sdktrace.ReadOnlySpan
}

var _ sdktrace.SpanProcessor = (*replayProcessor)(nil)

func (p *replayProcessor) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

func (p *replayProcessor) OnEnd(s sdktrace.ReadOnlySpan) {
	p.mu.Lock()
	p.ended = append(p.ended, s)
	p.mu.Unlock()
}

func (p *replayProcessor) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.ended)
}

// take returns the collected spans and starts a new batch.
func (p *replayProcessor) take() []sdktrace.ReadOnlySpan {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.ended
	p.ended = nil
	return out
}

func (p *replayProcessor) Shutdown(context.Context) error   { return nil }
func (p *replayProcessor) ForceFlush(context.Context) error { return nil }
