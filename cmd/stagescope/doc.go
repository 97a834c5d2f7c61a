// Command stagescope is the one binary of stagescope: the collector and
// dashboard (serve), a live demo over the Go standard library (demo),
// benchmark sweeps (bench), the bottleneck report in the terminal (report)
// and replay of stored traces to Jaeger (export jaeger).
//
// It only wires packages together: flags and environment variables are read
// here and turned into options; all logic lives in the packages.
package main
