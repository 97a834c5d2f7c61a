// Package prom reads stagescope's per-stage aggregates from Prometheus: the
// series the OpenTelemetry Collector's spanmetrics connector computes in the
// Jaeger v2 collectors of the reference deployment (tools/deploy), queried
// through Prometheus' HTTP API (/api/v1/query, /api/v1/query_range).
//
// A Reader answers the same two questions as the SQLite store's rollups,
// with the same types: StageBreakdown (per-stage counts, errors, summed
// time and latency percentiles over a window, optionally for one run) and
// Timeseries (end-to-end latency percentiles, throughput and errors per
// step, from the root spans' histogram).
//
// # Stages
//
// The collectors cannot compute a span's stage: spans/semconv.Stage maps
// values (openinference.span.kind=RETRIEVER is retrieve, gen_ai.operation.name
// =chat is llm) and span names, which no stock collector processor does. So
// the connector keeps, as dimensions, every attribute that mapping reads
// (semconv.StageKeys) besides the span name, and this package applies
// semconv.Stage to each series' labels (LabelName gives the label of an
// attribute): a span gets the stage here that it gets when ingested over
// OTLP, whichever client sent it. A span fails as at ingest too: an error
// status, or an unset one with a convention's failure mark
// (semconv.FailureKeys, semconv.FailedByConvention).
//
// # Exactness
//
// Counts, errors and summed durations are exact: the value of each counter
// at the window's end minus its value at the start (a series that appears
// inside the window counts from zero; a counter that went down, a collector
// restart, counts from its reset), never Prometheus' extrapolating
// increase(). They are exact to the scrape: a span is in the window when a
// scrape inside the window first saw it. Percentiles are estimated from the
// histogram buckets with histogram_quantile's interpolation, so they are
// within the bucket that holds the exact value; the buckets are chosen in
// tools/deploy/collector.yaml.
//
// What spanmetrics does not know is left zero: self time (Self, SelfP50…,
// SelfShare — a span's self time needs its children, which a per-span
// metric never sees) and dropped spans (Point.Drops). The trace view, the
// critical path and the report come from the traces themselves, not from
// here.
//
// The package must not read flags or environment variables; the
// Prometheus URL and settings arrive through New and its options.
package prom
