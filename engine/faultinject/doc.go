// Package faultinject is a TESTING TOOL: it plants latency and errors in any
// pipeline stage, for load tests, for demonstrating the bottleneck analysis
// on a pipeline with a known slow stage, and for exercising retries.
//
// An Injector samples a latency from a Distribution and sleeps it (waking up
// when the context is done), then fails with a configured probability. It
// marks the current span with fault.latency_ns and fault.error, so planted
// faults are never mistaken for real ones.
//
// Do not leave an Injector in a production pipeline; a nil *Injector does
// nothing, which is the intended way to switch it off.
package faultinject
