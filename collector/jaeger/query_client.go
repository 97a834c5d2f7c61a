package jaeger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/stagescope/stagescope/collector/tracetree"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stagescope/stagescope/spans"
)

// Defaults of QueryClient and Query.
const (
	// DefaultQueryURL is where Jaeger's query API and UI listen.
	DefaultQueryURL = "http://127.0.0.1:16686"
	// DefaultQueryLimit is how many traces FindTraces asks for.
	DefaultQueryLimit = 100
	// DefaultLookback is the window FindTraces searches when From is zero.
	DefaultLookback = time.Hour
	// DefaultQueryTimeout bounds one query request.
	DefaultQueryTimeout = 30 * time.Second
	// DefaultMaxResponseBytes bounds the size of one answer read.
	DefaultMaxResponseBytes = 256 << 20
)

// QueryOption configures a QueryClient.
type QueryOption func(*queryConfig)

type queryConfig struct {
	client   *http.Client
	headers  map[string]string
	maxBytes int64
}

// WithHTTPClient sets the HTTP client (default: one with
// DefaultQueryTimeout).
func WithHTTPClient(c *http.Client) QueryOption {
	return func(q *queryConfig) {
		if c != nil {
			q.client = c
		}
	}
}

// WithQueryHeaders adds HTTP headers (authentication, say) to every query.
func WithQueryHeaders(h map[string]string) QueryOption {
	return func(q *queryConfig) { maps.Copy(q.headers, h) }
}

// WithMaxResponseBytes bounds the size of one answer; larger answers are an
// error rather than an unbounded allocation.
func WithMaxResponseBytes(n int64) QueryOption {
	return func(q *queryConfig) {
		if n > 0 {
			q.maxBytes = n
		}
	}
}

// QueryClient reads traces from Jaeger's /api/v3 query API and converts
// them back into stagescope spans and events. It is safe for concurrent use.
type QueryClient struct {
	base *url.URL
	cfg  queryConfig
}

// Query selects traces for FindTraces: the one query of every trace
// reader (tracetree.Query). Service is required by Jaeger; Operation is any
// span's name.
type Query = tracetree.Query

var _ tracetree.Reader = (*QueryClient)(nil)

// NewQueryClient returns a client of the query API at baseURL (default
// DefaultQueryURL), for example "http://127.0.0.1:16686". A path in baseURL
// is kept as a prefix, for a Jaeger served under a sub-path.
func NewQueryClient(baseURL string, opts ...QueryOption) (*QueryClient, error) {
	if baseURL == "" {
		baseURL = DefaultQueryURL
	}
	u, err := parseEndpoint(baseURL)
	if err != nil {
		return nil, err
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	cfg := queryConfig{client: &http.Client{Timeout: DefaultQueryTimeout}, headers: map[string]string{}, maxBytes: DefaultMaxResponseBytes}
	for _, o := range opts {
		o(&cfg)
	}
	return &QueryClient{base: u, cfg: cfg}, nil
}

// Services lists the services Jaeger knows, sorted.
func (c *QueryClient) Services(ctx context.Context) ([]string, error) {
	u := c.url("/api/v3/services", nil)
	body, err := c.get(ctx, u)
	if err != nil {
		return nil, err
	}
	var ans struct {
		Services []string `json:"services"`
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		return nil, fmt.Errorf("%w: services from %s: %w", ErrMalformedAnswer, u, err)
	}
	slices.Sort(ans.Services)
	return ans.Services, nil
}

// FindTraces returns the traces matching q, ordered by start, with all
// their spans (of every service) and events. No match is an empty answer,
// not an error.
func (c *QueryClient) FindTraces(ctx context.Context, q Query) ([]Trace, error) {
	if q.Service == "" {
		return nil, errors.New("jaeger query: a service name is required to find traces")
	}
	to := q.To
	if to.IsZero() {
		to = time.Now()
	}
	from := q.From
	if from.IsZero() {
		from = to.Add(-DefaultLookback)
	}
	if !from.Before(to) {
		return nil, fmt.Errorf("jaeger query: window start %s is not before its end %s", from.Format(time.RFC3339Nano), to.Format(time.RFC3339Nano))
	}
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultQueryLimit
	}
	v := url.Values{}
	v.Set("query.service_name", q.Service)
	v.Set("query.start_time_min", from.UTC().Format(time.RFC3339Nano))
	v.Set("query.start_time_max", to.UTC().Format(time.RFC3339Nano))
	v.Set("query.num_traces", strconv.Itoa(limit))
	if q.Operation != "" {
		v.Set("query.operation_name", q.Operation)
	}
	if q.MinDuration > 0 {
		v.Set("query.duration_min", q.MinDuration.String())
	}
	if q.MaxDuration > 0 {
		v.Set("query.duration_max", q.MaxDuration.String())
	}
	traces, err := c.traces(ctx, c.url("/api/v3/traces", v))
	var se *StatusError
	if errors.As(err, &se) && se.Code == http.StatusNotFound && se.fromJaeger {
		return nil, nil // Jaeger answers "no traces found" with a 404
	}
	if err != nil {
		return nil, err
	}
	if len(traces) > limit {
		traces = traces[:limit]
	}
	return traces, nil
}

// GetTrace returns one trace by ID; ErrTraceNotFound when Jaeger has none.
func (c *QueryClient) GetTrace(ctx context.Context, id spans.TraceID) (Trace, error) {
	if id.IsZero() {
		return Trace{}, fmt.Errorf("jaeger query: %w: zero trace id", spans.ErrInvalidID)
	}
	traces, err := c.traces(ctx, c.url("/api/v3/traces/"+id.String(), nil))
	var se *StatusError
	if errors.As(err, &se) && se.Code == http.StatusNotFound && se.fromJaeger {
		return Trace{}, fmt.Errorf("%w: %s", ErrTraceNotFound, id)
	}
	if err != nil {
		return Trace{}, err
	}
	for _, t := range traces {
		if t.ID() == id {
			return t, nil
		}
	}
	return Trace{}, fmt.Errorf("%w: %s (the answer held other traces)", ErrTraceNotFound, id)
}

func (c *QueryClient) url(path string, v url.Values) string {
	u := *c.base
	u.Path += path
	u.RawQuery = v.Encode()
	return u.String()
}

func (c *QueryClient) traces(ctx context.Context, u string) ([]Trace, error) {
	body, err := c.get(ctx, u)
	if err != nil {
		return nil, err
	}
	var ans queryAnswer
	if err := json.Unmarshal(body, &ans); err != nil {
		return nil, fmt.Errorf("%w: traces from %s: %w", ErrMalformedAnswer, u, err)
	}
	if ans.Error != nil {
		return nil, &StatusError{URL: u, Code: ans.Error.HTTPCode, Message: ans.Error.Message, fromJaeger: true}
	}
	if len(ans.Result) == 0 || string(ans.Result) == "null" {
		return nil, fmt.Errorf("%w: traces from %s: no result", ErrMalformedAnswer, u)
	}
	traces, err := decodeTraces(ans.Result)
	if err != nil {
		return nil, fmt.Errorf("traces from %s: %w", u, err)
	}
	return traces, nil
}

// errorBodyPreview is how much of a non-JSON error body goes in a
// StatusError.
const errorBodyPreview = 200

func (c *QueryClient) get(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("jaeger query %s: %w", u, err)
	}
	req.Header.Set("Accept", "application/json")
	for k, v := range c.cfg.headers {
		req.Header.Set(k, v)
	}
	resp, err := c.cfg.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("jaeger query API unreachable at %s: %w", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("jaeger query %s: reading the answer: %w", u, err)
	}
	if int64(len(body)) > c.cfg.maxBytes {
		return nil, fmt.Errorf("jaeger query %s: answer larger than %d bytes", u, c.cfg.maxBytes)
	}
	if resp.StatusCode == http.StatusOK {
		return body, nil
	}
	se := &StatusError{URL: u, Code: resp.StatusCode}
	var ans queryAnswer
	if json.Unmarshal(body, &ans) == nil && ans.Error != nil {
		se.Message, se.fromJaeger = ans.Error.Message, true
	} else {
		msg := strings.TrimSpace(string(body))
		if len(msg) > errorBodyPreview {
			msg = msg[:errorBodyPreview] + "…"
		}
		se.Message = msg
	}
	return nil, se
}

// Close releases the client's idle connections.
func (c *QueryClient) Close() { c.cfg.client.CloseIdleConnections() }
