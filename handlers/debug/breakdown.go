package debug

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/stagescope/stagescope/spans"
	"github.com/stagescope/stagescope/spans/quantile"
)

// breakdownKeep bounds the durations kept per stage (the newest win).
const breakdownKeep = 1 << 16

// Breakdown is a running per-stage summary of the spans an attachment
// brought: count, errors, total time and duration percentiles, for the
// terminal while attached (the bottleneck report reads the database after).
type Breakdown struct {
	stages [256]*stageTally
}

type stageTally struct {
	count, errors int
	total         time.Duration
	durs          []time.Duration // a ring of the last breakdownKeep
	next          int
}

// NewBreakdown returns an empty breakdown.
func NewBreakdown() *Breakdown { return &Breakdown{} }

// Add counts ss.
func (b *Breakdown) Add(ss []spans.Span) {
	for i := range ss {
		s := &ss[i]
		t := b.stages[s.Stage]
		if t == nil {
			t = &stageTally{}
			b.stages[s.Stage] = t
		}
		d := s.Duration()
		t.count++
		t.total += d
		if s.Status == spans.StatusError {
			t.errors++
		}
		if len(t.durs) < breakdownKeep {
			t.durs = append(t.durs, d)
		} else {
			t.durs[t.next] = d
			t.next = (t.next + 1) % breakdownKeep
		}
	}
}

// StageSummary is one line of a breakdown.
type StageSummary struct {
	Stage         spans.Stage
	Count, Errors int
	Total         time.Duration
	P50, P95      time.Duration
}

// Summary returns one line per stage seen, in pipeline order.
func (b *Breakdown) Summary() []StageSummary {
	var out []StageSummary
	for st, t := range b.stages {
		if t == nil {
			continue
		}
		sorted := slices.Sorted(slices.Values(t.durs))
		out = append(out, StageSummary{Stage: spans.Stage(st), Count: t.count, Errors: t.errors, Total: t.total,
			P50: quantile.Of(sorted, 0.50), P95: quantile.Of(sorted, 0.95)})
	}
	return out
}

// Write prints the breakdown as a table.
func (b *Breakdown) Write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "stage\tspans\terrors\ttotal\tp50\tp95\t")
	for _, s := range b.Summary() {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%v\t%v\t%v\t\n", s.Stage, s.Count, s.Errors,
			s.Total.Round(time.Millisecond), s.P50.Round(time.Microsecond), s.P95.Round(time.Microsecond))
	}
	return tw.Flush()
}
