package handlers

import (
	"log/slog"
	"maps"
	"time"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/collector/analysis"
)

// Defaults of the server.
const (
	// DefaultAddr is where the command line listens unless told otherwise:
	// loopback only.
	DefaultAddr = "127.0.0.1:7318"
	// DefaultMaxBodyBytes bounds a request body (an OTLP batch).
	DefaultMaxBodyBytes = 8 << 20
	// DefaultRequestTimeout bounds every request but the live stream.
	DefaultRequestTimeout = 30 * time.Second
	// DefaultReportSample is how many traces the bottleneck report and each
	// side of a comparison analyse at most: half the slowest of the window,
	// half spread over it.
	DefaultReportSample = 2000
	// DefaultLivePoll is how often the live stream looks for new traces.
	DefaultLivePoll = time.Second
	// DefaultLiveHeartbeat is how often an idle live stream sends a comment,
	// so proxies and browsers keep the connection.
	DefaultLiveHeartbeat = 15 * time.Second
	// DefaultLiveBuffer is how many traces may wait for one live client; a
	// client further behind is disconnected (it reconnects and resumes).
	DefaultLiveBuffer = 256
	// DefaultMaxLiveClients bounds concurrent live streams.
	DefaultMaxLiveClients = 64
	// DefaultLiveLookback is how far before now a trace may have started and
	// still be announced as new (traces are written when they end).
	DefaultLiveLookback = 10 * time.Minute
	// DefaultMaxSeriesPoints bounds the steps of a time series.
	DefaultMaxSeriesPoints = 240
	// DefaultServiceTraces is how many traces of one service a stage
	// breakdown or time series reads at most (the rollups are not split by
	// service, so those answers come from the traces).
	DefaultServiceTraces = collector.DefaultRollupTraces
)

type config struct {
	otlpOpts       []collector.OTLPOption
	token          string
	jaegerUI       string
	maxBody        int64
	requestTimeout time.Duration
	prices         map[string]analysis.Price
	logger         *slog.Logger
	reportSample   int
	livePoll       time.Duration
	liveHeartbeat  time.Duration
	liveBuffer     int
	maxLive        int
	liveLookback   time.Duration
	serviceTraces  int
	allowedHosts   []string
}

func newConfig(opts []Option) config {
	c := config{
		maxBody:        DefaultMaxBodyBytes,
		requestTimeout: DefaultRequestTimeout,
		reportSample:   DefaultReportSample,
		livePoll:       DefaultLivePoll,
		liveHeartbeat:  DefaultLiveHeartbeat,
		liveBuffer:     DefaultLiveBuffer,
		maxLive:        DefaultMaxLiveClients,
		liveLookback:   DefaultLiveLookback,
		serviceTraces:  DefaultServiceTraces,
		logger:         slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	return c
}

// Option configures New.
type Option func(*config)

// WithOTLPOptions passes options to the OTLP receiver mounted at
// /v1/traces (for example collector.WithOnIngested for live export).
func WithOTLPOptions(opts ...collector.OTLPOption) Option {
	return func(c *config) { c.otlpOpts = append(c.otlpOpts, opts...) }
}

// WithToken requires "Authorization: Bearer token" on ingest, the API and
// /metrics. An empty token leaves the server open (fine on loopback).
func WithToken(token string) Option { return func(c *config) { c.token = token } }

// WithAllowedHosts names the hosts (as in the Host header, port ignored)
// the server answers to besides IP addresses and localhost, which are always
// allowed; "*" allows any. Other names get 421: a guard against DNS
// rebinding, which would let a web page read a loopback server.
func WithAllowedHosts(hosts ...string) Option {
	return func(c *config) { c.allowedHosts = append(c.allowedHosts, hosts...) }
}

// WithJaegerUI sets the base address of a Jaeger UI (for example
// "http://127.0.0.1:16686"); traces then link to <url>/trace/<id>.
func WithJaegerUI(url string) Option { return func(c *config) { c.jaegerUI = url } }

// WithMaxBodyBytes bounds request bodies (DefaultMaxBodyBytes); larger ones
// get 413.
func WithMaxBodyBytes(n int64) Option {
	return func(c *config) {
		if n > 0 {
			c.maxBody = n
		}
	}
}

// WithRequestTimeout sets the deadline of each request
// (DefaultRequestTimeout). The live stream is exempt.
func WithRequestTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.requestTimeout = d
		}
	}
}

// WithPriceTable sets the model prices of the bottleneck report's cost
// section (analysis.DefaultPrices otherwise).
func WithPriceTable(prices map[string]analysis.Price) Option {
	return func(c *config) { c.prices = maps.Clone(prices) }
}

// WithLogger sets where request errors and stream events are logged
// (discarded by default).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}

// WithReportSample sets how many traces a report analyses at most
// (DefaultReportSample).
func WithReportSample(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.reportSample = n
		}
	}
}

// WithLivePoll sets how often the live stream looks for new traces
// (DefaultLivePoll).
func WithLivePoll(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.livePoll = d
		}
	}
}

// WithLiveHeartbeat sets the heartbeat interval of the live stream
// (DefaultLiveHeartbeat).
func WithLiveHeartbeat(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.liveHeartbeat = d
		}
	}
}

// WithLiveBuffer sets how many traces may queue for one live client before
// it is disconnected (DefaultLiveBuffer).
func WithLiveBuffer(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.liveBuffer = n
		}
	}
}

// WithMaxLiveClients bounds concurrent live streams (DefaultMaxLiveClients);
// more get 503.
func WithMaxLiveClients(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxLive = n
		}
	}
}

// WithLiveLookback sets how long before now a trace may have started and
// still be announced (DefaultLiveLookback).
func WithLiveLookback(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.liveLookback = d
		}
	}
}

// WithServiceTraces sets how many traces of one service a stage breakdown
// or time series reads at most (DefaultServiceTraces); beyond it the answer
// covers the newest traces and says so.
func WithServiceTraces(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.serviceTraces = n
		}
	}
}

// priceTable is the price table of costs the API shows: WithPriceTable's,
// else the built-in one.
func (s *Server) priceTable() map[string]analysis.Price {
	if s.cfg.prices != nil {
		return s.cfg.prices
	}
	return analysis.DefaultPrices()
}
