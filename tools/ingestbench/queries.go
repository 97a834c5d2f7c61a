package main

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"time"
)

// Query names: the rows of the query table. A name both kinds of target
// answer gets a ratio; the others are stagescope's own.
const (
	qStages      = "stages (GET /api/stages)"
	qList        = "trace list, 50 rows"
	qErrors      = "filtered list: status=error"
	qMinDuration = "filtered list: root ≥ 3.5 s"
	qTraceLast   = "one trace (last sent)"
	qTraceFirst  = "one trace (first sent)"
	qReport      = "report (GET /api/report)"
)

var queryOrder = []string{qStages, qList, qErrors, qMinDuration, qTraceLast, qTraceFirst, qReport}

// minDurationFilter selects the few slowest traces (the fixture's roots
// last 0.8–4.2 s).
const minDurationFilter = 3500 * time.Millisecond

// queryResult is the latency of one API request, repeated.
type queryResult struct {
	Name    string          `json:"name"`
	URL     string          `json:"url"`
	Status  int             `json:"status"` // of the last attempt
	Bytes   int64           `json:"bytes"`
	Times   []time.Duration `json:"times_ns"`
	Median  time.Duration   `json:"median_ns"`
	Max     time.Duration   `json:"max_ns"`
	Error   string          `json:"error,omitempty"`
	Service string          `json:"-"`
}

// queriesFor lists what to ask a target after ingest. Jaeger's API v3
// needs a service and a time window for a search; stagescope's list is
// asked without a service, as the dashboard does.
func queriesFor(t *target, res *loadResult, service string) []queryResult {
	last := ""
	if len(res.lastIDs) > 0 {
		last = res.lastIDs[len(res.lastIDs)-1]
	}
	if t.kind == targetStagescope {
		return []queryResult{
			{Name: qStages, URL: t.queryURL + "/api/stages"},
			{Name: qList, URL: t.queryURL + "/api/traces?limit=50"},
			{Name: qErrors, URL: t.queryURL + "/api/traces?status=error&limit=50"},
			{Name: qMinDuration, URL: t.queryURL + "/api/traces?limit=50&min_duration=" + minDurationFilter.String()},
			{Name: qTraceLast, URL: t.traceURL(last)},
			{Name: qTraceFirst, URL: t.traceURL(res.firstID)},
			{Name: qReport, URL: t.queryURL + "/api/report"},
		}
	}
	window := func(extra url.Values) string {
		v := url.Values{
			"query.service_name":   {service},
			"query.start_time_min": {res.start.Add(-time.Hour).UTC().Format(time.RFC3339Nano)},
			"query.start_time_max": {time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano)},
			"query.num_traces":     {"50"},
		}
		for k, vs := range extra {
			v[k] = vs
		}
		return t.queryURL + "/api/v3/traces?" + v.Encode()
	}
	return []queryResult{
		{Name: qList, URL: window(nil)},
		{Name: qMinDuration, URL: window(url.Values{"query.duration_min": {minDurationFilter.String()}})},
		{Name: qTraceLast, URL: t.traceURL(last)},
		{Name: qTraceFirst, URL: t.traceURL(res.firstID)},
	}
}

// runQueries asks each query repeat times, one after the other, with the
// target otherwise idle.
func runQueries(ctx context.Context, qs []queryResult, repeat int, timeout time.Duration) []queryResult {
	client := &http.Client{Timeout: timeout}
	defer client.CloseIdleConnections()
	for i := range qs {
		q := &qs[i]
		for range max(repeat, 1) {
			start := time.Now()
			code, n, err := get(ctx, client, q.URL)
			q.Times = append(q.Times, time.Since(start))
			q.Status, q.Bytes = code, n
			if err != nil {
				q.Error = err.Error()
				break
			}
		}
		sorted := slices.Clone(q.Times)
		slices.Sort(sorted)
		q.Median, q.Max = sorted[len(sorted)/2], sorted[len(sorted)-1]
	}
	return qs
}
