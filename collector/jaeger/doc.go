// Package jaeger moves stagescope traces to and from Jaeger.
//
// Three directions are covered:
//
//   - Replay of stored traces (NewOTLPExporter, NewThriftExporter): finished
//     spans and their events, for example read from the SQLite store, are sent
//     to Jaeger in batches with the same trace and span IDs, parents, times,
//     status, attributes and events. OTLP over HTTP is the default: the
//     messages come from collector/otlpconv and travel through the
//     OpenTelemetry SDK's OTLP/HTTP client, so a span that arrived from
//     another instrumentation leaves with its own resource, scope, kind and
//     attributes and nothing added. The Thrift exporter speaks jaeger.thrift over HTTP to
//     the collector's /api/traces endpoint through
//     github.com/uber/jaeger-client-go's transport, for old collectors that do
//     not accept OTLP.
//   - Live export (NewLiveExporter): a dispatcher handler, and a sink for
//     spans ingested over OTLP (Ingested), that sends every span to Jaeger as
//     it ends, each with its own service. The queue is bounded; a span that
//     finds it full is dropped and counted, so export never slows the
//     pipeline down.
//   - Reading back (NewQueryClient): traces stored in Jaeger are fetched
//     through its /api/v3 query API and turned back into stagescope spans and
//     events, so that the bottleneck analysis can run on traces kept in a
//     distributed Jaeger.
//   - Serving from Jaeger (NewSource): a collector.Source over the query
//     client, so the dashboard and its API read a Jaeger deployment through
//     the same interface as the SQLite store. Windows are read in time
//     slices with bounded concurrency and a cap on traces, fanned out over
//     services, cached briefly and shared between concurrent requests;
//     stage aggregates come from a sample of traces or from a
//     collector.StageMetrics provider (Prometheus' spanmetrics).
//
// A span read from Jaeger goes through the same translation as OTLP ingest
// (collector/otlpconv, spans/semconv), so its stage, tokens and model mean
// what they meant when it was ingested. Spans stagescope exported itself
// are recognised by their stagescope.stage and matching
// openinference.span.kind and read back without the aliases the export
// added.
//
// The package must not read flags or environment variables: every setting,
// including those the OTEL_EXPORTER_OTLP_* variables name, arrives through
// options, and the options this package always sets take precedence over the
// OpenTelemetry SDK's own environment lookup. It must not write to the
// collector's store either; callers hand it traces and take traces from it.
package jaeger
