package prom

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// sample is one series of an instant query: its labels and value.
type sample struct {
	labels map[string]string
	value  float64
}

// series is one series of a range query: values by timestamp.
type series struct {
	labels map[string]string
	times  []time.Time
	values []float64
}

// apiAnswer is the envelope of every answer of Prometheus' HTTP API.
type apiAnswer struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
}

type queryData struct {
	ResultType string            `json:"resultType"`
	Result     []json.RawMessage `json:"result"`
}

type vectorItem struct {
	Metric map[string]string `json:"metric"`
	Value  [2]json.RawMessage
}

type matrixItem struct {
	Metric map[string]string    `json:"metric"`
	Values [][2]json.RawMessage `json:"values"`
}

// promTime formats t for the API: seconds with millisecond precision,
// Prometheus' own resolution.
func promTime(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1e3, 'f', 3, 64)
}

// get sends one GET to the API path with params and decodes the envelope's
// data into out. Every failure says which URL and why.
func (r *Reader) get(ctx context.Context, path string, params url.Values, out any) error {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.timeout)
	defer cancel()
	u := r.base.JoinPath(path)
	u.RawQuery = params.Encode()
	shown := r.base.JoinPath(path).String()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("cannot build request to %s: %w", shown, err)
	}
	for k, v := range r.cfg.headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := r.cfg.client.Do(req)
	if err != nil {
		return r.transportError(ctx, shown, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, r.cfg.maxBytes+1))
	if err != nil {
		return r.transportError(ctx, shown, err)
	}
	if int64(len(body)) > r.cfg.maxBytes {
		return fmt.Errorf("%w: the answer of %s is larger than %d bytes; narrow the window or raise the limit", ErrUnavailable, shown, r.cfg.maxBytes)
	}
	var env apiAnswer
	if err := json.Unmarshal(body, &env); err != nil || env.Status == "" {
		return fmt.Errorf("%w: %s answered %d with something that is not Prometheus' API: %q", ErrUnavailable, shown, resp.StatusCode, clip(body))
	}
	if env.Status != "success" {
		return &QueryError{URL: shown, Code: resp.StatusCode, ErrorType: env.ErrorType, Message: env.Error}
	}
	if err := json.Unmarshal(env.Data, out); err != nil {
		return fmt.Errorf("%w: cannot decode the answer of %s: %v", ErrUnavailable, shown, err)
	}
	return nil
}

// transportError explains a request that got no answer.
func (r *Reader) transportError(ctx context.Context, shown string, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %s did not answer within %v", ErrUnavailable, shown, r.cfg.timeout)
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("request to %s: %w", shown, err)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // the URL with its query is already said, shorter
	}
	return fmt.Errorf("%w: cannot reach %s: %v", ErrUnavailable, shown, err)
}

func clip(b []byte) string {
	const n = 200
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// instant runs an instant query evaluated at t.
func (r *Reader) instant(ctx context.Context, query string, t time.Time) ([]sample, error) {
	params := url.Values{"query": {query}, "time": {promTime(t)}, "timeout": {r.cfg.timeout.String()}}
	var d queryData
	if err := r.get(ctx, "/api/v1/query", params, &d); err != nil {
		return nil, err
	}
	if d.ResultType != "vector" {
		return nil, fmt.Errorf("%w: query %s gave a %s, not a vector", ErrUnavailable, query, d.ResultType)
	}
	out := make([]sample, 0, len(d.Result))
	for _, raw := range d.Result {
		var it vectorItem
		if err := json.Unmarshal(raw, &it); err != nil {
			return nil, fmt.Errorf("%w: cannot decode a sample of %s: %v", ErrUnavailable, query, err)
		}
		v, err := sampleValue(it.Value[1])
		if err != nil {
			return nil, fmt.Errorf("%w: query %s: %v", ErrUnavailable, query, err)
		}
		out = append(out, sample{labels: it.Metric, value: v})
	}
	return out, nil
}

// rangeQuery runs a range query over [start, end] every step.
func (r *Reader) rangeQuery(ctx context.Context, query string, start, end time.Time, step time.Duration) ([]series, error) {
	params := url.Values{"query": {query}, "start": {promTime(start)}, "end": {promTime(end)},
		"step": {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)}, "timeout": {r.cfg.timeout.String()}}
	var d queryData
	if err := r.get(ctx, "/api/v1/query_range", params, &d); err != nil {
		return nil, err
	}
	if d.ResultType != "matrix" {
		return nil, fmt.Errorf("%w: query %s gave a %s, not a matrix", ErrUnavailable, query, d.ResultType)
	}
	out := make([]series, 0, len(d.Result))
	for _, raw := range d.Result {
		var it matrixItem
		if err := json.Unmarshal(raw, &it); err != nil {
			return nil, fmt.Errorf("%w: cannot decode a series of %s: %v", ErrUnavailable, query, err)
		}
		s := series{labels: it.Metric, times: make([]time.Time, len(it.Values)), values: make([]float64, len(it.Values))}
		for i, pair := range it.Values {
			var ts float64
			if err := json.Unmarshal(pair[0], &ts); err != nil {
				return nil, fmt.Errorf("%w: query %s: bad timestamp %s", ErrUnavailable, query, pair[0])
			}
			v, err := sampleValue(pair[1])
			if err != nil {
				return nil, fmt.Errorf("%w: query %s: %v", ErrUnavailable, query, err)
			}
			s.times[i] = time.UnixMilli(int64(math.Round(ts * 1e3)))
			s.values[i] = v
		}
		out = append(out, s)
	}
	return out, nil
}

// sampleValue decodes a sample's value, which the API sends as a string.
func sampleValue(raw json.RawMessage) (float64, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, fmt.Errorf("bad sample value %s", raw)
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("bad sample value %q", s)
	}
	return v, nil
}

// metricNames returns the metric names Prometheus knows that start with
// one of prefixes.
func (r *Reader) metricNames(ctx context.Context, prefixes ...string) (map[string]bool, error) {
	alts := make([]string, len(prefixes))
	for i, p := range prefixes {
		alts[i] = p + "_.*" // New checked that p is a metric name
	}
	params := url.Values{"match[]": {`{__name__=~"` + strings.Join(alts, "|") + `"}`}}
	var names []string
	if err := r.get(ctx, "/api/v1/label/__name__/values", params, &names); err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(names))
	for _, n := range names {
		out[n] = true
	}
	return out, nil
}
