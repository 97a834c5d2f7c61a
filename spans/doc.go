// Package spans is stagescope's data model: trace and span identifiers sized
// like OpenTelemetry's (16-byte trace, 8-byte span), the Span record every
// pipeline stage produces, the Stage dimension, typed attributes, and the
// context plumbing that carries a parent span and scoped tags from a caller to
// its callees, across goroutines.
//
// The package depends on the standard library only. It must not know about
// handlers, storage or export; those live in dispatcher, collector and the
// OpenTelemetry bridge.
package spans
