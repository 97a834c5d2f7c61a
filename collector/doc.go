// Package collector turns spans and events into rows: the in-process
// dispatcher handler, the bounded queue and the single batch writer, OTLP/HTTP
// decoding with the mapping of foreign semantic conventions onto stages, the
// SQLite store with its queries for the dashboard, retention, and
// self-metrics.
//
// The dashboard reads a Source (source.go): the store implements it, and so
// does the Jaeger source (package jaeger), which reads a Jaeger deployment
// and answers stage aggregates from a sample of traces (TraceRollup,
// SampleOf, the same histograms and sampling policy as the store) or from a
// StageMetrics provider.
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
// A span acknowledged to an OTLP client is in a committed transaction.
//
// # Schema (migrations package)
//
// SQLite inserts are fast while they append and several times slower when
// every row also lands on a random page of an index on a random key such as
// a trace id: each such insert dirties a page of its own, and the writes and
// checkpoints grow with the data. The schema (migration 0006) keeps the hot
// path appending:
//
//   - chunks: the spans and events of one trace that one writer batch
//     brings form a part; the parts of a few dozen traces (about 64 KiB
//     encoded) are compressed together with zstd into one row. Within a
//     chunk, span bodies keep the compact encoding of codec.go (resource as
//     an id into resources, typed attributes) and times are varint deltas;
//     compression removes the keys and values that repeat from span to
//     span. A RAG-shaped span costs about 60 bytes on disk. Chunks are
//     compressed by goroutines beside the writer and inserted in id order.
//     The whole of a small batch (low-rate, in-process traffic) is
//     compressed against a dictionary made of the store's own earlier
//     chunks (chunkdict.go, migration 0009), which reaches what traces
//     repeat far apart: the demo's traces take under 100 bytes a span.
//   - traces has one row per trace with an INTEGER PRIMARY KEY in arrival
//     order, holding the summary a trace list needs (root name and status,
//     service, start, end, span and error counts, a bit set of stages, run
//     id) and the chunk of its first part (more_chunks lists later parts).
//     traces_by_start, traces_by_service and traces_by_run end in the trace
//     id and order the list; start times grow with arrival, so they append
//     too. A later part of a known trace updates its row in place.
//   - A trace is found by its id through blocks, the shape of a time-series
//     database's blocks: rows after the last sealed block (the head, at
//     most DefaultBlockTraces) are a map in memory, rebuilt from traces at
//     start; when the head is full the writer writes its ids once, sorted,
//     to trace_ids (keyed by block and trace id, so the write appends) and a
//     Bloom filter to trace_blocks. A lookup checks the head, then the
//     filters in memory (one cache line each), then probes the sorted run of
//     the few blocks that may hold the id. The duplicate check of every
//     ingested trace is that lookup; only a trace found stored decodes its
//     earlier parts' span ids.
//   - Rows written before migration 0006 keep their spans and events tables
//     (a row each) and their id ranges (span_parts, event_parts); the
//     migration copies their trace rows into the new table and seals them
//     as block 1, and readers take both layouts.
//   - stage_rollups holds, per minute, run and stage, the count, errors,
//     total and self time and two fixed log-scale histograms (duration, self
//     time). The writer keeps the rows of recent minutes in memory and
//     rewrites the few it touched per batch, so a stage breakdown over a
//     million traces merges a few thousand small rows instead of scanning
//     spans. Stage 255 (StageTrace) holds root spans: end-to-end latency.
//   - token_rollups holds, per minute, run, stage and model, the tokens of
//     the spans that report some and have none below them that does (the
//     report's rule, so a parent repeating its children's totals counts
//     once; a child arriving after such a parent does not take it back).
//     Tokens, not dollars: cost is priced when read. A row keeps at most 64
//     model names (the rest count as "other models"), since any client
//     names them.
//   - drops counts, per minute, spans and events dropped or refused; runs
//     holds benchmark runs; resources interns OpenTelemetry resources.
//
// Retention deletes the oldest traces, the chunks below the first chunk of
// the oldest trace kept (chunk ids grow with trace rows) but those a
// dictionary still in use is made of, and the sealed blocks whose traces
// are all gone.
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
