package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/collector/jaeger"
	"github.com/stagescope/stagescope/spans"
)

// defaultExportLimit is how many traces one export sends at most.
const defaultExportLimit = 10_000

const exportSynopsis = `Replays stored traces (a window, a run, one service, or trace ids) to Jaeger with their
original trace and span ids, parents, times, attributes and events. OTLP/HTTP is the default (Jaeger ≥ 1.35
and v2 accept it); --protocol thrift posts jaeger.thrift to an old collector's
/api/traces endpoint instead.
`

func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "jaeger" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			fmt.Fprintf(stdout, "Usage: stagescope export jaeger [flags]\n\n%s\nRun \"stagescope export jaeger --help\" for its flags.\n", exportSynopsis)
			return nil
		}
		return usagef("export", "the only export target is jaeger: stagescope export jaeger [flags]")
	}
	fs := newFlagSet("export jaeger", exportSynopsis, stdout)
	var (
		data string
		win  window
	)
	registerData(fs, &data)
	win.register(fs)
	var (
		run      = fs.String("run", "", "export the traces of this run `id`")
		ids      = fs.String("trace", "", "comma-separated trace `ids` (32 hex digits) to export")
		limit    = fs.Int("limit", defaultExportLimit, "export at most this many traces (the newest)")
		protocol = fs.String("protocol", "otlp", "otlp (OTLP/HTTP) or thrift (jaeger.thrift over HTTP, for old collectors)")
		endpoint = fs.String("endpoint", "", "where to send: default "+jaeger.DefaultOTLPEndpoint+" for otlp "+
			"[OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT], "+jaeger.DefaultThriftEndpoint+" for thrift")
		service = fs.String("service", "", "export only the traces of this service `name` (their service.name)")
		defSvc  = fs.String("default-service", env(jaeger.DefaultServiceName, "OTEL_SERVICE_NAME"), "Jaeger service of spans that carry no service.name [OTEL_SERVICE_NAME]")
		batch   = fs.Int("batch", jaeger.DefaultBatchSize, "spans per request")
		timeout = fs.Duration("timeout", envDuration(jaeger.DefaultTimeout, "STAGESCOPE_EXPORT_TIMEOUT"), "bound of one request")
		gzip    = fs.Bool("gzip", env("", "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "OTEL_EXPORTER_OTLP_COMPRESSION") == "gzip", "gzip OTLP requests [OTEL_EXPORTER_OTLP_COMPRESSION=gzip]")
	)
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	from, to, err := win.bounds("export jaeger", time.Now())
	if err != nil {
		return err
	}
	if *limit < 1 || *limit > collector.MaxTraceLimit {
		return usagef("export jaeger", "--limit must be between 1 and %d", collector.MaxTraceLimit)
	}
	if err := checkService("export jaeger", *service); err != nil {
		return err
	}
	var traceIDs []spans.TraceID
	for _, s := range stringList(*ids) {
		id, err := spans.ParseTraceID(s)
		if err != nil {
			return usagef("export jaeger", "--trace %q: %v", s, err)
		}
		traceIDs = append(traceIDs, id)
	}
	headers, err := otlpHeaders(env("", "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS"))
	if err != nil {
		return usagef("export jaeger", "OTEL_EXPORTER_OTLP_HEADERS: %v", err)
	}
	opts := []jaeger.Option{jaeger.WithBatchSize(*batch), jaeger.WithTimeout(*timeout), jaeger.WithGzip(*gzip)}
	if headers != nil {
		opts = append(opts, jaeger.WithHeaders(headers))
	}
	proto := strings.ToLower(*protocol)
	switch proto {
	case "otlp":
		if *endpoint == "" {
			*endpoint = env(jaeger.DefaultOTLPEndpoint, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
		}
	case "thrift":
		if *endpoint == "" {
			*endpoint = jaeger.DefaultThriftEndpoint
		}
	default:
		return usagef("export jaeger", "--protocol %q: want otlp or thrift", *protocol)
	}
	newExporter := func(service string) (jaeger.Exporter, error) {
		o := append(slices.Clone(opts), jaeger.WithServiceName(service))
		if proto == "otlp" {
			return jaeger.NewOTLPExporter(ctx, *endpoint, o...)
		}
		return jaeger.NewThriftExporter(*endpoint, o...)
	}
	// Fail on a bad endpoint before reading the store.
	probe, err := newExporter(*defSvc)
	if err != nil {
		return usagef("export jaeger", "--endpoint: %v", err)
	}
	_ = probe.Shutdown(context.WithoutCancel(ctx))

	stored, err := storedTraces(ctx, data, traceIDs, collector.TraceQuery{From: from, To: to, RunID: *run, Service: *service, Limit: *limit}, stderr)
	if err != nil {
		return err
	}
	if len(stored) == 0 {
		return errNoTraces
	}
	// stagescope's own spans leave under the service they were stored with
	// (the trace's), so the dashboard and Jaeger name them alike;
	// --default-service, when given, names them instead.
	explicit := false
	fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "default-service" })
	var order []string
	groups := map[string][]jaeger.Trace{}
	for _, t := range stored {
		svc := *defSvc
		if !explicit && t.Summary.Service != "" {
			svc = t.Summary.Service
		}
		if _, ok := groups[svc]; !ok {
			order = append(order, svc)
		}
		groups[svc] = append(groups[svc], t.Trace)
	}
	var total jaeger.Stats
	for _, svc := range order {
		exp, err := newExporter(svc)
		if err != nil {
			return usagef("export jaeger", "--endpoint: %v", err)
		}
		stats, err := exp.Export(ctx, groups[svc])
		serr := exp.Shutdown(context.WithoutCancel(ctx))
		total.Traces += stats.Traces
		total.Spans += stats.Spans
		total.Events += stats.Events
		total.Batches += stats.Batches
		if err == nil {
			err = serr
		}
		if err != nil {
			fmt.Fprintf(stdout, "stagescope: exported %d traces, %d spans, %d events in %d requests to %s (%s)\n",
				total.Traces, total.Spans, total.Events, total.Batches, *endpoint, *protocol)
			return fmt.Errorf("export to %s stopped: %w", *endpoint, err)
		}
	}
	fmt.Fprintf(stdout, "stagescope: exported %d traces, %d spans, %d events in %d requests to %s (%s)\n",
		total.Traces, total.Spans, total.Events, total.Batches, *endpoint, *protocol)
	return nil
}

// storedTraces reads the traces to export: the given ids (those of
// q.Service only, when set), or those q selects.
func storedTraces(ctx context.Context, dir string, ids []spans.TraceID, q collector.TraceQuery, stderr io.Writer) ([]*collector.Trace, error) {
	st, err := openStoreReadOnly(dir)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	var ts []*collector.Trace
	if len(ids) > 0 {
		for _, id := range ids {
			t, err := st.GetTrace(ctx, id)
			if err != nil {
				return nil, fmt.Errorf("trace %s: %w", id, err)
			}
			if q.Service != "" && !traceInService(t, q.Service) {
				return nil, fmt.Errorf("trace %s has no span of service %q", id, q.Service)
			}
			ts = append(ts, t)
		}
	} else if ts, err = loadStored(ctx, st, q, stderr); err != nil {
		return nil, err
	}
	return ts, nil
}

// traceInService reports whether a stored trace belongs to service: its
// summary's, or any span's.
func traceInService(t *collector.Trace, service string) bool {
	if t.Summary.Service == service {
		return true
	}
	for i := range t.Spans {
		if t.Spans[i].Service() == service {
			return true
		}
	}
	return false
}
