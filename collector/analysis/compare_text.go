package analysis

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteText writes the comparison for a terminal: both sides' end-to-end
// latency, the per-stage table with its verdicts, the settings that differ
// between the runs, the typical trace of each side for the stages that
// changed, and the regression findings.
func (c *Comparison) WriteText(w io.Writer) error {
	b, cand := c.Baseline, c.Candidate
	fmt.Fprintf(w, "Comparison — baseline %d traces, candidate %d traces\n", b.Traces, cand.Traces)
	fmt.Fprintf(w, "A stage changed when Mann–Whitney p < %g and its p50 or p95 moved by at least max(%.0f%% of the baseline, %s).\n",
		c.Significance, 100*c.RegressionThreshold, dur(c.MinEffect))
	if b.Traces == 0 || cand.Traces == 0 {
		fmt.Fprintln(w, "One side has no traces.")
		return nil
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STAGE\tBASE P50\tCAND P50\tBASE P95\tCAND P95\tMEAN CHANGE\tP\tVERDICT")
	for i, d := range append([]StageDelta{c.E2E}, c.Stages...) {
		name := d.Stage.String()
		if i == 0 {
			name = "end-to-end"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%.2g\t%s\n", name, dur(d.BaselineP50), dur(d.CandidateP50),
			dur(d.BaselineP95), dur(d.CandidateP95), d.ChangeText, d.Test.P, d.verdict())
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	switch {
	case c.ConfigError != "":
		fmt.Fprintf(w, "\nRun configurations: %s\n", c.ConfigError)
	case c.ConfigCompared && len(c.ConfigDiff) == 0:
		fmt.Fprintln(w, "\nRun configurations: identical.")
	case c.ConfigCompared:
		fmt.Fprintln(w, "\nSettings that differ (baseline → candidate):")
		for _, d := range c.ConfigDiff {
			fmt.Fprintf(w, "  %s\n", d)
		}
	}
	var pairs []string
	for i, d := range append([]StageDelta{c.E2E}, c.Stages...) {
		if d.Exemplars != nil && (d.Regressed || d.Improved) {
			name := d.Stage.String()
			if i == 0 {
				name = "end-to-end"
			}
			pairs = append(pairs, fmt.Sprintf("  %s: baseline %s, candidate %s", name, d.Exemplars.Baseline, d.Exemplars.Candidate))
		}
	}
	if len(pairs) > 0 {
		fmt.Fprintln(w, "\nTypical traces of the stages that changed:")
		fmt.Fprintln(w, strings.Join(pairs, "\n"))
	}
	if len(c.Findings) > 0 {
		fmt.Fprintln(w, "\nFindings:")
		for i, f := range c.Findings {
			fmt.Fprintf(w, "%d. [%s] %s\n   %s\n   → %s\n", i+1, strings.ToUpper(f.Severity), f.Title, f.Detail, f.Recommendation)
		}
	} else {
		fmt.Fprintln(w, "\nNo stage regressed.")
	}
	return nil
}

// verdict is the one-word outcome of a stage's test.
func (d StageDelta) verdict() string {
	switch {
	case d.Regressed:
		return "regressed"
	case d.Improved:
		return "improved"
	case d.Significant:
		return "below floor"
	}
	return "—"
}
