package jaeger

import (
	"context"
	"fmt"
	"sync"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"

	"github.com/stagescope/stagescope/collector/otlpconv"
	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/spans"
)

// Exporter sends stored traces to Jaeger.
type Exporter interface {
	// Export sends traces in batches and returns what was delivered. It
	// stops at the first failed request and returns its error; the Stats
	// then count what was delivered before it. Export honours ctx.
	Export(ctx context.Context, traces []Trace) (Stats, error)
	// Shutdown sends anything still buffered and releases the exporter.
	Shutdown(ctx context.Context) error
}

var (
	_ Exporter = (*OTLPExporter)(nil)
	_ Exporter = (*ThriftExporter)(nil)
)

// OTLPExporter replays stored traces over OTLP/HTTP, keeping trace and span
// IDs. A span that came from another instrumentation leaves exactly as it
// was stored (its resource, scope, kind and attributes); one stagescope
// made itself goes to the service of its service.name attribute, else
// WithServiceName's, with the convention aliases otlpconv adds.
type OTLPExporter struct {
	cfg    config
	url    string
	client otlptrace.Client

	mu     sync.Mutex // one Export at a time
	closed bool
}

// NewOTLPExporter returns an exporter that posts to endpoint (default
// DefaultOTLPEndpoint; without a path, /v1/traces is appended). It ignores
// WithQueueSize, WithBatchTimeout and WithErrorHandler.
func NewOTLPExporter(ctx context.Context, endpoint string, opts ...Option) (*OTLPExporter, error) {
	cfg := newConfig(opts)
	u, err := otlpTracesURL(endpoint)
	if err != nil {
		return nil, err
	}
	client, err := newOTLPClient(ctx, u, cfg)
	if err != nil {
		return nil, err
	}
	return &OTLPExporter{cfg: cfg, url: u, client: client}, nil
}

// Export implements Exporter.
func (e *OTLPExporter) Export(ctx context.Context, traces []Trace) (Stats, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var st Stats
	if e.closed {
		return st, ErrShutdown
	}
	var (
		batch         []*spans.Span
		events        []event.Record
		pendingTraces int
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		rss := otlpconv.ToResourceSpans(batch, events, e.cfg.service)
		if err := e.client.UploadTraces(ctx, rss); err != nil {
			return fmt.Errorf("cannot export %d spans to %s: %w", len(batch), e.url, err)
		}
		st.Batches++
		st.Spans += len(batch)
		st.Events += len(events)
		st.Traces += pendingTraces
		batch, events, pendingTraces = batch[:0], events[:0], 0
		if e.cfg.progress != nil {
			e.cfg.progress(st, len(traces))
		}
		return nil
	}
	for _, t := range traces {
		if err := ctx.Err(); err != nil {
			return st, fmt.Errorf("export to %s cancelled: %w", e.url, err)
		}
		evs := eventsBySpan(t)
		for _, s := range t.Spans {
			if s == nil {
				continue
			}
			batch = append(batch, s)
			events = append(events, evs[s.SpanID]...)
			if len(batch) >= e.cfg.batchSize {
				if err := flush(); err != nil {
					return st, err
				}
			}
		}
		pendingTraces++
	}
	if err := flush(); err != nil {
		return st, err
	}
	return st, nil
}

// Shutdown implements Exporter.
func (e *OTLPExporter) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	if err := e.client.Stop(ctx); err != nil {
		return fmt.Errorf("cannot shut down OTLP exporter for %s: %w", e.url, err)
	}
	return nil
}
