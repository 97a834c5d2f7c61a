package jaeger

// Stats counts what an Export call delivered.
type Stats struct {
	Traces  int // traces whose spans were all sent
	Spans   int // spans accepted by Jaeger
	Events  int // span events (logs) carried by those spans
	Batches int // requests that succeeded
}

// ProgressFunc is told after every batch how far an Export call has got:
// done so far, and the number of traces it was given.
type ProgressFunc func(done Stats, totalTraces int)
