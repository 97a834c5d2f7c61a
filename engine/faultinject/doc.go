// Package faultinject is a TESTING TOOL: it plants latency and errors in any
// pipeline stage, for load tests, for demonstrating the bottleneck analysis
// on a pipeline with a known slow stage, and for exercising retries.
//
// An Injector samples a latency from a Distribution (for a fraction of the
// calls, WithLatencyRate) and sleeps it (waking up when the context is
// done), then fails with a configured probability. ParsePlant reads the
// command-line form, "rerank=latency:500ms@0.05".
//
// A Plan carried by the context (WithPlan) holds an injector per stage; the
// engine's stages call Inject right after starting their span, and a fault
// that fires runs in a "fault" child span of the stage span marked
// fault.injected, while the stage span gets fault.latency_ns and
// fault.error. So planted faults are never mistaken for real ones, and the
// analysis can count them in the stage's cost yet show them as injected.
//
// Do not leave an Injector in a production pipeline; a nil *Injector, and a
// context without a Plan, do nothing, which is the intended way to switch
// it off.
package faultinject
