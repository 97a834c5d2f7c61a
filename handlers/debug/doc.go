// Package debug is stagescope's debug endpoint, mounted in a running
// program the way net/http/pprof is, and its client.
//
// In the program:
//
//	import _ "github.com/stagescope/stagescope/handlers/debug/defaultmux"
//	go http.ListenAndServe("127.0.0.1:6060", nil)
//
// or, on a mux of one's own, mux.Handle(debug.Path, debug.Handler(opts...)).
// The endpoint serves the flight recorder (package dispatcher/flight;
// Default attaches one to the root dispatcher for good): its snapshot as
// OTLP, the snapshots its triggers froze, a live stream of spans while one
// client is connected, the dispatcher tree with each dispatcher's handlers,
// sampling and recent span counts, and a bounded change of a dispatcher's
// sampling. It answers loopback clients only unless told otherwise, and
// checks an optional bearer token in constant time.
//
// The pipeline never waits on a client: the stream is a tap on the flight
// recorder with a bounded channel, a slow client costs dropped spans
// (counted in every frame), a stuck one is cut off after a write timeout,
// and when no client is connected the tap costs one atomic load per span.
// A second client is refused with 409 while one is attached.
//
// The client side (Client, Attach, the sinks and Breakdown) is what
// "stagescope attach" runs: it takes the snapshot, then streams into the
// local database or a running serve, and detaches cleanly.
package debug
