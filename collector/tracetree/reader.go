package tracetree

import (
	"context"
	"time"

	"github.com/stagescope/stagescope/spans"
)

// Query selects traces for Reader.FindTraces.
type Query struct {
	// Service is the service whose traces are wanted; a reader may require
	// it (Jaeger's query API does).
	Service string
	// Operation is the root span's name (the store) or any span's name
	// (Jaeger); optional.
	Operation string
	// From and To bound the traces' start. A zero To is now; a zero From
	// is the reader's default lookback before To.
	From, To time.Time
	// Limit is the most traces to return (0: the reader's default).
	Limit int
	// MinDuration and MaxDuration filter by duration when not zero.
	MinDuration, MaxDuration time.Duration
}

// Reader finds and fetches whole traces. The SQLite store
// (collector.(*SQLiteStore).Reader) and the Jaeger query client
// (jaeger.QueryClient) implement it, so the report, the analysis and the
// CLI read either source through the same calls.
type Reader interface {
	// FindTraces returns the traces q selects, whole, newest first or in
	// start order as the source gives them; at most q.Limit.
	FindTraces(ctx context.Context, q Query) ([]Trace, error)
	// GetTrace returns one trace; an error wrapping the source's not-found
	// error when it has none.
	GetTrace(ctx context.Context, id spans.TraceID) (Trace, error)
}
