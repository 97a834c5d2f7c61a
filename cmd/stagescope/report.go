package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	return rep.WriteText(stdout, source)
}

// localTraces reads traces from the data directory's database.
func localTraces(ctx context.Context, dir string, q collector.TraceQuery) ([]analysis.Trace, error) {
	st, err := openStoreReadOnly(dir)
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

var errNoTraces = errors.New("no stored traces match the selection")
