package handlers

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// Health is the answer of GET /api/health. It needs no token, so it says
// only whether the server can read its store and take spans.
type Health struct {
	Status    string    `json:"status"` // "ok"
	Time      time.Time `json:"time"`
	Ingest    bool      `json:"ingest"` // a collector takes OTLP at /v1/traces
	Auth      bool      `json:"auth"`   // a token is required
	JaegerUI  bool      `json:"jaeger_ui"`
	QueueUsed float64   `json:"queue_used,omitempty"` // collector queue fill, 0 to 1
}

// health handles GET /api/health: 200 when the store answers and is
// healthy, 503 when not.
func (s *Server) health(c echo.Context) error {
	if _, err := parseParams(c); err != nil {
		return err
	}
	if err := s.store.DB().PingContext(c.Request().Context()); err != nil {
		return &apiError{status: http.StatusServiceUnavailable, msg: "the store does not answer", err: err}
	}
	if err := s.store.Health(); err != nil {
		// The cause (with file paths) goes to the log, not to whoever asks.
		return &apiError{status: http.StatusServiceUnavailable,
			msg: "the store is unhealthy (its database was deleted, replaced or found corrupt) and acknowledges nothing; see the server log", err: err}
	}
	h := Health{Status: "ok", Time: time.Now().UTC(), Ingest: s.coll != nil, Auth: s.auth.enabled, JaegerUI: s.cfg.jaegerUI != ""}
	if s.coll != nil {
		m := s.coll.Metrics()
		if m.QueueCapacity > 0 {
			h.QueueUsed = float64(m.QueueDepth) / float64(m.QueueCapacity)
		}
	}
	return c.JSON(http.StatusOK, h)
}
