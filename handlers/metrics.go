package handlers

import (
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// httpMetrics counts requests per route and status, and the live streams.
type httpMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	handler  echo.HandlerFunc
}

func newHTTPMetrics(reg *prometheus.Registry, live *liveHub) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "stagescope", Subsystem: "http", Name: "requests_total",
			Help: "HTTP requests by route pattern and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "stagescope", Subsystem: "http", Name: "request_seconds",
			Help:    "Time to answer an HTTP request, by route pattern (the live stream is left out).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10),
		}, []string{"route"}),
	}
	reg.MustRegister(m.requests, m.latency,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "stagescope", Subsystem: "live", Name: "clients",
			Help: "Live streams open now.",
		}, func() float64 { return float64(live.clients()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "stagescope", Subsystem: "live", Name: "dropped_clients_total",
			Help: "Live streams ended because the client fell behind.",
		}, func() float64 { return float64(live.dropped.Load()) }),
	)
	m.handler = echo.WrapHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return m
}

// middleware observes each request after it is answered, labelled by the
// route pattern (bounded), never by the raw path.
func (m *httpMetrics) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		m.requests.WithLabelValues(route, strconv.Itoa(c.Response().Status)).Inc()
		if route != "/api/live" {
			m.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
		}
		return nil
	}
}

// metrics handles GET /metrics in the Prometheus text format.
func (s *Server) metrics(c echo.Context) error { return s.http.handler(c) }
