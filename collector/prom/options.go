package prom

import (
	"net/http"
	"time"
)

// Defaults of a Reader, overridable by options.
const (
	// DefaultTimeout bounds one query, from the request to the last byte of
	// the answer; Prometheus is asked to give up at the same time.
	DefaultTimeout = 10 * time.Second
	// DefaultSpanNamespace is the spanmetrics connector's default metric
	// namespace (traces.span.metrics), as Prometheus names it.
	DefaultSpanNamespace = "traces_span_metrics"
	// DefaultRootNamespace is the namespace of the root spans' connector in
	// tools/deploy/collector.yaml (traces.root.metrics).
	DefaultRootNamespace = "traces_root_metrics"
	// DefaultMaxResponseBytes bounds one answer read into memory.
	DefaultMaxResponseBytes = 64 << 20
	// MaxPoints is the most steps one Timeseries call reads: Prometheus
	// refuses more than 11,000 points per series in a range query.
	MaxPoints = 10_000
)

// Option configures New.
type Option func(*config)

type config struct {
	client        *http.Client
	timeout       time.Duration
	spanNamespace string
	rootNamespace string
	maxBytes      int64
	headers       map[string]string
}

// WithHTTPClient sets the HTTP client (transport, TLS, proxies). Its own
// Timeout, if any, applies as well as WithTimeout's.
func WithHTTPClient(c *http.Client) Option { return func(cfg *config) { cfg.client = c } }

// WithTimeout bounds each query (DefaultTimeout).
func WithTimeout(d time.Duration) Option { return func(cfg *config) { cfg.timeout = d } }

// WithSpanNamespace sets the metric name prefix of the per-span series,
// as Prometheus shows it (dots become underscores): the spanmetrics
// connector's namespace setting.
func WithSpanNamespace(ns string) Option { return func(cfg *config) { cfg.spanNamespace = ns } }

// WithRootNamespace sets the metric name prefix of the root spans' series.
func WithRootNamespace(ns string) Option { return func(cfg *config) { cfg.rootNamespace = ns } }

// WithMaxResponseBytes bounds one answer (DefaultMaxResponseBytes).
func WithMaxResponseBytes(n int64) Option { return func(cfg *config) { cfg.maxBytes = n } }

// WithHeaders adds headers to every request (for example an
// Authorization header for a Prometheus behind a proxy).
func WithHeaders(h map[string]string) Option {
	return func(cfg *config) {
		for k, v := range h {
			cfg.headers[k] = v
		}
	}
}
