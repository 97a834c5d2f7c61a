// Package collector turns spans and events into rows: the in-process
// dispatcher handler, the bounded queue and the single batch writer, OTLP/HTTP
// decoding with the mapping of foreign semantic conventions onto stages, the
// SQLite store with its queries for the dashboard, retention, and
// self-metrics.
//
// # Write path
//
// Handler enqueues finished spans (the immutable *spans.Span itself, no
// copy) into a bounded queue under a short mutex and never waits for
// anything else: a full queue drops and counts. Ingest (OTLP) enqueues a
// whole request or nothing and waits until its spans are committed, so an
// acknowledged span survives a crash; concurrent requests share transactions
// (group commit). One writer goroutine takes everything queued and commits it
// in transactions of up to the batch size on one SQLite connection (WAL,
// synchronous=NORMAL) through statements prepared once at the driver level.
//
// # Schema (migrations package)
//
// SQLite inserts are fast while they append and about 4× slower when every
// row also lands on a random page of an index on a random key such as a
// trace id. The schema is built around that:
//
//   - spans and events have INTEGER PRIMARY KEY ids assigned in arrival
//     order by the single writer, and no secondary index: every insert lands
//     on the last page. A batch is sorted by trace id before it is written,
//     so the spans of one trace in one batch form one contiguous id range.
//   - traces has one row per trace keyed by trace id (WITHOUT ROWID). It is
//     the only random-key B-tree on the hot path and is touched once per
//     (trace, batch), about once per ten spans; it holds the summary a trace
//     list needs (root name and status, service, start, end, span and error
//     counts, a bit set of stages, run id) and the id ranges of its spans and
//     events, which is how GetTrace finds them without a per-span index.
//     traces_by_start orders the list; start times grow, so it appends too.
//   - stage_rollups holds, per minute, run and stage, the count, errors,
//     total and self time and two fixed log-scale histograms (duration, self
//     time). The writer keeps the rows of recent minutes in memory and
//     rewrites the few it touched per batch, so a stage breakdown over a
//     million traces merges a few thousand small rows instead of scanning
//     spans. Stage 255 (StageTrace) holds root spans: end-to-end latency.
//   - drops counts, per minute, spans and events dropped or refused; runs
//     holds benchmark runs.
//
// Self time is a span's duration minus the union of its children's
// intervals (children may overlap). Children usually end, and so arrive,
// before their parent; the writer remembers children's intervals by parent
// in a bounded two-generation index until the parent comes. A child that
// arrives after its parent (another service's exporter flushed later) is
// subtracted from the parent's rollup row, with WithLateChildren, while the
// parent still holds its slot in a direct-mapped table of
// DefaultWrittenIndexLimit recent spans. Only spans that come through
// Ingest (OTLP, other processes) can arrive that way, so a collector fed by
// the in-process handler alone does not pay for remembering them.
//
// # What came in is what is kept
//
// A span keeps its kind, instrumentation scope and resource: resources
// (service.name, service.version, host.name, …) are stored once each in
// the resources table and spans refer to them by id, so the exporters can
// write back exactly what arrived (collector/otlpconv is the one
// translation, both ways). Ingest is idempotent: a span is stored once per
// (trace id, span id), whatever the number of deliveries; copies are
// dropped before anything is written and counted, so that once everything
// is flushed Accepted = Written + Dropped + Duplicate (Metrics), and the
// live mirror (WithOnIngested) never sees a copy.
//
// Times are stored as Unix nanoseconds (the monotonic reading of an
// in-process span is not kept) and read back in UTC.
//
// The package must not block the instrumented pipeline, must not read flags
// or environment variables, and speaks SQL only with bound parameters; the
// fixed statements live in sql/*.sql.
package collector
