package handlers

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/collector/analysis"
	"github.com/stagescope/stagescope/spans"
)

// SeriesPoint is one step of GET /api/timeseries.
type SeriesPoint struct {
	T            int64   `json:"t"` // step start, Unix milliseconds
	Traces       int64   `json:"traces"`
	Errors       int64   `json:"errors"`
	DroppedSpans int64   `json:"dropped_spans"` // spans and events dropped or refused
	Throughput   float64 `json:"throughput"`    // traces per second
	// Percentiles are null for a step without traces.
	P50Ms  *float64              `json:"p50_ms"`
	P95Ms  *float64              `json:"p95_ms"`
	P99Ms  *float64              `json:"p99_ms"`
	Stages map[string]StageSlice `json:"stages"`
	// Tokens of the spans that started in the step, counted as the report
	// counts them, and their cost at the server's price table
	// (analysis.PriceOf), in all and per stage. Input tokens include
	// embedding input.
	TokensIn     int64              `json:"tokens_in"`
	TokensOut    int64              `json:"tokens_out"`
	CostUSD      float64            `json:"cost_usd"`
	StageCostUSD map[string]float64 `json:"stage_cost_usd"`
}

// StageSlice is one stage within one step. The percentiles are of its
// spans' durations and self times in the step, from the store's per-minute
// histograms (about ±2.2 %).
type StageSlice struct {
	Count     int64   `json:"count"`
	SelfMs    float64 `json:"self_ms"`
	TotalMs   float64 `json:"total_ms"`
	P95Ms     float64 `json:"p95_ms"`
	SelfP95Ms float64 `json:"self_p95_ms"`
}

// Series is the answer of GET /api/timeseries.
type Series struct {
	From   time.Time     `json:"from"`
	To     time.Time     `json:"to"`
	StepMs int64         `json:"step_ms"`
	Stages []string      `json:"stages"` // stages present, in pipeline order
	Points []SeriesPoint `json:"points"`
	// Service and Coverage are present for one service: its series is
	// computed from its traces (dropped spans stay collector-wide, since a
	// dropped span's service is unknown).
	Service  string    `json:"service,omitempty"`
	Coverage *Coverage `json:"coverage,omitempty"`
	// Unpriced lists the models that used tokens in the window but have no
	// price: their tokens count, their cost is zero.
	Unpriced []string `json:"unpriced"`
}

// defaultSeriesWindow is the window of a time series without from.
const defaultSeriesWindow = time.Hour

// timeseries handles GET /api/timeseries: from, to, step, service. Without
// from the series starts at the first stored trace; without step it has at
// most DefaultMaxSeriesPoints steps of whole minutes.
func (s *Server) timeseries(c echo.Context) error {
	p, err := parseParams(c, "from", "to", "step", "service")
	if err != nil {
		return err
	}
	from, to, err := p.window("from", "to")
	if err != nil {
		return err
	}
	step, err := p.duration("step")
	if err != nil {
		return err
	}
	service, err := p.service("service")
	if err != nil {
		return err
	}
	if p.raw("step") != "" && step < time.Minute {
		return badRequest("parameter \"step\": %s is below the one-minute resolution of the store", step)
	}
	ctx := c.Request().Context()
	if to.IsZero() {
		to = time.Now()
	}
	if from.IsZero() {
		if from, err = s.firstTrace(ctx, to); err != nil {
			return err
		}
	}
	from = from.Truncate(time.Minute)
	span := to.Sub(from)
	if step == 0 {
		step = max(time.Minute, (span/DefaultMaxSeriesPoints + time.Minute - 1).Truncate(time.Minute))
	}
	step = step.Round(time.Minute)
	if n := span / step; n > DefaultMaxSeriesPoints*10 {
		return badRequest("a step of %s gives %d points; use a larger step", step, n)
	}
	pts, err := s.src.Timeseries(ctx, from, to, step)
	if err != nil {
		return storeError("time series", err)
	}
	out := Series{From: from, To: to, StepMs: step.Milliseconds(), Stages: []string{}, Points: make([]SeriesPoint, 0, len(pts)), Service: service,
		Unpriced: []string{}}
	tokens := func() ([]collector.TokenPoint, error) { return s.src.TokenSeries(ctx, from, to, step, "") }
	// breakdown returns the stages of one step.
	breakdown := func(from, to time.Time) ([]collector.StageStats, error) {
		rows, err := s.src.StageBreakdown(ctx, from, to, "")
		if err != nil {
			return nil, storeError("stage breakdown", err)
		}
		return rows, nil
	}
	if service != "" {
		rl, err := s.serviceRollup(c, service, "", from, to)
		if err != nil {
			return err
		}
		own, err := rl.Timeseries(from, to, step)
		if err != nil {
			return storeError("time series", err)
		}
		for i := range min(len(own), len(pts)) {
			own[i].Drops = pts[i].Drops // same window and step, same points
		}
		pts, out.Coverage = own, s.coverageOf(rl)
		breakdown = func(from, to time.Time) ([]collector.StageStats, error) { return rl.StageBreakdown(from, to), nil }
		tokens = func() ([]collector.TokenPoint, error) { return rl.TokenSeries(from, to, step) }
	}
	tps, err := tokens()
	if err != nil {
		return storeError("token series", err)
	}
	// The stages of every step at once when the source can (the store's
	// rollups), else a breakdown per step.
	var series [][]collector.StageStats
	if ss, ok := s.src.(stageSeries); ok && service == "" {
		if series, err = ss.StageSeries(ctx, from, to, step); err != nil {
			return storeError("stage series", err)
		}
		if len(series) != len(pts) {
			return storeError("stage series", fmt.Errorf("%d steps for %d points", len(series), len(pts)))
		}
	}
	prices := s.priceTable()
	seen := map[spans.Stage]bool{}
	unpriced := map[string]bool{}
	for i, pt := range pts {
		sp := SeriesPoint{T: pt.Start.UnixMilli(), Traces: pt.Traces, Errors: pt.Errors, DroppedSpans: pt.Drops,
			Throughput: pt.Throughput, Stages: map[string]StageSlice{}, StageCostUSD: map[string]float64{}}
		if i < len(tps) { // same window and step, same points
			for _, u := range tps[i].Use {
				sp.TokensIn += u.Prompt + u.Embedding
				sp.TokensOut += u.Completion
				p, ok := analysis.PriceOf(prices, u.Model)
				if !ok {
					unpriced[u.Model] = true
				}
				c := p.Cost(u.Prompt, u.Completion, u.Embedding)
				sp.CostUSD += c
				sp.StageCostUSD[u.Stage.String()] += c
			}
		}
		if pt.Traces > 0 {
			sp.P50Ms, sp.P95Ms, sp.P99Ms = ptr(millis(pt.P50)), ptr(millis(pt.P95)), ptr(millis(pt.P99))
			var rows []collector.StageStats
			if series != nil {
				rows = series[i]
			} else if rows, err = breakdown(pt.Start, pt.Start.Add(step-time.Nanosecond)); err != nil {
				return err
			}
			for _, r := range rows {
				seen[r.Stage] = true
				sp.Stages[r.Stage.String()] = StageSlice{Count: r.Count, SelfMs: millis(r.Self), TotalMs: millis(r.Total),
					P95Ms: millis(r.P95), SelfP95Ms: millis(r.SelfP95)}
			}
		}
		out.Points = append(out.Points, sp)
	}
	for _, st := range spans.AllStages() {
		if seen[st] {
			out.Stages = append(out.Stages, st.String())
		}
	}
	for m := range unpriced {
		out.Unpriced = append(out.Unpriced, m)
	}
	slices.Sort(out.Unpriced)
	return c.JSON(http.StatusOK, out)
}

func ptr[T any](v T) *T { return &v }

// stageSeries is a source that reads the stage breakdown of every step of
// a time series at once (collector.SQLiteStore).
type stageSeries interface {
	StageSeries(ctx context.Context, from, to time.Time, step time.Duration) ([][]collector.StageStats, error)
}

// firstTrace finds roughly when the first trace before to started, by
// narrowing coarse time series (30 days, then a day, then an hour). With no
// trace at all it returns to − defaultSeriesWindow.
func (s *Server) firstTrace(ctx context.Context, to time.Time) (time.Time, error) {
	lo := time.Unix(0, 0).UTC()
	found := false
	for _, step := range []time.Duration{30 * 24 * time.Hour, 24 * time.Hour, time.Hour} {
		hi := to
		if found {
			if end := lo.Add(step * 60); end.Before(to) { // covers one step of the previous pass
				hi = end
			}
		}
		if !found && hi.Sub(lo)/step > 100_000 {
			lo = hi.Add(-step * 100_000)
		}
		pts, err := s.src.Timeseries(ctx, lo, hi, step)
		if err != nil {
			return time.Time{}, storeError("time series", err)
		}
		hit := false
		for _, pt := range pts {
			if pt.Traces > 0 {
				lo, hit = pt.Start, true
				break
			}
		}
		if !hit {
			if !found {
				return to.Add(-defaultSeriesWindow), nil
			}
			break
		}
		found = true
	}
	return lo, nil
}
