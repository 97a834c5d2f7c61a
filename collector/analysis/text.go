package analysis

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteText writes the report for a terminal: the end-to-end latency, a
// per-stage table, the critical path, pools, retries and the ranked findings
// with their recommendations. source says where the traces came from (a
// database path, a Jaeger address).
func (r *Report) WriteText(w io.Writer, source string) error {
	fmt.Fprintf(w, "Bottleneck report — %d traces, %d spans (%s)\n", r.Traces, r.Spans, source)
	if r.Traces == 0 {
		fmt.Fprintln(w, "No traces in the selection.")
		return nil
	}
	fmt.Fprintf(w, "End-to-end latency: p50 %s  p95 %s  p99 %s  max %s\n\n", msf(r.E2E.P50Ms), msf(r.E2E.P95Ms), msf(r.E2E.P99Ms), msf(r.E2E.MaxMs))

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STAGE\tSPANS\tERRORS\tP50\tP95\tSELF P50\tSELF P95\tSELF SHARE")
	for _, s := range r.Stages {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t%s\t%.1f%%\n", s.Stage, s.Count, s.Errors,
			msf(s.Total.P50Ms), msf(s.Total.P95Ms), msf(s.Self.P50Ms), msf(s.Self.P95Ms), 100*s.ShareOfE2E)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.CriticalPath) > 0 {
		fmt.Fprintf(w, "\nCritical path (share of slow traces ≥ p%.0f):\n", 100*r.SlowQuantile)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, c := range r.CriticalPath {
			if c.SlowShare < 0.005 && c.Share < 0.005 {
				continue
			}
			fmt.Fprintf(tw, "  %s\t%.1f%%\t(all traces %.1f%%, %s per slow trace)\n", c.Stage, 100*c.SlowShare, 100*c.Share, msf(c.MeanPerSlowTraceMs))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	for _, p := range r.Pools {
		if p.Recommendation != "" {
			fmt.Fprintf(w, "\nPool %s: queue share %.0f%%, utilisation %.0f%%. %s\n", p.Name, 100*p.QueueShare, 100*p.Utilisation, p.Recommendation)
		}
	}
	for _, rt := range r.Retries {
		fmt.Fprintf(w, "\nRetries of %s: %.2f attempts per call, %d gave up, %s lost per call\n", rt.Op, rt.AttemptsPerCall, rt.GaveUp, msf(rt.LostPerCallMs))
	}
	r.writeStreaming(w)
	if e := r.Errors; e.FailedTraces > 0 || e.TracesWithErrors > 0 {
		fmt.Fprintf(w, "\nErrors: %d of %d requests failed (%.1f%%), %d had a failed span; successful requests p50 %s p95 %s, failed p50 %s\n",
			e.FailedTraces, r.Traces, 100*e.FailureRate, e.TracesWithErrors, msf(e.Succeeded.P50Ms), msf(e.Succeeded.P95Ms), msf(e.Failed.P50Ms))
		for _, s := range e.Stages {
			fmt.Fprintf(w, "  %s: %d of %d spans failed (%.1f%%), failed %d requests, %d survived\n", s.Stage, s.Errors, s.Spans, 100*s.ErrorRate, s.FailedRequests, s.Absorbed)
		}
	}
	if an := r.Anomalies; an.Any() {
		fmt.Fprintf(w, "\nSpans read with care in %d traces: %d orphans (adopted by the root), %d with clock skew, %d fire-and-forget (clipped to their parent), %d in parent cycles (left out)\n",
			an.Traces, an.Orphans, an.ClockSkew, an.FireAndForget, an.Unreachable)
	}
	if len(r.Findings) > 0 {
		fmt.Fprintln(w, "\nFindings:")
		for i, f := range r.Findings {
			fmt.Fprintf(w, "%d. [%s] %s\n", i+1, strings.ToUpper(f.Severity), f.Title)
			if f.Detail != "" {
				fmt.Fprintf(w, "   %s\n", f.Detail)
			}
			if f.Recommendation != "" {
				fmt.Fprintf(w, "   → %s\n", f.Recommendation)
			}
		}
	}
	return nil
}

func msf(v float64) string {
	if v >= 1000 {
		return fmt.Sprintf("%.2fs", v/1000)
	}
	return fmt.Sprintf("%.1fms", v)
}
