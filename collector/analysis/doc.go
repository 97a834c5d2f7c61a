// Package analysis turns a set of finished traces into a bottleneck report:
// where the time and the money of a pipeline go, and what to change.
//
// Analyze computes, over in-memory traces (a time window, a benchmark run or
// any sample the caller picked):
//
//  1. per-stage span counts, total-time and self-time percentiles and their
//     share of end-to-end latency;
//  2. the critical path of every trace, aggregated per stage over all traces
//     and over the slow cohort (traces at or above the slow quantile);
//  3. queue wait against run time in worker pools, with utilisation and a
//     concrete worker count derived from Little's law;
//  4. retry amplification: attempts per logical call, time and tokens lost in
//     failed attempts and backoff, give-ups;
//  5. tokens and cost per stage and model, from a configurable price table;
//  6. tail attribution: which stage explains the gap between the slow cohort
//     and the rest, with exemplar traces; and per stage (Gains) the role it
//     plays: it sets the floor when its critical-path time in the median
//     request is ≥ 20 % of the p50, and drives the tail when it explains
//     ≥ 30 % of the slow cohort's growth over the rest and that part is
//     ≥ 10 % of the p50 (a tail made of jitter has no driver);
//  7. (Compare) per-stage deltas between two sets of traces with a
//     Mann–Whitney U test and an effect-size floor: a stage regressed (or
//     improved) only when the test is significant (p < 0.01) and its p50 or
//     p95 self time per trace moved, in the direction the test found, by at
//     least max(10 % of the baseline's value, 1 ms) (WithSignificance,
//     WithRegressionThreshold, WithMinEffect) — a significant +9 µs is real
//     but not worth acting on. Relative changes are given only for a
//     baseline of at least that 1 ms (otherwise the absolute change), a
//     typical trace of each side is named for the stages that changed, and
//     two runs' configurations are diffed key by key (WithRunConfigs);
//  8. what-if: the end-to-end p95 if one stage were k× faster, recomputed
//     from the critical paths;
//  9. streaming: per stage and model, the time to first token and the
//     stream after it (p50/p95) of streamed model calls
//     (semconv.StreamedFirstToken), and per trace the critical-path time
//     spent waiting for a first token (the part of a streamed call's path
//     stretch before its first token). When that wait's p50 is at least
//     TTFTDominatesShare (50 %) of the same traces' end-to-end p50, a "ttft"
//     finding says the wait is before generation, placed after the latency
//     finding of its stage.
//
// Findings rank the bottlenecks on one scale, time attributable per slow
// trace, and each ends in a sentence a person can act on.
//
// Traces are arranged by package tracetree, the one trace model: its tree
// (orphans adopted by the root and flagged, a virtual root for a trace
// without a single root), its self time (a span's duration minus the union
// of its children's intervals, clipped to the span) and its reading of clock
// granularity and skew. The critical path walks back from a span's end,
// repeatedly taking the child that ends last before the current point, so
// concurrent fan-out is handled: only the chain that bounded the parent's end
// counts. A child that overlaps the step already taken by no more than the
// timestamps' resolution (one tick, at most 1 ms: JS SDKs stamp to the
// millisecond) is sequential, not concurrent; a child that outlived its
// parent (fire-and-forget) is not on the parent's path; a child that starts
// before its parent or ends after it is clipped to it. Report.Anomalies
// counts the spans so read, with exemplar traces.
//
// Shares are fractions of a whole and stay within [−1, 1]: a stage's
// ShareOfE2E is the part of end-to-end time during which one of its spans
// ran its own code (parallel spans count once), path shares tile the
// critical path, ShareOfGap divides among the stages that grew, and a
// finding's Share is of the latency the request saw.
//
// Two re-attributions make the critical path say what to fix rather than
// where the CPU was: time inside failed retry attempts is charged to the
// retry stage (it is time lost to retrying), and path time that a pool job
// spent waiting for a worker (attribute pool.queue_wait_ns) is charged to the
// pool stage. Every per-stage critical-path figure (shares, tail
// attribution, what-if, findings) uses this charged time, whose stages add up
// to the end-to-end latency of each trace.
//
// The package is pure computation: it must not do I/O, read the store, spawn
// goroutines or keep global state. Reports are plain values with JSON tags;
// durations appear both as nanoseconds and as millisecond floats.
package analysis
