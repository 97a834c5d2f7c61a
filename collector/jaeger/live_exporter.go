package jaeger

import (
	"context"
	"fmt"
	"sync"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/dispatcher/otelbridge"
	"github.com/stagescope/stagescope/spans"
)

// LiveExporter is a dispatcher handler that sends every span, as it ends,
// to Jaeger over OTLP: the OpenTelemetry bridge feeds the SDK's batch span
// processor, whose bounded queue is drained by a background goroutine. The
// handler never waits for the network; a span that finds the queue full is
// dropped and counted (Stats). Attach it with AddSpanHandler and
// AddEventHandler; detach it before Shutdown.
type LiveExporter struct {
	bridge *otelbridge.Bridge
	tp     *sdktrace.TracerProvider
	exp    *countingExporter
	c      *liveCounters
	url    string

	once sync.Once
	err  error
}

var (
	_ dispatcher.SpanHandler  = (*LiveExporter)(nil)
	_ dispatcher.EventHandler = (*LiveExporter)(nil)
)

// LiveStats counts a live exporter's spans. After Shutdown returns without
// error, Ended == Exported + Failed + Dropped.
type LiveStats struct {
	Ended    uint64 // spans that reached the exporter
	Exported uint64 // accepted by Jaeger
	Failed   uint64 // in requests that failed
	Dropped  uint64 // refused because the queue was full (or after Shutdown)
	Queued   uint64 // waiting for export now
	LastErr  error  // the last failed request's error, if any
}

// NewLiveExporter returns a live exporter posting to endpoint (default
// DefaultOTLPEndpoint; without a path, /v1/traces is appended). Every span
// goes to the service WithServiceName names. WithQueueSize bounds the queue,
// WithBatchSize and WithBatchTimeout shape the requests. It ignores
// WithProgress.
func NewLiveExporter(ctx context.Context, endpoint string, opts ...Option) (*LiveExporter, error) {
	cfg := newConfig(opts)
	u, err := otlpTracesURL(endpoint)
	if err != nil {
		return nil, err
	}
	client, err := newOTLPClient(ctx, u, cfg)
	if err != nil {
		return nil, err
	}
	c := &liveCounters{}
	exp := &countingExporter{next: client, c: c, onError: cfg.onError}
	batch := min(cfg.batchSize, cfg.queueSize)
	bsp := sdktrace.NewBatchSpanProcessor(exp,
		sdktrace.WithMaxQueueSize(cfg.queueSize),
		sdktrace.WithMaxExportBatchSize(batch),
		sdktrace.WithBatchTimeout(cfg.batchTimeout),
		sdktrace.WithExportTimeout(cfg.timeout),
	)
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithResource(serviceResource(cfg.service)),
		sdktrace.WithIDGenerator(otelbridge.IDGenerator()),
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithRawSpanLimits(unlimitedSpans()),
		sdktrace.WithSpanProcessor(&gateProcessor{next: bsp, limit: int64(cfg.queueSize), c: c}),
	)
	return &LiveExporter{bridge: otelbridge.New(tp), tp: tp, exp: exp, c: c, url: u}, nil
}

// SpanStarted implements dispatcher.SpanHandler.
func (l *LiveExporter) SpanStarted(s *spans.Span) {
	if !l.c.closed.Load() {
		l.bridge.SpanStarted(s)
	}
}

// SpanEnded implements dispatcher.SpanHandler. After Shutdown the span is
// counted as dropped.
func (l *LiveExporter) SpanEnded(s *spans.Span) {
	if l.c.closed.Load() {
		l.c.ended.Add(1)
		l.c.dropped.Add(1)
		return
	}
	l.bridge.SpanEnded(s)
}

// HandleEvent implements dispatcher.EventHandler.
func (l *LiveExporter) HandleEvent(e event.Event) {
	if !l.c.closed.Load() {
		l.bridge.HandleEvent(e)
	}
}

// Dropped returns how many spans were dropped because the queue was full.
func (l *LiveExporter) Dropped() uint64 { return l.c.dropped.Load() }

// Stats returns the exporter's counters.
func (l *LiveExporter) Stats() LiveStats {
	q := l.c.queued.Load()
	return LiveStats{
		Ended: l.c.ended.Load(), Exported: l.c.exported.Load(), Failed: l.c.failed.Load(),
		Dropped: l.c.dropped.Load(), Queued: uint64(max(q, 0)), LastErr: l.exp.err(),
	}
}

// Shutdown sends the queued spans and stops the exporter; spans ending
// afterwards are dropped and counted. It honours ctx: spans still queued
// when ctx ends are neither exported nor failed. Detach the exporter from
// the dispatcher first: a span ending while Shutdown runs may go uncounted.
func (l *LiveExporter) Shutdown(ctx context.Context) error {
	l.once.Do(func() {
		l.c.closed.Store(true)
		if err := l.tp.Shutdown(ctx); err != nil {
			l.err = fmt.Errorf("cannot shut down live export to %s: %w", l.url, err)
		}
	})
	return l.err
}
