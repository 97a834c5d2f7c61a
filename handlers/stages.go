package handlers

import (
	"context"
	"math"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/stagescope/stagescope/collector"
)

// StageRow is one stage of a breakdown. Percentiles come from the store's
// log-scale histograms (about ±2.2 %).
type StageRow struct {
	Stage     string  `json:"stage"`
	Count     int64   `json:"count"`
	Errors    int64   `json:"errors"`
	TotalMs   float64 `json:"total_ms"` // summed durations
	SelfMs    float64 `json:"self_ms"`  // summed self times
	MeanMs    float64 `json:"mean_ms"`
	P50Ms     float64 `json:"p50_ms"`
	P95Ms     float64 `json:"p95_ms"`
	P99Ms     float64 `json:"p99_ms"`
	SelfP50Ms float64 `json:"self_p50_ms"`
	SelfP95Ms float64 `json:"self_p95_ms"`
	SelfP99Ms float64 `json:"self_p99_ms"`
	// Share is the stage's self time over the summed end-to-end latency.
	Share float64 `json:"share"`
}

// Latency summarises end-to-end latency over a window.
type Latency struct {
	Traces int64   `json:"traces"`
	Errors int64   `json:"errors"`
	P50Ms  float64 `json:"p50_ms"`
	P95Ms  float64 `json:"p95_ms"`
	P99Ms  float64 `json:"p99_ms"`
}

// StageBreakdown is the answer of GET /api/stages.
type StageBreakdown struct {
	From    *time.Time `json:"from,omitempty"`
	To      *time.Time `json:"to,omitempty"`
	Run     string     `json:"run,omitempty"`
	Service string     `json:"service,omitempty"`
	Stages  []StageRow `json:"stages"`
	// E2E is over all traces of the window (absent for a run).
	E2E *Latency `json:"e2e,omitempty"`
	// Coverage is present for a service, and for every answer of a source
	// without rollups (Jaeger): the breakdown is computed from traces, and
	// may cover only the newest of them, or a sample.
	Coverage *Coverage `json:"coverage,omitempty"`
}

func toStageRow(st collector.StageStats) StageRow {
	r := StageRow{
		Stage: st.Stage.String(), Count: st.Count, Errors: st.Errors,
		TotalMs: millis(st.Total), SelfMs: millis(st.Self),
		P50Ms: millis(st.P50), P95Ms: millis(st.P95), P99Ms: millis(st.P99),
		SelfP50Ms: millis(st.SelfP50), SelfP95Ms: millis(st.SelfP95), SelfP99Ms: millis(st.SelfP99),
		Share: round4(st.SelfShare),
	}
	if st.Count > 0 {
		r.MeanMs = millis(st.Total / time.Duration(st.Count))
	}
	return r
}

func round4(f float64) float64 { return float64(int64(f*1e4+0.5)) / 1e4 }

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// stages handles GET /api/stages: from, to, run, service. The source's
// rollups (or metrics provider) answer for a window or a run; a service,
// and any window of a source that has only traces, is answered from traces
// (see Coverage).
func (s *Server) stages(c echo.Context) error {
	p, err := parseParams(c, "from", "to", "run", "service")
	if err != nil {
		return err
	}
	from, to, err := p.window("from", "to")
	if err != nil {
		return err
	}
	run, err := p.text("run", maxTextParam)
	if err != nil {
		return err
	}
	service, err := p.service("service")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	out := StageBreakdown{From: timePtr(from), To: timePtr(to), Run: run, Service: service}
	var rows []collector.StageStats
	if service != "" || s.src.Info().Aggregates == collector.AggregatesSample {
		rl, err := s.serviceRollup(c, service, run, from, to)
		if err != nil {
			return err
		}
		rows, out.Coverage = rl.StageBreakdown(from, to), s.coverageOf(rl)
		if run == "" {
			out.E2E = rollupLatency(rl, from, to)
		}
	} else {
		if rows, err = s.src.StageBreakdown(ctx, from, to, run); err != nil {
			return storeError("stage breakdown", err)
		}
		if run == "" {
			if out.E2E, err = s.e2e(ctx, from, to); err != nil {
				return err
			}
		}
	}
	out.Stages = make([]StageRow, 0, len(rows))
	for _, r := range rows {
		out.Stages = append(out.Stages, toStageRow(r))
	}
	return c.JSON(http.StatusOK, out)
}

// rollupLatency is e2e over the traces of a rollup.
func rollupLatency(rl *collector.TraceRollup, from, to time.Time) *Latency {
	from, to = openWindow(from, to)
	pts, err := rl.Timeseries(from, to, oneStep(from, to))
	if err != nil { // only for from after to, which params.window refuses
		return &Latency{}
	}
	return latencyOf(pts)
}

// openWindow closes the open ends of a window: the epoch and now.
func openWindow(from, to time.Time) (time.Time, time.Time) {
	if from.IsZero() {
		from = time.Unix(0, 0)
	}
	if to.IsZero() {
		to = time.Now()
	}
	return from, to
}

// oneStep is the step of a time series covering [from, to] in one step of
// whole minutes (two when the minutes round differently). A window of the
// whole representable range is longer than a time.Duration: the step then
// stops short of overflowing, which makes the series two steps.
func oneStep(from, to time.Time) time.Duration {
	minutes := to.Unix()/60 - from.Unix()/60 + 1
	return time.Duration(min(minutes, math.MaxInt64/int64(time.Minute)-1)) * time.Minute
}

// latencyOf sums the points of a one-step series (two when the window's
// minutes round differently).
func latencyOf(pts []collector.Point) *Latency {
	var l Latency
	var most int64 = -1
	for _, p := range pts {
		if p.Traces > most {
			most = p.Traces
			l.P50Ms, l.P95Ms, l.P99Ms = millis(p.P50), millis(p.P95), millis(p.P99)
		}
		l.Traces += p.Traces
		l.Errors += p.Errors
	}
	return &l
}

// e2e summarises end-to-end latency over [from, to] (open ends allowed) as
// one step of the store's time series.
func (s *Server) e2e(ctx context.Context, from, to time.Time) (*Latency, error) {
	from, to = openWindow(from, to)
	pts, err := s.src.Timeseries(ctx, from, to, oneStep(from, to))
	if err != nil {
		return nil, storeError("latency", err)
	}
	return latencyOf(pts), nil
}
