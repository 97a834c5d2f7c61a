// Package semconv is stagescope's one reading of the semantic conventions
// that instrumentation libraries write on spans: OpenInference
// (openinference.span.kind, llm.*), OpenTelemetry GenAI (gen_ai.*), the
// Vercel AI SDK's telemetry (ai.*), OpenLLMetry's decorators
// (traceloop.span.kind), database and vector-store spans (db.system,
// db.operation) and stagescope's own keys.
//
// Everything that needs to know what a span is — its stage, its token
// usage, its model, its time to first token — asks this package, so a
// convention is mapped once and means the same thing whichever way the span
// arrived (OTLP ingest, read back from Jaeger, made in process). The
// package reads attributes; it never rewrites a span, so what a source sent
// is what is stored and what is exported.
//
// It must import only the standard library and spans.
package semconv
