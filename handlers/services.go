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
	l, err := s.store.Services(c.Request().Context(), from, to)
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

// serviceRollup reads the traces of one service in [from, to] (and of a
// run, when given) into a rollup: the stored rollups are not split by
// service.
func (s *Server) serviceRollup(c echo.Context, service, run string, from, to time.Time) (*collector.TraceRollup, error) {
	rl, err := s.store.RollupTraces(c.Request().Context(), collector.TraceQuery{From: from, To: to, Service: service, RunID: run}, s.cfg.serviceTraces)
	if err != nil {
		return nil, storeError("traces of service "+truncate(service, 64), err)
	}
	return rl, nil
}

// Coverage says what an answer for one service was computed from.
type Coverage struct {
	// Source is "traces": the service's traces were read, since the
	// per-minute rollups are not split by service.
	Source string `json:"source"`
	Traces int    `json:"traces"`
	// Partial is set when the window held more traces of the service than
	// one request reads (WithServiceTraces): only traces that started at or
	// after ScannedTo are counted.
	Partial   bool       `json:"partial"`
	ScannedTo *time.Time `json:"scanned_to,omitempty"`
}

func coverageOf(rl *collector.TraceRollup) *Coverage {
	cv := &Coverage{Source: "traces", Traces: rl.Traces, Partial: rl.Partial}
	if rl.Partial {
		cv.ScannedTo = timePtr(rl.ScannedTo)
	}
	return cv
}
