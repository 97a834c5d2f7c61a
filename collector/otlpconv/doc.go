// Package otlpconv is stagescope's one translation between OpenTelemetry
// trace data and stagescope spans, in both directions.
//
// In: OTLP/HTTP request bodies (binary protobuf and OTLP/JSON) and the
// OTLP/JSON answers of Jaeger's api/v3 query API decode to the same
// protobuf messages, and FromResourceSpans turns those into spans and
// events: ids, times, status, span kind, attributes, events, links, the
// instrumentation scope and its version, and the resource, shared by every
// span of one ResourceSpans. The stage comes from spans/semconv; nothing is
// added to or removed from the attributes, so what a source sent is what is
// stored.
//
// Out: ToResourceSpans groups spans by resource and scope for OTLP export.
// A span that came from elsewhere leaves exactly as it came; a span
// stagescope made itself gets a resource naming its service and the
// convention aliases of semconv.Aliases, so other tools can read it.
//
// The package must not do I/O: the collector's ingest, the Jaeger query
// client and the exporters do that and call it.
package otlpconv
