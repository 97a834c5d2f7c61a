package main

import (
	"flag"
	"fmt"
	"net/url"
	"time"

	"github.com/stagescope/stagescope/spans"
)

// window is the time selection shared by report and export.
type window struct {
	from, to string
	since    time.Duration
}

func (w *window) register(fs *flag.FlagSet) {
	fs.StringVar(&w.from, "from", "", "start of the window: "+spans.TimeForms)
	fs.StringVar(&w.to, "to", "", "end of the window, as --from (default now)")
	fs.DurationVar(&w.since, "since", 0, "the window is the last `duration` (e.g. 15m); overrides --from")
}

// bounds returns the window; zero times are open ends.
func (w *window) bounds(cmd string, now time.Time) (from, to time.Time, err error) {
	if w.to != "" {
		if to, err = spans.ParseTime(w.to, now); err != nil {
			return from, to, usagef(cmd, "--to: %v", err)
		}
	}
	if w.from != "" {
		if from, err = spans.ParseTime(w.from, now); err != nil {
			return from, to, usagef(cmd, "--from: %v", err)
		}
	}
	if w.since > 0 {
		end := to
		if end.IsZero() {
			end = now
		}
		from = end.Add(-w.since)
	}
	for _, b := range []struct {
		flag string
		t    time.Time
	}{{"--from", from}, {"--to", to}} {
		if !b.t.IsZero() && !spans.TimeInRange(b.t) {
			return from, to, usagef(cmd, "%s %s is out of range: times run from %s to %s", b.flag, b.t.Format(time.RFC3339),
				spans.EarliestTime.Format(time.RFC3339), spans.LatestTime.Truncate(time.Second).Format(time.RFC3339))
		}
	}
	if !from.IsZero() && !to.IsZero() && to.Before(from) {
		return from, to, usagef(cmd, "--to %s is before --from %s", to.Format(time.RFC3339), from.Format(time.RFC3339))
	}
	if !from.IsZero() && to.IsZero() && from.After(now) {
		return from, to, usagef(cmd, "--from %s is in the future (now is %s, the default of --to)", from.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return from, to, nil
}

func urlUnescape(s string) (string, error) {
	v, err := url.PathUnescape(s)
	if err != nil {
		return "", fmt.Errorf("bad escape in %q: %w", s, err)
	}
	return v, nil
}
