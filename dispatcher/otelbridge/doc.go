// Package otelbridge turns stagescope spans and events into OpenTelemetry
// spans and span events on any OpenTelemetry TracerProvider, so that
// everything the dispatcher sees can be exported with the OTel SDK's
// exporters (OTLP to Jaeger, for example).
//
// Each stagescope span becomes one OTel span with the same start and end
// times, name, status, attributes, tags (as "tag.<key>" attributes) and links,
// plus the stage under three conventions: stagescope.stage,
// openinference.span.kind and, where one applies, gen_ai.operation.name; LLM
// token counts are also written as gen_ai.usage.* and llm.token_count.*.
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
