// Package flight is stagescope's flight recorder: a dispatcher handler that
// keeps the most recent finished spans and events of a program in fixed
// rings, always on, so that when something is slow the last seconds can be
// looked at without having restarted anything — what runtime/trace's
// FlightRecorder does for the Go scheduler, for pipeline stages.
//
// The hot path (SpanEnded, HandleEvent) never takes a lock and never waits:
// a span is one atomic increment of a cursor and one atomic pointer store
// into a slot (spans are immutable once ended, so the recorder keeps the
// pointer, not a copy); nothing is allocated. Snapshot copies what is in the
// rings on demand. Triggers (a span slower than a bound, an error in a
// stage, a stage's p95 over the last minute above a bound) freeze a
// snapshot for later, at most once per cooldown, off the hot path.
//
// A single live subscriber (the debug endpoint's stream) may tap the
// recorder: while it is attached each ended span is also offered to its
// bounded channel, and a full channel drops and counts, never blocks. With
// no subscriber the tap costs one atomic load per span.
//
// The package must not do I/O; the debug endpoint (package handlers/debug)
// serves what it keeps.
package flight
