// Package otelbridge turns stagescope spans and events into OpenTelemetry
// spans and span events on any OpenTelemetry TracerProvider, so that
// everything the dispatcher sees can be exported with the OTel SDK's
// exporters (OTLP to Jaeger, for example).
//
// Each stagescope span becomes one OTel span with the same start and end
// times, name, kind (internal unless set), status, attributes, tags (as
// "tag.<key>" attributes) and links; the instrumentation scope is the name of
// the dispatcher that made it. The convention aliases come from
// spans/semconv, the same the OTLP exporters write: the stage as
// stagescope.stage, openinference.span.kind and, where one applies,
// gen_ai.operation.name, and model and token counts under the GenAI and
// OpenInference keys.
// Events become span events on the span that was current when they were
// emitted.
//
// Configure the SDK with IDGenerator (sdktrace.WithIDGenerator) and the OTel
// trace and span IDs are exactly stagescope's, so a trace keeps its ID from
// the pipeline to Jaeger. Without it the SDK picks its own IDs and the bridge
// still keeps the parent/child structure.
//
// The bridge does no I/O itself: batching and dropping belong to the SDK's
// span processor.
package otelbridge
