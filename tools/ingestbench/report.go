package main

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"
)

// targetResult is everything measured on one target.
type targetResult struct {
	Target         string        `json:"target"`
	Error          string        `json:"error,omitempty"`
	Load           *loadResult   `json:"load,omitempty"`
	SpansPerSec    float64       `json:"spans_per_s"`     // first send to last trace readable
	AckSpansPerSec float64       `json:"ack_spans_per_s"` // first send to last ack
	RSSPeak        int64         `json:"rss_peak_bytes"`
	RSSEnd         int64         `json:"rss_end_bytes"` // after ingest and queries
	DiskRunning    diskUsage     `json:"disk_after_ingest"`
	DiskAfterStop  diskUsage     `json:"disk_after_shutdown"`
	BytesPerSpan   float64       `json:"bytes_per_span"` // allocated after shutdown / spans
	TargetCPU      time.Duration `json:"target_cpu_ns"`
	GeneratorCPU   time.Duration `json:"generator_cpu_ns"`
	RequestBytes   int64         `json:"mean_request_bytes"`
	Shutdown       time.Duration `json:"shutdown_ns"`
	Killed         bool          `json:"killed"`
	LoadAvgStart   float64       `json:"loadavg_start"`
	LoadAvgEnd     float64       `json:"loadavg_end"`
	Queries        []queryResult `json:"queries"`
	// Counters is what stagescope's /metrics says after ingest
	// (spans_written_total, spans_duplicate_total, …).
	Counters map[string]float64 `json:"target_counters,omitempty"`
}

// report is one run over every target.
type report struct {
	Command         string    `json:"command"`
	Started         time.Time `json:"started"`
	Finished        time.Time `json:"finished"`
	CPUs            int       `json:"cpus"`
	Spans           int64     `json:"spans"`
	Interval        int64     `json:"interval"`
	Clients         int       `json:"clients"`
	SpansPerRequest int       `json:"spans_per_request"`
	ErrorRate       float64   `json:"error_rate"`
	JaegerMaxTraces int       `json:"jaeger_max_traces"`
	Lean            bool      `json:"lean"`
	// StagescopeRevision is the commit serve was built from ("+dirty":
	// with uncommitted changes); empty for --stagescope-bin.
	StagescopeRevision string         `json:"stagescope_revision,omitempty"`
	RequestBytes       int64          `json:"mean_request_bytes"`
	Results            []targetResult `json:"results"`
}

func numCPU() int { return runtime.NumCPU() }

// write prints the tables in markdown.
func (rep *report) write(w io.Writer) {
	var cols []*targetResult
	for i := range rep.Results {
		cols = append(cols, &rep.Results[i])
	}
	var stg *targetResult
	var others []*targetResult
	for _, c := range cols {
		if c.Target == targetStagescope {
			stg = c
		} else {
			others = append(others, c)
		}
	}
	fixture := "typical attributes"
	if rep.Lean {
		fixture = "lean attributes"
	}
	fmt.Fprintf(w, "\n%s spans per target, %d-span requests (%s, ≈%s each, %s), %d clients, %d CPUs, %s → %s UTC\n\n",
		count(rep.Spans), rep.SpansPerRequest, fixture, mib(rep.RequestBytes), wireBytes(rep), rep.Clients, rep.CPUs,
		rep.Started.Format("2006-01-02 15:04"), rep.Finished.Format("15:04"))
	if rep.StagescopeRevision != "" {
		fmt.Fprintf(w, "stagescope serve built from %s.\n\n", rep.StagescopeRevision)
	}

	header := "| |"
	sep := "|---|"
	for _, c := range cols {
		header += " " + c.Target + " |"
		sep += "---|"
	}
	if stg != nil {
		for _, o := range others {
			header += " stagescope / " + strings.TrimPrefix(o.Target, "jaeger-") + " |"
			sep += "---|"
		}
	}
	fmt.Fprintln(w, header)
	fmt.Fprintln(w, sep)

	row := func(label string, val func(*targetResult) (string, float64, bool)) {
		line := "| " + label + " |"
		for _, c := range cols {
			s, _, ok := val(c)
			if c.Load == nil && c.Error != "" {
				s, ok = "failed", false
			}
			if !ok && s == "" {
				s = "—"
			}
			line += " " + s + " |"
		}
		if stg != nil {
			_, sv, sok := val(stg)
			for _, o := range others {
				_, ov, ook := val(o)
				if sok && ook && ov != 0 && sv != 0 {
					line += fmt.Sprintf(" %s× |", ratio(sv/ov))
				} else {
					line += " — |"
				}
			}
		}
		fmt.Fprintln(w, line)
	}
	loaded := func(c *targetResult) bool { return c.Load != nil }

	row("spans/s (first send → last trace readable)", func(c *targetResult) (string, float64, bool) {
		if !loaded(c) || c.SpansPerSec == 0 {
			return "", 0, false
		}
		return count(int64(c.SpansPerSec)), c.SpansPerSec, true
	})
	if rep.Interval > 0 {
		row(fmt.Sprintf("spans/s per %s spans: first → last (min–max); ratio of the last", count(rep.Interval)), func(c *targetResult) (string, float64, bool) {
			if !loaded(c) || len(c.Load.Intervals) == 0 {
				return "", 0, false
			}
			iv := c.Load.Intervals
			lo, hi := iv[0].Rate, iv[0].Rate
			for _, x := range iv {
				lo, hi = min(lo, x.Rate), max(hi, x.Rate)
			}
			return fmt.Sprintf("%s → %s (%s–%s)", count(int64(iv[0].Rate)), count(int64(iv[len(iv)-1].Rate)), count(int64(lo)), count(int64(hi))), iv[len(iv)-1].Rate, true
		})
	}
	row("retries (429/503), rejected spans", func(c *targetResult) (string, float64, bool) {
		if !loaded(c) {
			return "", 0, false
		}
		return fmt.Sprintf("%d, %d", c.Load.Retries, c.Load.Rejected), 0, false
	})
	row("spans the target counts written / duplicate", func(c *targetResult) (string, float64, bool) {
		w, ok := c.Counters["spans_written_total"]
		if !ok {
			return "", 0, false
		}
		return fmt.Sprintf("%s / %.0f", count(int64(w)), c.Counters["spans_duplicate_total"]), 0, false
	})
	row("RSS peak", func(c *targetResult) (string, float64, bool) {
		if c.RSSPeak == 0 {
			return "", 0, false
		}
		return mib(c.RSSPeak), float64(c.RSSPeak), true
	})
	row("RSS at the end (after queries)", func(c *targetResult) (string, float64, bool) {
		if c.RSSEnd == 0 {
			return "", 0, false
		}
		return mib(c.RSSEnd), float64(c.RSSEnd), true
	})
	row("disk after ingest / after shutdown", func(c *targetResult) (string, float64, bool) {
		if !loaded(c) || c.Target == targetJaegerMemory {
			return "— (memory)", 0, false
		}
		return mib(c.DiskRunning.Allocated) + " / " + mib(c.DiskAfterStop.Allocated), float64(c.DiskAfterStop.Allocated), c.DiskAfterStop.Allocated > 0
	})
	row("bytes per span on disk", func(c *targetResult) (string, float64, bool) {
		if c.BytesPerSpan == 0 {
			return "", 0, false
		}
		return fmt.Sprintf("%.0f", c.BytesPerSpan), c.BytesPerSpan, true
	})
	row("target CPU s per 1M spans", func(c *targetResult) (string, float64, bool) {
		if !loaded(c) || c.Load.Spans == 0 {
			return "", 0, false
		}
		v := c.TargetCPU.Seconds() / float64(c.Load.Spans) * 1e6
		return fmt.Sprintf("%.2f", v), v, true
	})
	row("generator CPU s per 1M spans", func(c *targetResult) (string, float64, bool) {
		if !loaded(c) || c.Load.Spans == 0 {
			return "", 0, false
		}
		v := c.GeneratorCPU.Seconds() / float64(c.Load.Spans) * 1e6
		return fmt.Sprintf("%.2f", v), 0, false
	})
	row("shutdown after SIGTERM", func(c *targetResult) (string, float64, bool) {
		if c.Shutdown == 0 {
			return "", 0, false
		}
		s := c.Shutdown.Round(time.Millisecond).String()
		if c.Killed {
			s += " (killed)"
		}
		return s, c.Shutdown.Seconds(), true
	})
	row("load average at start → end", func(c *targetResult) (string, float64, bool) {
		if !loaded(c) {
			return "", 0, false
		}
		return fmt.Sprintf("%.1f → %.1f", c.LoadAvgStart, c.LoadAvgEnd), 0, false
	})
	for _, name := range queryOrder {
		row("query: "+name+", median (max)", func(c *targetResult) (string, float64, bool) {
			for _, q := range c.Queries {
				if q.Name != name {
					continue
				}
				s := fmt.Sprintf("%s (%s)", ms(q.Median), ms(q.Max))
				if q.Error != "" {
					return "error: " + excerpt([]byte(q.Error)), 0, false
				}
				if q.Status != 200 {
					return fmt.Sprintf("%s, HTTP %d", s, q.Status), 0, false
				}
				return s, float64(q.Median), true
			}
			return "", 0, false
		})
	}
	if stg != nil && len(others) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Ratios are stagescope divided by Jaeger: above 1 means stagescope ingests faster, below 1 that it uses less memory,")
		fmt.Fprintln(w, "disk, CPU or query time.")
	}

	if rep.Interval > 0 {
		fmt.Fprintf(w, "\nPer interval of %s spans: spans/s, the target's CPU seconds per 1M spans, RSS at the interval's end:\n\n", count(rep.Interval))
		line, sep := "| spans |", "|---|"
		for _, c := range cols {
			line += " " + c.Target + " |"
			sep += "---|"
		}
		fmt.Fprintln(w, line)
		fmt.Fprintln(w, sep)
		n := 0
		for _, c := range cols {
			if c.Load != nil {
				n = max(n, len(c.Load.Intervals))
			}
		}
		for i := range n {
			line := "|"
			label := ""
			for _, c := range cols {
				if c.Load != nil && i < len(c.Load.Intervals) && label == "" {
					label = count(c.Load.Intervals[i].UpTo)
				}
			}
			line += " " + label + " |"
			for _, c := range cols {
				if c.Load == nil || i >= len(c.Load.Intervals) {
					line += " — |"
					continue
				}
				iv := c.Load.Intervals[i]
				line += fmt.Sprintf(" %s/s, %.1f CPU s/M, %s |", count(int64(iv.Rate)), iv.CPUPerM, mib(iv.RSSBytes))
			}
			fmt.Fprintln(w, line)
		}
	}
	for _, c := range cols {
		if c.Error != "" {
			fmt.Fprintf(w, "\n%s failed: %s\n", c.Target, c.Error)
		}
	}
}

func wireBytes(rep *report) string {
	if rep.SpansPerRequest == 0 {
		return ""
	}
	return fmt.Sprintf("%d B/span on the wire", rep.RequestBytes/int64(rep.SpansPerRequest))
}

// count prints 1234567 as 1.23M, 68123 as 68.1k.
func count(n int64) string {
	f := float64(n)
	switch {
	case n >= 1e6 || n <= -1e6:
		return trimZeros(fmt.Sprintf("%.2f", f/1e6)) + "M"
	case n >= 1e4 || n <= -1e4:
		return trimZeros(fmt.Sprintf("%.1f", f/1e3)) + "k"
	default:
		return fmt.Sprintf("%d", n)
	}
}

func trimZeros(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

func mib(b int64) string {
	switch {
	case b >= 10<<30:
		return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
	case b >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30))
	case b >= 10<<20:
		return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	default:
		return fmt.Sprintf("%.0f KiB", float64(b)/(1<<10))
	}
}

func ms(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= 100*time.Millisecond:
		return fmt.Sprintf("%.0f ms", float64(d)/1e6)
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	}
}

func ratio(r float64) string {
	switch {
	case r >= 10:
		return fmt.Sprintf("%.0f", r)
	case r >= 0.1:
		return fmt.Sprintf("%.2f", r)
	case r >= 0.01:
		return fmt.Sprintf("%.3f", r)
	default:
		return fmt.Sprintf("%.2g", r)
	}
}
