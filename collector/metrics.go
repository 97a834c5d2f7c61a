package collector

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics is a snapshot of the collector's self-observation. Once the queue
// is flushed, SpansAccepted = SpansWritten + SpansDropped + SpansDuplicate;
// for OTLP every span is either accepted or refused (and the client
// retries), and invalid spans are rejected before either.
type Metrics struct {
	SpansAccepted, EventsAccepted uint64 // queued
	SpansWritten, EventsWritten   uint64 // committed
	SpansDropped, EventsDropped   uint64 // lost: full queue (in-process) or a failed batch
	// SpansDuplicate counts spans not written because a span with the same
	// trace and span id was stored already or came in the same batch (a
	// retried OTLP delivery); the events that came with them are dropped
	// too and not counted here.
	SpansDuplicate              uint64
	SpansRefused, EventsRefused uint64 // Ingest said ErrQueueFull/ErrClosed (OTLP 429/503)
	SpansRejected               uint64 // invalid spans in OTLP requests (partial success)
	Batches                     uint64 // committed transactions
	WriteErrors                 uint64 // failed transactions
	QueueDepth, QueueCapacity   int
	LastBatchLatency            time.Duration
	BatchLatencyTotal           time.Duration // sum over all batches, for a mean
}

type counters struct {
	spansAccepted, eventsAccepted atomic.Uint64
	spansWritten, eventsWritten   atomic.Uint64
	spansDropped, eventsDropped   atomic.Uint64
	spansRefused, eventsRefused   atomic.Uint64
	spansRejected                 atomic.Uint64
	batches, writeErrors          atomic.Uint64
	lastLatency, totalLatency     atomic.Int64

	// What has been counted into the drops table, touched by the writer only.
	recMu                           sync.Mutex
	recSpans, recEvents, recRefused uint64
	batchLatency                    prometheus.Histogram
}

func (m *counters) init() {
	m.batchLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "stagescope", Subsystem: "collector", Name: "batch_seconds",
		Help:    "Time to commit one batch of spans and events to SQLite.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
	})
}

func (m *counters) observeBatch(d time.Duration) {
	m.lastLatency.Store(int64(d))
	m.totalLatency.Add(int64(d))
	m.batchLatency.Observe(d.Seconds())
}

// unrecordedDrops returns the drops not yet written to the drops table and
// marks them recorded.
func (m *counters) unrecordedDrops() dropCounts {
	m.recMu.Lock()
	defer m.recMu.Unlock()
	s, e, r := m.spansDropped.Load(), m.eventsDropped.Load(), m.spansRefused.Load()
	d := dropCounts{int64(s - m.recSpans), int64(e - m.recEvents), int64(r - m.recRefused)}
	m.recSpans, m.recEvents, m.recRefused = s, e, r
	return d
}

// requeueDrops undoes unrecordedDrops for a batch that failed.
func (m *counters) requeueDrops(d dropCounts) {
	m.recMu.Lock()
	m.recSpans -= uint64(d.spans)
	m.recEvents -= uint64(d.events)
	m.recRefused -= uint64(d.refused)
	m.recMu.Unlock()
}

// Metrics returns the current counters.
func (c *Collector) Metrics() Metrics {
	m := &c.m
	return Metrics{
		SpansAccepted: m.spansAccepted.Load(), EventsAccepted: m.eventsAccepted.Load(),
		SpansWritten: m.spansWritten.Load(), EventsWritten: m.eventsWritten.Load(),
		SpansDropped: m.spansDropped.Load(), EventsDropped: m.eventsDropped.Load(),
		SpansRefused: m.spansRefused.Load(), EventsRefused: m.eventsRefused.Load(),
		SpansRejected: m.spansRejected.Load(), SpansDuplicate: c.w.duplicates.Load(),
		Batches: m.batches.Load(), WriteErrors: m.writeErrors.Load(),
		QueueDepth: c.q.depth(), QueueCapacity: c.cfg.queueSize,
		LastBatchLatency:  time.Duration(m.lastLatency.Load()),
		BatchLatencyTotal: time.Duration(m.totalLatency.Load()),
	}
}

// promCollector exposes Metrics in the Prometheus format.
type promCollector struct {
	c     *Collector
	descs map[string]*prometheus.Desc
}

var promCounters = []struct{ name, help string }{
	{"spans_accepted_total", "Spans accepted into the queue."},
	{"events_accepted_total", "Events accepted into the queue."},
	{"spans_written_total", "Spans committed to the store."},
	{"events_written_total", "Events committed to the store."},
	{"spans_dropped_total", "Spans lost: queue full (in-process) or a failed write."},
	{"events_dropped_total", "Events lost: queue full (in-process) or a failed write."},
	{"spans_refused_total", "OTLP spans refused with 429/503 (the client retries)."},
	{"spans_rejected_total", "Invalid OTLP spans rejected (partial success)."},
	{"spans_duplicate_total", "Spans not written again: their trace and span id were stored already or came twice in one batch (retried deliveries)."},
	{"batches_total", "Batches committed."},
	{"write_errors_total", "Batches that failed to commit."},
}

// PrometheusCollector returns a prometheus.Collector for the collector's
// self-metrics (stagescope_collector_*): counters, queue depth and capacity,
// and a histogram of batch commit latency. Register it with a registry that
// serves /metrics.
func (c *Collector) PrometheusCollector() prometheus.Collector {
	p := &promCollector{c: c, descs: map[string]*prometheus.Desc{}}
	for _, pc := range promCounters {
		p.descs[pc.name] = prometheus.NewDesc("stagescope_collector_"+pc.name, pc.help, nil, nil)
	}
	p.descs["queue_depth"] = prometheus.NewDesc("stagescope_collector_queue_depth", "Spans and events waiting for the writer.", nil, nil)
	p.descs["queue_capacity"] = prometheus.NewDesc("stagescope_collector_queue_capacity", "Queue capacity in spans and events.", nil, nil)
	return p
}

func (p *promCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range p.descs {
		ch <- d
	}
	p.c.m.batchLatency.Describe(ch)
}

func (p *promCollector) Collect(ch chan<- prometheus.Metric) {
	m := p.c.Metrics()
	vals := map[string]uint64{
		"spans_accepted_total": m.SpansAccepted, "events_accepted_total": m.EventsAccepted,
		"spans_written_total": m.SpansWritten, "events_written_total": m.EventsWritten,
		"spans_dropped_total": m.SpansDropped, "events_dropped_total": m.EventsDropped,
		"spans_refused_total": m.SpansRefused, "spans_rejected_total": m.SpansRejected, "spans_duplicate_total": m.SpansDuplicate,
		"batches_total": m.Batches, "write_errors_total": m.WriteErrors,
	}
	for name, v := range vals {
		ch <- prometheus.MustNewConstMetric(p.descs[name], prometheus.CounterValue, float64(v))
	}
	ch <- prometheus.MustNewConstMetric(p.descs["queue_depth"], prometheus.GaugeValue, float64(m.QueueDepth))
	ch <- prometheus.MustNewConstMetric(p.descs["queue_capacity"], prometheus.GaugeValue, float64(m.QueueCapacity))
	p.c.m.batchLatency.Collect(ch)
}
