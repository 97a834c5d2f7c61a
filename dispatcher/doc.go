// Package dispatcher is stagescope's hub: every instrumented pipeline stage
// starts and ends spans and emits typed events through a Dispatcher, and the
// handlers attached to dispatchers (a recorder, a tree printer, the collector,
// the OpenTelemetry bridge, your own) receive them.
//
// Dispatchers form a tree by dotted name: Get("engine.retrieve") has parent
// Get("engine"), whose parent is Root(). A span or event is delivered to the
// handlers of its dispatcher and, while Propagate is on (the default), to
// those of every ancestor, the way LlamaIndex's instrumentation dispatchers
// propagate.
//
// The parent of a new span travels in context.Context, never in
// goroutine-local state, so children started in other goroutines, worker
// pools or streams keep their parent.
//
// Handlers may be attached and removed at any time from any goroutine: each
// dispatcher keeps a copy-on-write snapshot that is swapped atomically. When
// no handler listens, Start returns the caller's context and a nil *Span
// whose methods do nothing, costing a few nanoseconds and no allocation. A
// handler that panics is recovered, counted and reported once through the
// error handler; the pipeline goes on.
//
// A dispatcher may deliver only a fraction of traces (SetSampling, or
// SampleFor for a bounded time): the decision is made where a trace starts,
// from its trace ID, and its later spans follow their parent. All and the
// SpanHandlers and EventHandlers of each dispatcher describe the tree at
// run time, for debug endpoints.
//
// The package must not do I/O of its own on the hot path or import anything
// beyond spans and the standard library; exporters live in sub-packages.
package dispatcher
