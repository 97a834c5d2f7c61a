package spans

import (
	"math"
	"time"
)

// The times a span, an event or a query window can carry. Times are stored
// as Unix nanoseconds in an int64, so the representable range runs from the
// Unix epoch (0, which also means "unset") to 2262-04-11T23:47:16.854775807Z.
// Everything that takes a time from outside — OTLP ingest, API parameters,
// the command line — checks it against this range at the edge, so nothing
// further in ever overflows.
var (
	EarliestTime = time.Unix(0, 0).UTC()
	LatestTime   = time.Unix(0, math.MaxInt64).UTC()
)

// TimeInRange reports whether t lies in [EarliestTime, LatestTime].
func TimeInRange(t time.Time) bool {
	return !t.Before(EarliestTime) && !t.After(LatestTime)
}
