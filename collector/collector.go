package collector

import (
	"context"
	"errors"
	"log"
	"sync"
	"time"

	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/spans"
)

// Defaults of the collector.
const (
	// DefaultQueueSize is how many spans and events may wait for the writer.
	// At about 300 bytes a span it bounds the queue near 20 MB.
	DefaultQueueSize = 1 << 16
	// DefaultBatchSize is the most spans and events committed in one
	// transaction; large transactions are what make SQLite fast.
	DefaultBatchSize = 4096
	// DefaultFlushInterval bounds how long an in-process span waits in a
	// partly filled queue.
	DefaultFlushInterval = 200 * time.Millisecond
)

// ErrQueueFull is returned by Ingest when the spans cannot all be accepted
// now; none of them was. OTLP clients are told to retry later.
var ErrQueueFull = errors.New("collector queue full")

type config struct {
	queueSize     int
	batchSize     int
	flushInterval time.Duration
	onError       func(error)
	service       string
	retention     *RetentionPolicy
	lateChildren  bool
	decodeBudget  int64
	admissionWait time.Duration
}

// Option configures New.
type Option func(*config)

// WithQueueSize sets the queue capacity in spans plus events
// (DefaultQueueSize). An Ingest call larger than this is committed in parts.
func WithQueueSize(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.queueSize = n
		}
	}
}

// WithBatchSize sets the largest batch committed in one transaction
// (DefaultBatchSize).
func WithBatchSize(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.batchSize = n
		}
	}
}

// WithFlushInterval sets how often a partly filled queue is written
// (DefaultFlushInterval).
func WithFlushInterval(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.flushInterval = d
		}
	}
}

// WithErrorHandler sets where background errors (a failed batch, a failed
// retention run) go. The default logs them.
func WithErrorHandler(f func(error)) Option {
	return func(c *config) {
		if f != nil {
			c.onError = f
		}
	}
}

// WithService names the service of in-process spans that carry no
// service.name attribute.
func WithService(name string) Option { return func(c *config) { c.service = name } }

// WithLateChildren makes the writer remember recently committed spans (in a
// 4.4 MiB table) so that a child arriving after its parent — from another
// process whose exporter flushed later — is still subtracted from the
// parent's self time in the rollups. It only engages once spans arrive
// through Ingest (OTLP) and costs about 8% of the writer's throughput then;
// `stagescope serve` turns it on. Per-trace analysis never needs it.
func WithLateChildren() Option { return func(c *config) { c.lateChildren = true } }

// WithRetention runs ApplyRetention periodically while the collector runs.
func WithRetention(p RetentionPolicy) Option { return func(c *config) { c.retention = &p } }

// Collector is the bounded queue and the one batch writer in front of a
// SQLiteStore. Spans reach it from the dispatcher (Handler) or from OTLP
// (Ingest). Make one with New; stop it with Shutdown.
type Collector struct {
	store   *SQLiteStore
	cfg     config
	q       *queue
	prog    *progress
	w       *batchWriter
	wake    chan struct{}
	stop    chan struct{}
	stopped chan struct{}
	bg      sync.WaitGroup
	handler *Handler
	adm     *admission
	once    sync.Once
	m       counters
}

// New starts a collector writing to store. The store must stay open until
// Shutdown returns.
func New(store *SQLiteStore, opts ...Option) *Collector {
	cfg := config{queueSize: DefaultQueueSize, batchSize: DefaultBatchSize, flushInterval: DefaultFlushInterval,
		decodeBudget: DefaultDecodeBudget, admissionWait: DefaultAdmissionWait,
		onError: func(err error) { log.Printf("stagescope collector: %v", err) }}
	for _, o := range opts {
		o(&cfg)
	}
	c := &Collector{
		store:   store,
		cfg:     cfg,
		q:       newQueue(cfg.queueSize),
		prog:    newProgress(),
		w:       newBatchWriter(store, cfg.service, cfg.lateChildren),
		wake:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		stopped: make(chan struct{}),
		adm:     newAdmission(cfg.decodeBudget, cfg.admissionWait),
	}
	c.m.init()
	c.handler = &Handler{c: c}
	go c.run()
	if cfg.retention != nil {
		c.bg.Add(1)
		go c.runRetention(*cfg.retention)
	}
	return c
}

// Handler is the in-process dispatcher handler of a Collector: it enqueues
// finished spans and events without blocking and drops (and counts) them
// when the queue is full.
type Handler struct{ c *Collector }

var (
	_ dispatcher.SpanHandler  = (*Handler)(nil)
	_ dispatcher.EventHandler = (*Handler)(nil)
)

// Handler returns the collector's dispatcher handler. Attach it with
// dispatcher.Root().AddSpanHandler(h) and AddEventHandler(h).
func (c *Collector) Handler() *Handler { return c.handler }

// SpanStarted does nothing: only finished spans are stored.
func (h *Handler) SpanStarted(*spans.Span) {}

// EndOnly tells the dispatcher not to call SpanStarted: the collector
// stores finished spans only.
func (h *Handler) EndOnly() bool { return true }

// SpanEnded enqueues s (immutable from now on) or counts it as dropped.
func (h *Handler) SpanEnded(s *spans.Span) {
	c := h.c
	depth, ok := c.q.push(item{span: s})
	if !ok {
		c.m.spansDropped.Add(1)
		return
	}
	c.m.spansAccepted.Add(1)
	if depth == c.cfg.batchSize {
		c.signal()
	}
}

// HandleEvent flattens e into a record and enqueues it, or counts it as
// dropped.
func (h *Handler) HandleEvent(e event.Event) {
	c := h.c
	r := event.ToRecord(e)
	depth, ok := c.q.push(item{ev: &r})
	if !ok {
		c.m.eventsDropped.Add(1)
		return
	}
	c.m.eventsAccepted.Add(1)
	if depth == c.cfg.batchSize {
		c.signal()
	}
}

func (c *Collector) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Ingest queues spans and events and waits until they are committed (they
// share transactions with whatever else is queued: group commit). Up to the
// queue's capacity it accepts all or nothing: ErrQueueFull (or ErrClosed)
// means none was kept and the caller should retry later. A larger call is
// committed in parts (see ingestInParts), so it can always succeed. If ctx
// ends first, Ingest returns its error but the spans, once accepted, are
// still written. The collector keeps references to the slices' elements
// until they are written, so the caller must not modify them.
func (c *Collector) Ingest(ctx context.Context, ss []spans.Span, evs []event.Record) error {
	_, err := c.ingestAll(ctx, ss, evs)
	return err
}

// ingest is Ingest of at most a queue's worth, returning the request with
// the copies the writer dropped as duplicates.
func (c *Collector) ingest(ctx context.Context, ss []spans.Span, evs []event.Record) (*ingestRequest, error) {
	req := &ingestRequest{}
	n := len(ss) + len(evs)
	if n == 0 {
		return req, nil
	}
	if err := c.store.Health(); err != nil {
		c.m.spansRefused.Add(uint64(len(ss)))
		c.m.eventsRefused.Add(uint64(len(evs)))
		return req, err
	}
	seq, err := c.q.pushAll(n, func(i int) item {
		if i < len(ss) {
			return item{span: &ss[i], req: req}
		}
		return item{ev: &evs[i-len(ss)], req: req}
	})
	if err != nil {
		c.m.spansRefused.Add(uint64(len(ss)))
		c.m.eventsRefused.Add(uint64(len(evs)))
		return req, err
	}
	c.m.spansAccepted.Add(uint64(len(ss)))
	c.m.eventsAccepted.Add(uint64(len(evs)))
	c.signal()
	if err := c.prog.wait(ctx, seq); err != nil {
		return req, err
	}
	return req, req.err
}

// Flush writes everything accepted so far and returns when it is committed
// or ctx ends.
func (c *Collector) Flush(ctx context.Context) error {
	target := c.q.seq()
	c.signal()
	return c.prog.wait(ctx, target)
}

// Shutdown stops accepting spans, writes everything already accepted and
// stops the writer. If ctx ends first it returns ctx's error; the writer
// still finishes in the background. The store is not closed.
func (c *Collector) Shutdown(ctx context.Context) error {
	c.once.Do(func() {
		c.q.close()
		close(c.stop)
	})
	select {
	case <-c.stopped:
	case <-ctx.Done():
		return ctx.Err()
	}
	done := make(chan struct{})
	go func() { c.bg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Collector) run() {
	defer close(c.stopped)
	t := time.NewTicker(c.cfg.flushInterval)
	defer t.Stop()
	for {
		select {
		case <-c.wake:
		case <-t.C:
			_ = c.store.Health() // notices vanished files while idle (OnFault logs)
		case <-c.stop:
			// The queue is closed: drain what it holds, then the drop counts.
			for c.drain() > 0 {
			}
			return
		}
		c.drain()
	}
}

// drain writes what is queued, in batches, and returns how many items it
// took.
func (c *Collector) drain() int {
	items := c.q.take()
	drops := c.m.unrecordedDrops()
	if len(items) == 0 {
		if !drops.zero() {
			c.writeBatch(nil, drops)
		}
		c.q.done(0, items)
		return 0
	}
	for off := 0; off < len(items); {
		end := min(off+c.cfg.batchSize, len(items))
		// Never split an Ingest request (its items are contiguous) across
		// two transactions: if the second failed after the first committed,
		// the client's retry would store the first part twice.
		for end < len(items) && items[end].req != nil && items[end].req == items[end-1].req {
			end++
		}
		chunk := items[off:end]
		off = end
		c.writeBatch(chunk, drops)
		drops = dropCounts{}
		c.q.done(len(chunk), nil)
		c.prog.advance(len(chunk))
	}
	c.q.done(0, items)
	return len(items)
}

func (c *Collector) writeBatch(chunk []item, drops dropCounts) {
	b := batch{spans: c.w.batchSpans[:0], events: c.w.batchEvents[:0], drops: drops}
	for _, it := range chunk {
		b.ingested = b.ingested || it.req != nil
		if it.span != nil {
			b.spans = append(b.spans, it.span)
		} else {
			b.events = append(b.events, it.ev)
		}
	}
	start := time.Now()
	// A store that lost its files or met corruption acknowledges nothing;
	// one that loses them during this batch must not acknowledge it either.
	err := c.store.Health()
	if err == nil {
		if err = c.store.Observe(c.w.write(&b)); err == nil {
			err = c.store.Health()
		}
	}
	c.m.observeBatch(time.Since(start))
	if err != nil {
		c.m.writeErrors.Add(1)
		c.m.spansDropped.Add(uint64(len(b.spans)))
		c.m.eventsDropped.Add(uint64(len(b.events)))
		for _, it := range chunk {
			if it.req != nil {
				it.req.err = err
			}
		}
		if drops != (dropCounts{}) {
			c.m.requeueDrops(drops)
		}
		c.cfg.onError(err)
	} else {
		c.m.spansWritten.Add(uint64(len(b.spans)))
		c.m.eventsWritten.Add(uint64(len(b.events)))
		c.m.batches.Add(1)
		noteDuplicates(chunk, &b)
	}
	clear(b.spans)
	clear(b.events)
	c.w.batchSpans, c.w.batchEvents = b.spans[:0], b.events[:0]
}

// noteDuplicates tells each Ingest request of chunk which of its spans and
// events the writer dropped as duplicates (b holds what it wrote). Rare:
// nothing is done unless the batch lost something.
func noteDuplicates(chunk []item, b *batch) {
	var nSpans, nEvents int
	for _, it := range chunk {
		if it.span != nil {
			nSpans++
		} else {
			nEvents++
		}
	}
	if nSpans == len(b.spans) && nEvents == len(b.events) {
		return
	}
	keptSpans := make(map[*spans.Span]bool, len(b.spans))
	for _, sp := range b.spans {
		keptSpans[sp] = true
	}
	keptEvents := make(map[*event.Record]bool, len(b.events))
	for _, e := range b.events {
		keptEvents[e] = true
	}
	for _, it := range chunk {
		switch {
		case it.req == nil:
		case it.span != nil && !keptSpans[it.span]:
			if it.req.dupSpans == nil {
				it.req.dupSpans = map[*spans.Span]bool{}
			}
			it.req.dupSpans[it.span] = true
		case it.ev != nil && !keptEvents[it.ev]:
			if it.req.dupEvents == nil {
				it.req.dupEvents = map[*event.Record]bool{}
			}
			it.req.dupEvents[it.ev] = true
		}
	}
}

// Store returns the store the collector writes to.
func (c *Collector) Store() *SQLiteStore { return c.store }
