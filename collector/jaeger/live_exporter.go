package jaeger

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"

	"github.com/stagescope/stagescope/collector/otlpconv"
	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/spans"
)

// LiveExporter sends spans to Jaeger over OTLP as they end: it is a
// dispatcher handler for in-process spans, and Ingested takes spans that
// arrived over OTLP (serve --export-jaeger). A bounded queue is drained by
// one background goroutine in batches; the caller never waits for the
// network, and a span that finds the queue full is dropped and counted
// (Stats). Spans keep their own service: one that came from elsewhere its
// resource, one made in process its service.name attribute, else
// WithServiceName's. Attach it with AddSpanHandler and AddEventHandler;
// detach it before Shutdown.
type LiveExporter struct {
	cfg    config
	url    string
	client otlptrace.Client
	c      liveCounters

	mu      sync.Mutex
	queue   []queuedSpan
	events  map[spans.SpanID][]event.Record // events of in-process spans still running
	nEvents int
	lastErr error

	wake chan struct{}
	stop chan struct{}
	done chan struct{}
	once sync.Once
	err  error
}

type queuedSpan struct {
	span   *spans.Span
	events []event.Record
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

// liveCounters are the live exporter's tallies. Every ended span is, after
// Shutdown, exactly one of exported, failed or dropped.
type liveCounters struct {
	ended    atomic.Uint64
	dropped  atomic.Uint64
	exported atomic.Uint64
	failed   atomic.Uint64
	queued   atomic.Int64
	closed   atomic.Bool // Shutdown has begun: spans are dropped
}

// NewLiveExporter returns a live exporter posting to endpoint (default
// DefaultOTLPEndpoint; without a path, /v1/traces is appended).
// WithQueueSize bounds the queue, WithBatchSize and WithBatchTimeout shape
// the requests. It ignores WithProgress.
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
	l := &LiveExporter{
		cfg: cfg, url: u, client: client, events: map[spans.SpanID][]event.Record{},
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	go l.run()
	return l, nil
}

// SpanStarted implements dispatcher.SpanHandler; a span is sent when it ends.
func (l *LiveExporter) SpanStarted(*spans.Span) {}

// SpanEnded implements dispatcher.SpanHandler. After Shutdown the span is
// counted as dropped.
func (l *LiveExporter) SpanEnded(s *spans.Span) {
	l.mu.Lock()
	evs := l.events[s.SpanID]
	if evs != nil {
		delete(l.events, s.SpanID)
		l.nEvents -= len(evs)
	}
	l.enqueueLocked(s, evs)
	l.mu.Unlock()
	l.signal()
}

// Ingested queues spans that arrived from another process, with their span
// events (collector.WithOnIngested). Neither slice may change afterwards.
func (l *LiveExporter) Ingested(ss []spans.Span, evs []event.Record) {
	var bySpan map[spans.SpanID][]event.Record
	if len(evs) > 0 {
		bySpan = make(map[spans.SpanID][]event.Record)
		for _, e := range evs {
			bySpan[e.SpanID] = append(bySpan[e.SpanID], e)
		}
	}
	l.mu.Lock()
	for i := range ss {
		l.enqueueLocked(&ss[i], bySpan[ss[i].SpanID])
	}
	l.mu.Unlock()
	l.signal()
}

func (l *LiveExporter) enqueueLocked(s *spans.Span, evs []event.Record) {
	l.c.ended.Add(1)
	if l.c.closed.Load() || len(l.queue) >= l.cfg.queueSize {
		l.c.dropped.Add(1)
		return
	}
	l.queue = append(l.queue, queuedSpan{s, evs})
	l.c.queued.Add(1)
}

func (l *LiveExporter) signal() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// HandleEvent implements dispatcher.EventHandler: the event waits for its
// span to end. At most the queue size of events wait; more are dropped.
func (l *LiveExporter) HandleEvent(e event.Event) {
	if l.c.closed.Load() {
		return
	}
	r := event.ToRecord(e)
	l.mu.Lock()
	if l.nEvents < l.cfg.queueSize {
		l.events[r.SpanID] = append(l.events[r.SpanID], r)
		l.nEvents++
	}
	l.mu.Unlock()
}

// run sends a batch when one is full or the batch timeout has passed since
// the first queued span, until Shutdown; then it sends what is left.
func (l *LiveExporter) run() {
	defer close(l.done)
	timer := time.NewTimer(l.cfg.batchTimeout)
	defer timer.Stop()
	for {
		l.mu.Lock()
		n := len(l.queue)
		l.mu.Unlock()
		if n >= l.cfg.batchSize {
			l.send(context.Background())
			continue
		}
		select {
		case <-l.stop:
			return
		case <-l.wake:
		case <-timer.C:
			l.send(context.Background())
			timer.Reset(l.cfg.batchTimeout)
		}
	}
}

// send exports up to one batch from the head of the queue.
func (l *LiveExporter) send(ctx context.Context) bool {
	l.mu.Lock()
	n := min(len(l.queue), l.cfg.batchSize)
	if n == 0 {
		l.mu.Unlock()
		return false
	}
	batch := make([]*spans.Span, n)
	var evs []event.Record
	for i, q := range l.queue[:n] {
		batch[i] = q.span
		evs = append(evs, q.events...)
	}
	l.queue = append(l.queue[:0], l.queue[n:]...)
	l.mu.Unlock()
	l.c.queued.Add(-int64(n))
	ctx, cancel := context.WithTimeout(ctx, l.cfg.timeout)
	defer cancel()
	if err := l.client.UploadTraces(ctx, otlpconv.ToResourceSpans(batch, evs, l.cfg.service)); err != nil {
		l.c.failed.Add(uint64(n))
		err = fmt.Errorf("cannot export %d spans to %s: %w", n, l.url, err)
		l.mu.Lock()
		l.lastErr = err
		l.mu.Unlock()
		if l.cfg.onError != nil {
			l.cfg.onError(err)
		}
		return true
	}
	l.c.exported.Add(uint64(n))
	return true
}

// Dropped returns how many spans were dropped because the queue was full.
func (l *LiveExporter) Dropped() uint64 { return l.c.dropped.Load() }

// Stats returns the exporter's counters.
func (l *LiveExporter) Stats() LiveStats {
	l.mu.Lock()
	lastErr := l.lastErr
	l.mu.Unlock()
	return LiveStats{
		Ended: l.c.ended.Load(), Exported: l.c.exported.Load(), Failed: l.c.failed.Load(),
		Dropped: l.c.dropped.Load(), Queued: uint64(max(l.c.queued.Load(), 0)), LastErr: lastErr,
	}
}

// Shutdown sends the queued spans and stops the exporter; spans ending
// afterwards are dropped and counted. It honours ctx: spans still queued
// when ctx ends are counted as dropped.
func (l *LiveExporter) Shutdown(ctx context.Context) error {
	l.once.Do(func() {
		l.c.closed.Store(true)
		close(l.stop)
		<-l.done
		for ctx.Err() == nil && l.send(ctx) {
		}
		l.mu.Lock()
		left := len(l.queue)
		l.queue = nil
		l.mu.Unlock()
		if left > 0 {
			l.c.queued.Add(-int64(left))
			l.c.dropped.Add(uint64(left))
			l.err = fmt.Errorf("live export to %s stopped with %d spans unsent: %w", l.url, left, ctx.Err())
		}
		if err := l.client.Stop(ctx); err != nil && l.err == nil {
			l.err = fmt.Errorf("cannot shut down live export to %s: %w", l.url, err)
		}
	})
	return l.err
}
