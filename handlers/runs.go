package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/stagescope/stagescope/collector"
)

// RunList is the answer of GET /api/runs. A run's summary is the JSON its
// benchmark wrote; the dashboard reads p50_ms, p95_ms, p99_ms, hit_rate and
// mrr from it.
type RunList struct {
	Runs []collector.Run `json:"runs"`
	// Note says why a source that keeps no runs (Jaeger) lists none.
	Note string `json:"note,omitempty"`
}

// runs handles GET /api/runs.
func (s *Server) runs(c echo.Context) error {
	if _, err := parseParams(c); err != nil {
		return err
	}
	rs, err := s.src.Runs(c.Request().Context())
	if err != nil {
		return storeError("runs", err)
	}
	out := RunList{Runs: nonNil(rs)}
	if info := s.src.Info(); !info.Runs {
		out.Note = "Benchmark runs live in the local store (stagescope serve --source sqlite, the database bench writes); this server reads traces from " + info.Kind + ", which keeps none."
	}
	return c.JSON(http.StatusOK, out)
}
