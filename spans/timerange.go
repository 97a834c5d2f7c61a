package spans

import (
	"fmt"
	"math"
	"strconv"
	"strings"
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

// TimeForms says which forms ParseTime accepts, for error messages and help.
const TimeForms = `RFC 3339 (2025-01-02T15:04:05Z), a date or a date and time in UTC (2025-01-02, "2025-01-02 15:04"), ` +
	`Unix milliseconds, now, now-<duration> (now-15m), today or yesterday (midnight UTC)`

// ParseTime reads a time as people and scripts write it (see TimeForms),
// relative forms counted from now. The result lies in [EarliestTime,
// LatestTime]; anything else is an error that says which forms are
// accepted or what the range is. The command line and the API both take
// times through it.
func ParseTime(s string, now time.Time) (time.Time, error) {
	v := strings.TrimSpace(s)
	t, err := parseTime(v, now)
	if err != nil {
		return time.Time{}, err
	}
	if !TimeInRange(t) {
		return time.Time{}, fmt.Errorf("%s is out of range: times run from %s to %s", t.UTC().Format(time.RFC3339Nano),
			EarliestTime.Format(time.RFC3339), LatestTime.Truncate(time.Second).Format(time.RFC3339))
	}
	return t, nil
}

func parseTime(v string, now time.Time) (time.Time, error) {
	midnight := func(t time.Time) time.Time {
		y, m, d := t.UTC().Date()
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	}
	switch v {
	case "now":
		return now, nil
	case "today":
		return midnight(now), nil
	case "yesterday":
		return midnight(now).AddDate(0, 0, -1), nil
	}
	if rest, ok := strings.CutPrefix(v, "now-"); ok {
		d, err := time.ParseDuration(rest)
		if err != nil || d < 0 {
			return time.Time{}, fmt.Errorf("%q is not now-<duration> like now-15m", v)
		}
		return now.Add(-d), nil
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 || n > LatestTime.UnixMilli() {
			return time.Time{}, fmt.Errorf("%d is out of range: times run from %s to %s (Unix milliseconds)", n,
				EarliestTime.Format(time.RFC3339), LatestTime.Truncate(time.Second).Format(time.RFC3339))
		}
		return time.UnixMilli(n).UTC(), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02", "2006-01-02 15:04", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time (want %s)", v, TimeForms)
}
