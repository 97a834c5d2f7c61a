package handlers

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/stagescope/stagescope/collector"
)

// healthTimeout bounds how long /api/health waits for the source: a
// Jaeger that hangs makes health fail, not hang.
const healthTimeout = 5 * time.Second

// Health is the answer of GET /api/health. It needs no token, so it says
// only whether the server can read its store and take spans.
type Health struct {
	Status    string    `json:"status"` // "ok"
	Time      time.Time `json:"time"`
	Ingest    bool      `json:"ingest"` // a collector takes OTLP at /v1/traces
	Auth      bool      `json:"auth"`   // a token is required
	JaegerUI  bool      `json:"jaeger_ui"`
	QueueUsed float64   `json:"queue_used,omitempty"` // collector queue fill, 0 to 1
	// Source is what the pages read: the SQLite store, or a Jaeger query
	// service (read-only, aggregates from a trace sample or a metrics
	// provider).
	Source collector.SourceInfo `json:"source"`
}

// health handles GET /api/health: 200 when the source answers (within
// healthTimeout) and is healthy, 503 when not.
func (s *Server) health(c echo.Context) error {
	if _, err := parseParams(c); err != nil {
		return err
	}
	info := s.src.Info()
	ctx, cancel := context.WithTimeout(c.Request().Context(), healthTimeout)
	defer cancel()
	if err := s.src.Ping(ctx); err != nil {
		what := "the store"
		if info.Kind != "sqlite" {
			what = "the " + info.Kind + " query service"
		}
		msg := what + " does not answer"
		if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
			msg += " within " + healthTimeout.String()
		}
		// The cause (with addresses) goes to the log, not to whoever asks.
		return &apiError{status: http.StatusServiceUnavailable, msg: msg + "; see the server log", err: err}
	}
	if err := s.src.Health(); err != nil {
		// The cause (with file paths) goes to the log, not to whoever asks.
		return &apiError{status: http.StatusServiceUnavailable,
			msg: "the store is unhealthy (its database was deleted, replaced or found corrupt) and acknowledges nothing; see the server log", err: err}
	}
	h := Health{Status: "ok", Time: time.Now().UTC(), Ingest: s.coll != nil, Auth: s.auth.enabled, JaegerUI: s.cfg.jaegerUI != "", Source: info}
	if s.coll != nil {
		m := s.coll.Metrics()
		if m.QueueCapacity > 0 {
			h.QueueUsed = float64(m.QueueDepth) / float64(m.QueueCapacity)
		}
	}
	return c.JSON(http.StatusOK, h)
}
