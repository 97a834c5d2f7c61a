package handlers

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/stagescope/stagescope/collector"
)

// TraceRow is one trace in a list (and in the live stream).
type TraceRow struct {
	TraceID    string    `json:"trace_id"`
	Name       string    `json:"name"`
	Service    string    `json:"service,omitempty"`
	Start      time.Time `json:"start"`
	StartMs    int64     `json:"start_ms"`
	DurationMs float64   `json:"duration_ms"`
	// Status is the root span's: "error" is a failed request. Errors counts
	// the trace's failed spans; a trace can have some and still succeed
	// (a retry or a fallback absorbed them).
	Status string   `json:"status"`
	Spans  int      `json:"spans"`
	Errors int      `json:"errors"`
	Stages []string `json:"stages"`
	RunID  string   `json:"run_id,omitempty"`
}

// TraceList is the answer of GET /api/traces.
type TraceList struct {
	Traces []TraceRow `json:"traces"`
	// NextCursor continues the list (pass it as cursor); "" on the last page.
	NextCursor string `json:"next_cursor"`
	// Sort is the order of a sorted list (the sort parameter: start,
	// duration or spans, "-" for descending); "" for newest first. A sorted
	// list is sorted over the whole window when its traces fit the scan
	// budget; otherwise it is Partial on every page: the newest traces, back
	// to ScannedTo, are sorted, and NextCursor pages through them.
	Sort string `json:"sort,omitempty"`
	// Partial is set when the search stopped at its scan budget
	// (collector.TraceScanBudget traces examined) before the page was full:
	// traces that started before ScannedTo have not been looked at yet, and
	// NextCursor continues from there. An empty partial page is not "no
	// match"; it is "none yet".
	Partial   bool       `json:"partial"`
	ScannedTo *time.Time `json:"scanned_to,omitempty"`
	ScannedMs int64      `json:"scanned_to_ms,omitempty"`
}

func toRow(t collector.TraceSummary) TraceRow {
	r := TraceRow{
		TraceID: t.TraceID.String(), Name: t.RootName, Service: t.Service,
		Start: t.Start, StartMs: t.Start.UnixMilli(), DurationMs: millis(t.Duration),
		Status: t.Status.String(), Spans: t.SpanCount, Errors: t.ErrorCount,
		Stages: make([]string, 0, len(t.Stages)), RunID: t.RunID,
	}
	for _, s := range t.Stages {
		r.Stages = append(r.Stages, s.String())
	}
	return r
}

// millis converts a duration to milliseconds rounded to the microsecond.
func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }

var traceListParams = []string{"from", "to", "service", "stage", "status", "min_duration", "max_duration", "name", "attr", "run", "cursor", "limit", "sort"}

// traceQuery validates the filters of a trace search.
func traceQuery(p *params) (collector.TraceQuery, error) {
	var q collector.TraceQuery
	var err error
	if q.From, q.To, err = p.window("from", "to"); err != nil {
		return q, err
	}
	if q.Service, err = p.service("service"); err != nil {
		return q, err
	}
	if q.Stage, err = p.stage("stage"); err != nil {
		return q, err
	}
	if q.Status, err = p.status("status"); err != nil {
		return q, err
	}
	if q.MinDuration, err = p.duration("min_duration"); err != nil {
		return q, err
	}
	if q.MaxDuration, err = p.duration("max_duration"); err != nil {
		return q, err
	}
	if q.MaxDuration > 0 && q.MaxDuration < q.MinDuration {
		return q, badRequest("parameter \"max_duration\" (%s) is below \"min_duration\" (%s)", q.MaxDuration, q.MinDuration)
	}
	if q.NameContains, err = p.text("name", maxTextParam); err != nil {
		return q, err
	}
	if q.Attr, err = p.attr("attr"); err != nil {
		return q, err
	}
	if q.RunID, err = p.text("run", maxTextParam); err != nil {
		return q, err
	}
	return q, nil
}

// listTraces handles GET /api/traces.
func (s *Server) listTraces(c echo.Context) error {
	p, err := parseParams(c, traceListParams...)
	if err != nil {
		return err
	}
	q, err := traceQuery(p)
	if err != nil {
		return err
	}
	if q.Cursor, err = p.cursor("cursor"); err != nil {
		return err
	}
	if q.Limit, err = p.limit("limit", collector.DefaultTraceLimit, MaxPageLimit); err != nil {
		return err
	}
	if q.Sort, err = p.sort("sort"); err != nil {
		return err
	}
	if q.Sort != "" && q.Attr != "" && q.Sort != "-start" {
		return badRequest("parameter \"sort\": %s is not available with an attribute filter (it opens traces one by one); sort by -start", q.Sort)
	}
	page, err := s.src.ListTraces(c.Request().Context(), q)
	if err != nil {
		return storeError("traces", err)
	}
	out := TraceList{Traces: make([]TraceRow, 0, len(page.Traces)), NextCursor: page.NextCursor, Partial: page.Partial}
	if q.Sort != "-start" {
		out.Sort = q.Sort
	}
	if page.Partial {
		out.ScannedTo, out.ScannedMs = timePtr(page.ScannedTo), page.ScannedTo.UnixMilli()
	}
	for _, t := range page.Traces {
		out.Traces = append(out.Traces, toRow(t))
	}
	return c.JSON(http.StatusOK, out)
}
