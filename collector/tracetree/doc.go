// Package tracetree is stagescope's one model of a trace: the Trace type
// (the spans and events of one trace, as any source delivers them), the one
// tree builder, and the one self-time computation. Ingest rollups, the trace
// view, the bottleneck analysis and the Jaeger reader all use it, so a span's
// self time and a trace's shape are the same wherever they are shown.
//
// # The tree
//
// Tree.Build arranges a Trace: every span becomes a Node whose Start and End
// are nanoseconds from the trace's earliest start (Tree.Base); an unended
// span has End = Start. Children are listed in start order. The trace's root
// is its one parentless span; a trace with none or several gets a virtual
// root (Node.Span nil) that covers all its top-level spans, so that a trace
// always has exactly one root and an end-to-end extent.
//
// # Spans whose parent is missing
//
// One rule, applied everywhere: a span whose parent ID names no span of the
// trace (its parent was dropped, is still in flight, or lives in a process
// that does not export) is an orphan. It is adopted by the trace's root —
// the work it did was part of the request, and hanging it under the root is
// the closest ancestor we know — and flagged Orphan; Anomalies.Orphans counts
// them. A span that is its own parent is an orphan too. Spans caught in a
// parent cycle (a → b → a) are not reachable from the root: they are flagged
// Unreachable, left out of Order, and counted.
//
// The ingest rollups compute self time as spans arrive and cannot know that
// a parent will never come, so there an orphan is not subtracted from the
// root's self time; the report and the trace view, which see the whole
// trace, do subtract it.
//
// # Self time
//
// A span's self time is its duration minus the union of its children's
// intervals, each clipped to the span: children may overlap one another
// (parallel work, counted once) and may start before or end after their
// parent (clock skew, fire-and-forget work: the part outside is not the
// parent's). SelfTime, on raw intervals, and Tree.SelfTime, on a built tree,
// are the same computation.
//
// # Clock granularity and skew
//
// Timestamps are only as fine as the clock that took them: the OpenTelemetry
// JS SDK stamps to the millisecond (or to a coarsened performance.now), so
// two steps that ran one after the other can appear to overlap by up to one
// tick. Tree.Tick reports a timestamp's resolution: the coarsest of 1 ms,
// 100 µs, 10 µs, 1 µs, 100 ns, 10 ns and 1 ns that divides it, read both as
// an absolute Unix time (clocks that count whole milliseconds) and relative
// to the trace start (clocks offset by a fractional time origin), and capped
// at the maximum tolerance (DefaultMaxTolerance, 1 ms). Tree.Tolerance of two
// timestamps is the coarser of their ticks: an overlap up to it is rounding,
// not concurrency. The critical path (package analysis) uses it to keep
// sequential steps sequential, and Build uses it to decide whether a child
// really lies outside its parent. There a span's resolution is the coarser
// tick of its start and its end, and the tolerance the coarser of the two
// spans': the JS SDKs take a span's end as its millisecond start plus a
// sub-millisecond elapsed time, so an end that looks fine carries the
// start's rounding, and a child can appear to end up to 1 ms after the
// parent that waited for it.
//
// A child that starts before its parent by more than the tolerance is flagged
// ClockSkew: a child cannot start before the span that started it, so the
// two clocks disagree. A child that ends after its parent by more than the
// tolerance is flagged FireAndForget (the parent returned without waiting
// for it), except when the two spans come from different services and the
// overrun is within the skew bound (DefaultSkewBound, 10 ms): then the
// clocks of two machines can explain it and it is flagged ClockSkew. Either
// way the child is clipped to its parent for self time and the critical
// path; the flags say why the figures may look odd and are counted in
// Tree.Anomalies.
//
// The package is pure computation on in-memory traces: it does no I/O and
// keeps no global state. A Tree is reused from trace to trace to avoid
// allocations and must not be used by two goroutines at once.
package tracetree
