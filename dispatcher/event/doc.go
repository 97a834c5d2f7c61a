// Package event is the typed event catalogue: one file per pipeline domain
// (worker pool, retry, embedding, retrieval, rerank, synthesis, LLM, storage,
// query, exception). Every event embeds a Header that the dispatcher fills
// with the time, the current span and the context's tags, and every event can
// render itself as typed attributes so that generic consumers (the collector,
// the OpenTelemetry bridge) need no type switch.
//
// Emitting an event boxes it in an interface, so instrumented code checks
// Dispatcher.EventsEnabled before building one on a hot path.
package event
