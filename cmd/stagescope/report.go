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
	"github.com/stagescope/stagescope/collector/tracetree"
)

// defaultReportLimit is how many traces report draws by hash at most: the
// dashboard's default too, so both read the same sample.
const defaultReportLimit = collector.DefaultSampleBudget

const reportSynopsis = `Prints the bottleneck report — per-stage time and self time, the critical path, worker
pools, retries, tokens and cost, tail attribution, what-if — and its ranked findings, each
with a recommendation. Traces come from the local database (a window, a run, one service)
or, with --jaeger, from a Jaeger query API (--service required), so traces kept in a
distributed Jaeger can be analysed too.

From the local database the sample is the dashboard's: the window in whole minutes (the
minute under way left out); every trace when it holds no more than --limit, otherwise the
--limit traces with the smallest trace-id hash (the same traces on every run) plus every
trace at or above the window's p95. The header says what was read.
`

// reportOutput is the JSON form of report: the report object of /api/report
// with the sample it was computed from.
type reportOutput struct {
	*analysis.Report
	Sample collector.SampleInfo `json:"sample"`
}

func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("report", reportSynopsis, stdout)
	var (
		data string
		win  window
	)
	registerData(fs, &data)
	win.register(fs)
	var prices pricesFlag
	prices.register(fs)
	var (
		run       = fs.String("run", "", "analyse the traces of this run `id` (see the Runs page or bench's output)")
		limit     = fs.Int("limit", defaultReportLimit, "draw at most this many traces by trace-id hash, plus the slow ones (from Jaeger: the newest this many)")
		asJSON    = fs.Bool("json", false, "print the report as JSON (the report object of the dashboard's /api/report, with a \"sample\" object)")
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
	aopts, err := prices.options("report")
	if err != nil {
		return err
	}
	var traces []analysis.Trace
	var info collector.SampleInfo
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
		qc, err := jaeger.NewQueryClient(*jaegerURL)
		if err != nil {
			return err
		}
		defer qc.Close()
		traces, info, err = readerTraces(ctx, qc, tracetree.Query{Service: *service, From: from, To: to, Limit: *limit}, "Jaeger")
		source = fmt.Sprintf("Jaeger %s, service %s", *jaegerURL, *service)
	} else {
		traces, info, err = localTraces(ctx, data, collector.TraceQuery{From: from, To: to, RunID: *run, Service: *service}, *limit)
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
	// The sample holds every slow trace but only a hash-drawn fraction of
	// the others: weighted back to the window (a no-op when every trace was
	// read, and for Jaeger, whose reader draws no hash sample).
	rep := analysis.Analyze(traces, append(aopts, analysis.WithSlowQuantile(*slowQ), analysis.WithSample(info.SlowThreshold, info.HashRate))...)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(reportOutput{Report: rep, Sample: info})
	}
	writeSample(stdout, info)
	return rep.WriteText(stdout, source)
}

// writeSample prints what the report read: the sampling method, the
// counts, and the window's latency.
func writeSample(w io.Writer, info collector.SampleInfo) {
	fmt.Fprintf(w, "Sample: %s.\n", info.Method)
	var parts []string
	if !info.From.IsZero() {
		parts = append(parts, fmt.Sprintf("window %s – %s", info.From.Format(time.RFC3339), info.To.Format(time.RFC3339)))
	}
	if info.TracesMatched != nil {
		parts = append(parts, fmt.Sprintf("%d traces in it", *info.TracesMatched))
	}
	if info.Examined > 0 {
		parts = append(parts, fmt.Sprintf("%d examined", info.Examined))
	}
	a := fmt.Sprintf("%d analysed", info.TracesAnalysed)
	if info.Sampled {
		a += fmt.Sprintf(" (%d by hash, budget %d; %d slow added)", info.HashSampled, info.Budget, info.SlowAdded)
	}
	parts = append(parts, a)
	fmt.Fprintf(w, "  %s.\n", strings.Join(parts, ", "))
	if l := info.Window; l != nil && l.Traces > 0 {
		fmt.Fprintf(w, "  Window end-to-end latency (all %d traces, from the %s): p50 %s  p95 %s  p99 %s\n", l.Traces, l.Source, fmtMs(l.P50), fmtMs(l.P95), fmtMs(l.P99))
	}
	if info.Sampled && info.SlowAdded > 0 {
		fmt.Fprintf(w, "  The slow traces are all in, so the report below weights the others back to the window: each stands for %.4g traces (1/hash rate), a slow one for itself.\n", 1/info.HashRate)
	}
	if info.Partial {
		fmt.Fprintln(w, "  Partial: not every trace of the window was examined (narrow the window to examine them all).")
	}
	fmt.Fprintln(w)
}

// fmtMs prints a duration in milliseconds, keeping microseconds readable.
func fmtMs(d time.Duration) string {
	if d < time.Millisecond {
		return fmt.Sprintf("%.3fms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.1fms", float64(d)/1e6)
}

// localTraces samples traces from the data directory's database by the
// store's one sampling policy, the dashboard's.
func localTraces(ctx context.Context, dir string, q collector.TraceQuery, budget int) ([]analysis.Trace, collector.SampleInfo, error) {
	st, err := openStoreReadOnly(dir)
	if err != nil {
		return nil, collector.SampleInfo{}, err
	}
	defer st.Close()
	ts, info, err := st.SampleTraces(ctx, q, budget)
	if errors.Is(err, collector.ErrNotFound) && q.RunID != "" {
		return nil, info, fmt.Errorf("run %q does not exist", q.RunID)
	}
	if err != nil {
		return nil, info, fmt.Errorf("cannot read traces: %w", err)
	}
	out := make([]analysis.Trace, 0, len(ts))
	for _, t := range ts {
		out = append(out, t.Trace)
	}
	return out, info, nil
}

// readerTraces reads traces through a tracetree.Reader (Jaeger's query API):
// the source picks them, so the method says just that.
func readerTraces(ctx context.Context, r tracetree.Reader, q tracetree.Query, name string) ([]analysis.Trace, collector.SampleInfo, error) {
	info := collector.SampleInfo{Budget: q.Limit, Service: q.Service, From: q.From, To: q.To}
	ts, err := r.FindTraces(ctx, q)
	if err != nil {
		return nil, info, fmt.Errorf("cannot read traces from %s: %w", name, err)
	}
	info.TracesAnalysed = len(ts)
	info.HashSampled = len(ts)
	info.Method = fmt.Sprintf("the %d newest traces %s returned (at most %d asked for; no hash sample, slow traces not added)", len(ts), name, q.Limit)
	return ts, info, nil
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
