package main

import (
	"flag"
	"fmt"
	"net/url"
	"strings"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/collector/jaeger"
	"github.com/stagescope/stagescope/collector/prom"
)

// newStageMetrics makes the --prometheus provider of stage aggregates from
// its URL: any collector.StageMetrics (nil refuses --prometheus).
var newStageMetrics = func(url string) (collector.StageMetrics, error) { return prom.New(url) }

// registerSource adds serve's --source and --prometheus.
func (f *serveFlags) registerSource(fs *flag.FlagSet) {
	fs.StringVar(&f.source, "source", env("sqlite", "STAGESCOPE_SOURCE"),
		"where the dashboard and API read traces: `sqlite` (the --data database, which OTLP ingest fills) or jaeger=URL, "+
			"a Jaeger v2 query service (e.g. jaeger="+jaeger.DefaultQueryURL+"; read-only, OTLP ingest off) [STAGESCOPE_SOURCE]")
	fs.StringVar(&f.prometheus, "prometheus", env("", "STAGESCOPE_PROMETHEUS"),
		"with --source jaeger=…: per-stage rates, errors and latency percentiles of all services from the spanmetrics histograms in the Prometheus at this `URL`, instead of a sample of traces [STAGESCOPE_PROMETHEUS]")
}

// checkSource validates --source and the flags that do not go with it.
func (f *serveFlags) checkSource(fs *flag.FlagSet) error {
	kind, rest, hasURL := strings.Cut(strings.TrimSpace(f.source), "=")
	switch {
	case kind == "sqlite" && !hasURL:
	case kind == "sqlite":
		return usagef(f.cmd, "--source sqlite takes no URL (the database is --data)")
	case kind == "jaeger" && strings.TrimSpace(rest) == "":
		return usagef(f.cmd, "--source jaeger needs the query service's URL: --source jaeger=%s", jaeger.DefaultQueryURL)
	case kind == "jaeger":
		u, err := url.Parse(strings.TrimSpace(rest))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return usagef(f.cmd, "--source jaeger=%s: want the http(s) URL of a Jaeger query service, e.g. jaeger=%s", rest, jaeger.DefaultQueryURL)
		}
		f.jaegerURL = u.String()
	default:
		return usagef(f.cmd, "--source %q: unknown source; want sqlite or jaeger=URL", f.source)
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	if f.jaegerURL == "" {
		if f.prometheus != "" {
			return usagef(f.cmd, "--prometheus goes with --source jaeger=URL: the database keeps its own stage rollups")
		}
		return nil
	}
	for _, name := range []string{"export-jaeger", "retention-age", "retention-mb", "data"} {
		if set[name] {
			return usagef(f.cmd, "--%s is for the sqlite source; with --source jaeger=… traces are stored and kept by Jaeger", name)
		}
	}
	f.exportJaeger, f.retentionAge, f.retentionMB = "", 0, 0 // inherited from the environment, they do not apply
	if f.prometheus != "" {
		if newStageMetrics == nil {
			return usagef(f.cmd, "--prometheus: this build has no Prometheus client")
		}
		u, err := url.Parse(f.prometheus)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usagef(f.cmd, "--prometheus %s: want the http(s) URL of a Prometheus server, e.g. http://127.0.0.1:9090", f.prometheus)
		}
	}
	return nil
}

// jaegerSource is serve's Jaeger source with its client.
type jaegerSource struct {
	*jaeger.Source
	qc           *jaeger.QueryClient
	url          string
	from         string // where stage aggregates come from
	closeMetrics func()
}

// openJaegerSource connects to nothing yet: the first page load (or
// /api/health) tells whether Jaeger answers.
func openJaegerSource(f *serveFlags) (*jaegerSource, error) {
	qc, err := jaeger.NewQueryClient(f.jaegerURL)
	if err != nil {
		return nil, usagef(f.cmd, "--source: %v", err)
	}
	shown := f.jaegerURL
	if u, err := url.Parse(f.jaegerURL); err == nil {
		shown = u.Redacted() // no password on the terminal
	}
	js := &jaegerSource{qc: qc, url: shown, from: "a sample of traces"}
	var opts []jaeger.SourceOption
	if f.prometheus != "" {
		m, err := newStageMetrics(f.prometheus)
		if err != nil {
			qc.Close()
			return nil, fmt.Errorf("cannot use Prometheus at %s: %w", f.prometheus, err)
		}
		opts = append(opts, jaeger.WithStageMetrics(m, "prometheus"))
		js.from = "Prometheus at " + f.prometheus
		if c, ok := m.(interface{ Close() }); ok {
			js.closeMetrics = c.Close
		}
	}
	js.Source = jaeger.NewSource(qc, opts...)
	return js, nil
}

func (j *jaegerSource) describe() string {
	return fmt.Sprintf("Jaeger at %s, stage aggregates from %s", j.url, j.from)
}

func (j *jaegerSource) close() {
	_ = j.Source.Close()
	j.qc.Close()
	if j.closeMetrics != nil {
		j.closeMetrics()
	}
}
