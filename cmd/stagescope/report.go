package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/collector/analysis"
	"github.com/stagescope/stagescope/collector/jaeger"
	"github.com/stagescope/stagescope/spans"
)

// defaultReportLimit is how many traces report analyses at most.
const defaultReportLimit = 2000

const reportSynopsis = `Prints the bottleneck report — per-stage time and self time, the critical path, worker
pools, retries, tokens and cost, tail attribution, what-if — and its ranked findings, each
with a recommendation. Traces come from the local database (a window, or a run) or, with
--jaeger, from a Jaeger query API (--service required), so traces kept in a distributed
Jaeger can be analysed too.
`

func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("report", reportSynopsis, stdout)
	var (
		data string
		win  window
	)
	registerData(fs, &data)
	win.register(fs)
	var (
		run       = fs.String("run", "", "analyse the traces of this run `id` (see the Runs page or bench's output)")
		limit     = fs.Int("limit", defaultReportLimit, "analyse at most this many traces (the newest)")
		asJSON    = fs.Bool("json", false, "print the report as JSON (the dashboard's /api/report format)")
		slowQ     = fs.Float64("slow-quantile", analysis.DefaultSlowQuantile, "traces at or above this latency quantile form the slow cohort")
		jaegerURL = fs.String("jaeger", env("", "STAGESCOPE_JAEGER_QUERY"), "read traces from the Jaeger query API at this `URL` (e.g. "+jaeger.DefaultQueryURL+") instead of the database [STAGESCOPE_JAEGER_QUERY]")
		service   = fs.String("service", env("", "OTEL_SERVICE_NAME"), "with --jaeger: the service whose traces to read [OTEL_SERVICE_NAME]")
	)
	if err := parse(fs, args); err != nil {
		return err
	}
	from, to, err := win.bounds("report", time.Now())
	if err != nil {
		return err
	}
	if *limit < 1 || *limit > collector.MaxTraceLimit {
		return usagef("report", "--limit must be between 1 and %d", collector.MaxTraceLimit)
	}
	if *slowQ <= 0 || *slowQ >= 1 {
		return usagef("report", "--slow-quantile must be between 0 and 1")
	}
	var traces []analysis.Trace
	var source string
	if *jaegerURL != "" {
		if *service == "" {
			return usagef("report", "--jaeger needs --service (or OTEL_SERVICE_NAME)")
		}
		if *run != "" {
			return usagef("report", "--run reads the local database; it cannot be combined with --jaeger")
		}
		traces, err = jaegerTraces(ctx, *jaegerURL, jaeger.Query{Service: *service, From: from, To: to, Limit: *limit})
		source = fmt.Sprintf("Jaeger %s, service %s", *jaegerURL, *service)
	} else {
		traces, err = localTraces(ctx, data, collector.TraceQuery{From: from, To: to, RunID: *run, Limit: *limit})
		source = "database " + data
		if *run != "" {
			source += ", run " + *run
		}
	}
	if err != nil {
		return err
	}
	rep := analysis.Analyze(traces, analysis.WithSlowQuantile(*slowQ))
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return printReport(stdout, source, rep)
}

// localTraces reads traces from the data directory's database.
func localTraces(ctx context.Context, dir string, q collector.TraceQuery) ([]analysis.Trace, error) {
	st, err := openStore(dir)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	ts, err := st.LoadTraces(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("cannot read traces: %w", err)
	}
	out := make([]analysis.Trace, 0, len(ts))
	for _, t := range ts {
		ptrs := make([]*spans.Span, len(t.Spans))
		for i := range t.Spans {
			ptrs[i] = &t.Spans[i]
		}
		out = append(out, analysis.Trace{Spans: ptrs})
	}
	return out, nil
}

// jaegerTraces reads traces from a Jaeger query API.
func jaegerTraces(ctx context.Context, baseURL string, q jaeger.Query) ([]analysis.Trace, error) {
	qc, err := jaeger.NewQueryClient(baseURL)
	if err != nil {
		return nil, err
	}
	defer qc.Close()
	ts, err := qc.FindTraces(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("cannot read traces from Jaeger: %w", err)
	}
	out := make([]analysis.Trace, 0, len(ts))
	for _, t := range ts {
		out = append(out, analysis.Trace{Spans: t.Spans})
	}
	return out, nil
}

// printReport writes the report for a terminal.
func printReport(w io.Writer, source string, r *analysis.Report) error {
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

var errNoTraces = errors.New("no stored traces match the selection")
