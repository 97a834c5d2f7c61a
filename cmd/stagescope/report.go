package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/collector/analysis"
	"github.com/stagescope/stagescope/collector/jaeger"
)

// defaultReportLimit is how many traces report analyses at most.
const defaultReportLimit = 2000

const reportSynopsis = `Prints the bottleneck report — per-stage time and self time, the critical path, worker
pools, retries, tokens and cost, tail attribution, what-if — and its ranked findings, each
with a recommendation. Traces come from the local database (a window, a run, one service)
or, with --jaeger, from a Jaeger query API (--service required), so traces kept in a
distributed Jaeger can be analysed too.
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
		service   = fs.String("service", "", "analyse only the traces of this service `name` (its service.name); required with --jaeger [OTEL_SERVICE_NAME, with --jaeger only]")
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
	if err := checkService("report", *service); err != nil {
		return err
	}
	if *jaegerURL != "" {
		if *service == "" {
			// Only Jaeger's reader needs a service, and there the
			// OpenTelemetry variable names the usual one; a local report
			// filtered by an inherited variable would surprise.
			*service = env("", "OTEL_SERVICE_NAME")
		}
		if *service == "" {
			return usagef("report", "--jaeger needs --service (or OTEL_SERVICE_NAME)")
		}
		if *run != "" {
			return usagef("report", "--run reads the local database; it cannot be combined with --jaeger")
		}
		traces, err = jaegerTraces(ctx, *jaegerURL, jaeger.Query{Service: *service, From: from, To: to, Limit: *limit})
		source = fmt.Sprintf("Jaeger %s, service %s", *jaegerURL, *service)
	} else {
		traces, err = localTraces(ctx, data, collector.TraceQuery{From: from, To: to, RunID: *run, Service: *service, Limit: *limit}, stderr)
		source = "database " + data
		if *run != "" {
			source += ", run " + *run
		}
		if *service != "" {
			source += ", service " + *service
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
func localTraces(ctx context.Context, dir string, q collector.TraceQuery, stderr io.Writer) ([]analysis.Trace, error) {
	st, err := openStoreReadOnly(dir)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	ts, err := loadStored(ctx, st, q, stderr)
	if err != nil {
		return nil, err
	}
	out := make([]analysis.Trace, 0, len(ts))
	for _, t := range ts {
		out = append(out, t.Trace)
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
	return ts, nil
}

var errNoTraces = errors.New("no stored traces match the selection")

// checkService refuses a service name no pipeline could have sent.
func checkService(cmd, name string) error {
	if name != strings.TrimSpace(name) {
		return usagef(cmd, "--service %q has leading or trailing spaces", name)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return usagef(cmd, "--service %q contains a control character", name)
		}
	}
	return nil
}

// loadStored reads the traces q selects (one page of at most q.Limit) and
// says on stderr when the search stopped at the store's scan budget, so a
// short answer is never mistaken for a complete one.
func loadStored(ctx context.Context, st *collector.SQLiteStore, q collector.TraceQuery, stderr io.Writer) ([]*collector.Trace, error) {
	page, err := st.ListTraces(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("cannot read traces: %w", err)
	}
	if page.Partial {
		fmt.Fprintf(stderr, "stagescope: the search stopped after examining %d traces; traces that started before %s were not examined (narrow the window to reach them)\n",
			collector.TraceScanBudget, page.ScannedTo.UTC().Format(time.RFC3339))
	}
	out := make([]*collector.Trace, 0, len(page.Traces))
	for _, ts := range page.Traces {
		t, err := st.GetTrace(ctx, ts.TraceID)
		if errors.Is(err, collector.ErrNotFound) {
			continue // deleted by retention meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("cannot read traces: %w", err)
		}
		out = append(out, t)
	}
	return out, nil
}
