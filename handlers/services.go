package handlers

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/stagescope/stagescope/collector"
)

// ServiceRow is one service of GET /api/services.
type ServiceRow struct {
	Service string `json:"service"`
	Traces  int64  `json:"traces"`
	// AtLeast is set when counting stopped at collector.ServiceCountCap.
	AtLeast bool `json:"at_least,omitempty"`
}

// ServiceList is the answer of GET /api/services: the services whose
// traces started in the window, by name.
type ServiceList struct {
	From     *time.Time   `json:"from,omitempty"`
	To       *time.Time   `json:"to,omitempty"`
	Services []ServiceRow `json:"services"`
	// Truncated is set when there were more than collector.MaxServices.
	Truncated bool `json:"truncated"`
	// Partial is set when the store could only count the newest traces of
	// the window (a database without the traces_by_service index):
	// ScannedTo is how far back it looked.
	Partial   bool       `json:"partial"`
	ScannedTo *time.Time `json:"scanned_to,omitempty"`
}

// services handles GET /api/services: from, to.
func (s *Server) services(c echo.Context) error {
	p, err := parseParams(c, "from", "to")
	if err != nil {
		return err
	}
	from, to, err := p.window("from", "to")
	if err != nil {
		return err
	}
	l, err := s.src.Services(c.Request().Context(), from, to)
	if err != nil {
		return storeError("services", err)
	}
	out := ServiceList{From: timePtr(from), To: timePtr(to), Services: make([]ServiceRow, 0, len(l.Services)),
		Truncated: l.Truncated, Partial: l.Partial}
	if l.Partial {
		out.ScannedTo = timePtr(l.ScannedTo)
	}
	for _, sc := range l.Services {
		out.Services = append(out.Services, ServiceRow(sc))
	}
	return c.JSON(http.StatusOK, out)
}

// serviceRollup reads the traces of one service (every service with "")
// in [from, to] (and of a run, when given) into a rollup: the stored
// rollups are not split by service, and a source without rollups has only
// traces.
func (s *Server) serviceRollup(c echo.Context, service, run string, from, to time.Time) (*collector.TraceRollup, error) {
	rl, err := s.src.RollupTraces(c.Request().Context(), collector.TraceQuery{From: from, To: to, Service: service, RunID: run}, s.cfg.serviceTraces)
	if err != nil {
		what := "traces"
		if service != "" {
			what += " of service " + truncate(service, 64)
		}
		return nil, storeError(what, err)
	}
	return rl, nil
}

// Coverage says what an answer computed from traces was computed from: one
// service's (the store's per-minute rollups are not split by service), or
// any answer of a source without rollups (Jaeger).
type Coverage struct {
	// Source is "traces": the service's traces were read from the store;
	// or the kind of the source whose traces were read ("jaeger"), whose
	// sample Method describes.
	Source string `json:"source"`
	Traces int    `json:"traces"`
	// Method says in words which traces a sampling source read.
	Method string `json:"method,omitempty"`
	// Partial is set when the window held more traces of the service than
	// one request reads (WithServiceTraces): only traces that started at or
	// after ScannedTo are counted.
	Partial   bool       `json:"partial"`
	ScannedTo *time.Time `json:"scanned_to,omitempty"`
}

func (s *Server) coverageOf(rl *collector.TraceRollup) *Coverage {
	cv := &Coverage{Source: "traces", Traces: rl.Traces, Partial: rl.Partial, Method: rl.Method}
	if kind := s.src.Info().Kind; kind != "sqlite" {
		cv.Source = kind
	}
	if rl.Partial {
		cv.ScannedTo = timePtr(rl.ScannedTo)
	}
	return cv
}
