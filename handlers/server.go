package handlers

import (
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/stagescope/stagescope/collector"
)

// otlpPath is where OTLP/HTTP traces are received.
const otlpPath = "/v1/traces"

// Server is stagescope's HTTP face over one source of traces (the SQLite
// store, or a Jaeger query service) and, for the store, its collector. Make
// it with New, serve Handler (or Echo) on a listener of your choice, and
// Close it before shutting down the HTTP server so live streams end.
type Server struct {
	src  collector.Source
	coll *collector.Collector
	cfg  config
	auth *auth
	e    *echo.Echo
	live *liveHub
	reg  *prometheus.Registry
	http *httpMetrics

	closeOnce sync.Once
	answers   *answerCache // reports and comparisons (answercache.go)
}

// New builds the server. src is read by the API (a *collector.SQLiteStore,
// or a Jaeger source); c (nil for a read-only dashboard over an existing
// database, and for any source other than the store) receives OTLP ingest
// and reports its counters.
func New(src collector.Source, c *collector.Collector, opts ...Option) *Server {
	s := &Server{src: src, coll: c, cfg: newConfig(opts), answers: newAnswerCache()}
	s.auth = newAuth(s.cfg.token)
	s.live = newLiveHub(src, s.cfg, s.cfg.logger)
	s.reg = prometheus.NewRegistry()
	s.http = newHTTPMetrics(s.reg, s.live)
	if c != nil {
		s.reg.MustRegister(c.PrometheusCollector())
	}

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.errorHandler
	e.Use(s.http.middleware, securityHeaders, newHostGuard(s.cfg.allowedHosts).middleware, s.auth.middleware, bodyLimit(s.cfg.maxBody), requestTimeout(s.cfg.requestTimeout))
	e.Server.RegisterOnShutdown(s.live.close)

	e.GET("/", s.index)
	e.HEAD("/", s.index)
	e.GET("/assets/*", s.asset)
	e.HEAD("/assets/*", s.asset)

	// Every GET route answers HEAD too.
	get := func(g interface {
		GET(string, echo.HandlerFunc, ...echo.MiddlewareFunc) *echo.Route
		HEAD(string, echo.HandlerFunc, ...echo.MiddlewareFunc) *echo.Route
	}, path string, h echo.HandlerFunc) {
		g.GET(path, h)
		g.HEAD(path, h)
	}
	api := e.Group("/api")
	get(api, "/health", s.health)
	api.POST("/session", s.createSession)
	get(api, "/traces", s.listTraces)
	get(api, "/traces/:id", s.getTrace)
	get(api, "/stages", s.stages)
	get(api, "/timeseries", s.timeseries)
	get(api, "/report", s.report)
	get(api, "/compare", s.compare)
	get(api, "/runs", s.runs)
	get(api, "/services", s.services)
	api.GET("/live", s.liveStream)
	api.Any("/*", func(c echo.Context) error { return echo.ErrNotFound })

	get(e, "/metrics", s.metrics)
	if c != nil {
		otlp := echo.WrapHandler(collector.NewOTLPHandler(c, append([]collector.OTLPOption{collector.WithMaxBodyBytes(s.cfg.maxBody),
			collector.WithOTLPLogger(s.cfg.logger)}, s.cfg.otlpOpts...)...))
		e.POST(otlpPath, otlp)
	} else if kind := src.Info().Kind; kind != "sqlite" {
		// Spans go to the source's own collectors; retrying here never helps.
		e.POST(otlpPath, func(echo.Context) error {
			return &apiError{status: http.StatusNotFound, msg: "OTLP ingest is off: this server reads traces from " + kind + "; send spans to " + kind + "'s collector instead"}
		})
	} else {
		e.POST(otlpPath, func(echo.Context) error {
			return &apiError{status: http.StatusServiceUnavailable, msg: "this server is read-only: it has no collector"}
		})
	}
	s.e = e
	return s
}

// Handler returns the server as an http.Handler.
func (s *Server) Handler() http.Handler { return s.e }

// Echo returns the underlying Echo instance, for adding routes or
// middleware. Echo's own Shutdown ends live streams too.
func (s *Server) Echo() *echo.Echo { return s.e }

// Close ends every live stream and stops looking for new traces. It does
// not close the store or the collector, which belong to the caller. Further
// live requests get 503.
func (s *Server) Close() error {
	s.closeOnce.Do(s.live.close)
	return nil
}

// HTTPServer returns an http.Server for addr (DefaultAddr when empty) with
// conservative timeouts: headers must arrive within 10 s and idle
// connections close after two minutes. There is no write timeout, which
// would cut the live stream; requests are bounded by WithRequestTimeout
// instead. Register Close with RegisterOnShutdown (done here) so Shutdown
// does not wait for streams.
func (s *Server) HTTPServer(addr string) *http.Server {
	if addr == "" {
		addr = DefaultAddr
	}
	srv := &http.Server{
		Addr:              addr,
		Handler:           s.e,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       s.cfg.requestTimeout + 10*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	srv.RegisterOnShutdown(func() { _ = s.Close() })
	return srv
}
