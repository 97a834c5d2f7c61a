package analysis

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stagescope/stagescope/spans"
)

// Text headings: every section of the JSON report has one (the text test
// checks that a field added to Report gets its section).
const (
	textWeighting = "Weighted sample:"
	textE2E       = "End-to-end latency:"
	textStages    = "Stages (per request first"
	textPath      = "Critical path"
	textTail      = "Tail attribution"
	textGains     = "Predicted gains"
	textWhatIf    = "What if"
	textPools     = "Pool "
	textRetries   = "Retries of "
	textCost      = "Tokens and cost"
	textUnpriced  = "No price for:"
	textErrors    = "Errors:"
	textAnomalies = "Spans read with care"
	textStreaming = "Streamed model calls"
	textFindings  = "Findings:"
)

// WriteText writes the report for a terminal: every section of the JSON
// form — the weighting of a sample, the end-to-end latency, the per-stage
// table (per request first, per span second), the critical path, tail
// attribution, predicted gains and what-if scenarios, pools, retries,
// tokens and cost, errors, anomalies and the ranked findings with their
// exemplars. Durations keep sub-millisecond values readable (27µs, 3.41ms,
// 1.20s). source says where the traces came from (a database path, a Jaeger
// address).
func (r *Report) WriteText(w io.Writer, source string) error {
	fmt.Fprintf(w, "Bottleneck report — %d traces, %d spans (%s)\n", r.Traces, r.Spans, source)
	if r.Traces == 0 {
		fmt.Fprintln(w, "No traces in the selection.")
		return nil
	}
	if wt := r.Weighting; wt.Weighted {
		fmt.Fprintf(w, "%s %d traces at or above %s weigh 1, the others 1/%.4g (the hash rate): the figures stand for %.0f traces of the window.\n",
			textWeighting, wt.SlowTraces, dur(wt.SlowThreshold), wt.HashRate, wt.Represented)
	}
	e := r.E2E
	fmt.Fprintf(w, "%s p50 %s  p95 %s  p99 %s  max %s  mean %s\n\n", textE2E, dur(e.P50), dur(e.P95), dur(e.P99), dur(e.Max), dur(e.Mean))

	fmt.Fprintf(w, "%s: a stage's self time summed in a request; then per span):\n", textStages)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STAGE\tTRACES\tREQ P50\tREQ P95\tREQ MEAN\tSHARE\t│\tSPANS\tINJECTED\tERRORS\tSPAN P50\tSPAN P95\tSELF P50\tSELF P95")
	for _, s := range r.Stages {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t│\t%d\t%d\t%d\t%s\t%s\t%s\t%s\n", s.Stage, s.Traces,
			dur(s.PerTrace.P50), dur(s.PerTrace.P95), dur(s.PerRequest), pct(s.ShareOfE2E),
			s.Count, s.Injected, s.Errors, dur(s.Total.P50), dur(s.Total.P95), dur(s.Self.P50), dur(s.Self.P95))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "  REQ MEAN counts requests without the stage as 0; SHARE is the part of end-to-end time the stage's own code ran (at most 100%).")

	if len(r.CriticalPath) > 0 {
		fmt.Fprintf(w, "\n%s (share of slow traces ≥ p%.0f):\n", textPath, 100*r.SlowQuantile)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, c := range r.CriticalPath {
			fmt.Fprintf(tw, "  %s\t%s\t(all traces %s, %s per slow trace, %s per trace; on the path of %s of slow traces)\n",
				c.Stage, pct(c.SlowShare), pct(c.Share), dur(c.MeanPerSlowTrace), dur(c.MeanPerTrace), pct(c.SlowOnPath))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}

	if t := r.Tail; t.SlowTraces > 0 {
		fmt.Fprintf(w, "\n%s: %d slow traces (≥ p%.0f = %s) average %s against %s for the other %d; the gap is %s.\n",
			textTail, t.SlowTraces, 100*t.Quantile, dur(t.Threshold), dur(t.SlowMean), dur(t.RestMean), t.RestTraces, dur(t.Gap))
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  STAGE\tSLOW MEAN\tREST MEAN\tDELTA\tSHARE OF GROWTH")
		for _, s := range t.Stages {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", s.Stage, dur(s.SlowMean), dur(s.RestMean), dur(s.Delta), pct(s.ShareOfGap))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		writeExemplars(w, "  exemplars", t.Exemplars)
	}

	if len(r.Gains) > 0 {
		fmt.Fprintf(w, "\n%s (critical-path replay; an upper bound — another branch may become critical):\n", textGains)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  STAGE\tROLE\tFASTER\tP50 GAIN\tP95 GAIN\tMEAN GAIN\tSLOW GAIN\tREMOVED P95 GAIN")
		for _, g := range r.Gains {
			role := g.Role
			if role == "" {
				role = "-"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%g×\t%s\t%s\t%s\t%s\t%s\n", g.Stage, role, g.Factor,
				dur(g.Faster.P50Gain), dur(g.Faster.P95Gain), dur(g.Faster.MeanGain), dur(g.Faster.TailMeanGain), dur(g.Removed.P95Gain))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, g := range r.Gains {
			if g.Role != "" {
				fmt.Fprintf(w, "  %s\n", g.Summary)
			}
		}
	}

	if len(r.WhatIf) > 0 {
		fmt.Fprintf(w, "\n%s:\n", textWhatIf)
		for _, wi := range r.WhatIf {
			fmt.Fprintf(w, "  %s %g× faster: p95 %s → %s (%s faster), p50 %s\n", wi.Stage, wi.Factor, dur(wi.P95Now), dur(wi.P95), pct(wi.Gain), dur(wi.P50))
		}
	}

	for _, p := range r.Pools {
		fmt.Fprintf(w, "\n%s%s: %d runs, %d jobs (at most %d per run), %s; queue wait p50 %s p95 %s, run time p50 %s; queue share %s, utilisation %s, %.1f busy, %.1f in the pool.\n",
			textPools, p.Name, p.Runs, p.Jobs, p.MaxJobsPerRun, plural(p.Workers, "worker"), dur(p.QueueWait.P50), dur(p.QueueWait.P95), dur(p.RunTime.P50),
			pct(p.QueueShare), pct(p.Utilisation), p.Busy, p.InSystem)
		if p.Recommendation != "" {
			fmt.Fprintf(w, "  → %s\n", p.Recommendation)
		}
	}
	for _, rt := range r.Retries {
		fmt.Fprintf(w, "\n%s%s (%s): %d calls, %d attempts (%.2f per call, max %d), %d failed, %d gave up; lost %s in failed attempts and %s in backoff (%s per call), %d tokens ($%.4f)\n",
			textRetries, rt.Op, rt.Stage, rt.Calls, rt.Attempts, rt.AttemptsPerCall, rt.MaxAttempts, rt.FailedAttempts, rt.GaveUp,
			dur(rt.FailedTime), dur(rt.Backoff), dur(rt.LostPerCall), rt.TokensLost, rt.CostLostUSD)
	}

	if len(r.Cost) > 0 || len(r.UnpricedModels) > 0 {
		fmt.Fprintf(w, "\n%s: $%.4f in all\n", textCost, r.CostTotalUSD)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  STAGE\tMODEL\tCALLS\tPROMPT\tCOMPLETION\tEMBEDDING\tUSD\tUSD PER TRACE")
		for _, c := range r.Cost {
			price := fmt.Sprintf("$%.4f", c.USD)
			if !c.Priced {
				price = "no price"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%d\t%d\t%d\t%s\t$%.6f\n", c.Stage, c.Model, c.Calls, c.PromptTokens, c.CompletionTokens, c.EmbeddingTokens, price, c.USDPerTrace)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if len(r.UnpricedModels) > 0 {
			fmt.Fprintf(w, "  %s %s\n", textUnpriced, strings.Join(r.UnpricedModels, ", "))
		}
	}

	r.writeStreaming(w)

	if e := r.Errors; e.FailedTraces > 0 || e.TracesWithErrors > 0 {
		// Counts are of the analysed traces; the rate is weighted back to
		// the window when the traces are a sample (Weighting), so say so.
		failed := fmt.Sprintf("%d of %d requests failed (%s)", e.FailedTraces, r.Traces, pct(e.FailureRate))
		if r.Weighting.Weighted {
			failed = fmt.Sprintf("%d of the %d analysed requests failed (weighted back to the window: %s of requests)", e.FailedTraces, r.Traces, pct(e.FailureRate))
		}
		fmt.Fprintf(w, "\n%s %s, %d had a failed span, %d failed through a retry that gave up; successful requests p50 %s p95 %s, failed p50 %s (failures shift the p95 by %s)\n",
			textErrors, failed, e.TracesWithErrors, e.GaveUp, dur(e.Succeeded.P50), dur(e.Succeeded.P95), dur(e.Failed.P50), dur(e.P95Shift))
		for _, s := range e.Stages {
			fmt.Fprintf(w, "  %s: %d of %d spans failed (%s), %d injected; in %d of %d requests (%s); failed %d requests, %d survived\n",
				s.Stage, s.Errors, s.Spans, pct(s.ErrorRate), s.Injected, s.TracesWithErrors, s.Traces, pct(s.TraceErrorRate), s.FailedRequests, s.Absorbed)
			writeExemplars(w, "    exemplars", s.Exemplars)
		}
		writeExemplars(w, "  failed requests", e.Exemplars)
	}
	if an := r.Anomalies; an.Any() {
		fmt.Fprintf(w, "\n%s in %d traces: %d orphans (adopted by the root), %d with clock skew, %d fire-and-forget (clipped to their parent), %d in parent cycles (left out); %d traces without their root span (%s of requests, outcome unknown)\n",
			textAnomalies, an.Traces, an.Orphans, an.ClockSkew, an.FireAndForget, an.Unreachable, an.MissingRoot, pct(an.MissingRootShare))
		writeExemplars(w, "  exemplars", an.Exemplars)
		writeExemplars(w, "  without their root span", an.MissingRootExemplars)
	}
	if len(r.Findings) > 0 {
		fmt.Fprintf(w, "\n%s\n", textFindings)
		for i, f := range r.Findings {
			fmt.Fprintf(w, "%d. [%s] %s\n", i+1, strings.ToUpper(f.Severity), f.Title)
			if f.Detail != "" {
				fmt.Fprintf(w, "   %s\n", f.Detail)
			}
			if f.Recommendation != "" {
				fmt.Fprintf(w, "   → %s\n", f.Recommendation)
			}
			writeExemplars(w, "   exemplars", f.Exemplars)
		}
	}
	return nil
}

func writeExemplars(w io.Writer, label string, ids []spans.TraceID) {
	if len(ids) == 0 {
		return
	}
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = id.String()
	}
	fmt.Fprintf(w, "%s: %s\n", label, strings.Join(s, " "))
}

// dur prints a duration so that sub-millisecond values stay readable: 27µs,
// 3.41ms, 182.4ms, 1.20s (and 850ns below a microsecond).
func dur(d time.Duration) string {
	neg := ""
	if d < 0 {
		neg, d = "-", -d
	}
	var s string
	switch {
	case d == 0:
		s = "0"
	case d < time.Microsecond:
		s = fmt.Sprintf("%dns", d)
	case d < time.Millisecond-500: // rounds to under 1000µs
		s = fmt.Sprintf("%dµs", (d+500)/time.Microsecond)
	case d < 10*time.Millisecond:
		s = trimZeros(fmt.Sprintf("%.2f", float64(d.Round(10*time.Microsecond))/1e6)) + "ms"
	case d < time.Second:
		s = trimZeros(fmt.Sprintf("%.1f", float64(d.Round(100*time.Microsecond))/1e6)) + "ms"
	default:
		s = trimZeros(fmt.Sprintf("%.2f", float64(d.Round(10*time.Millisecond))/1e9)) + "s"
	}
	return neg + s
}

// trimZeros drops a decimal's trailing zeros: "4.00" → "4", "1.20" → "1.2".
func trimZeros(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// pct prints a fraction as a percentage.
func pct(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) }
