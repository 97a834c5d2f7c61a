package jaeger

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/spans"
)

// Defaults of the Jaeger source (NewSource).
const (
	// DefaultSourceMaxTraces bounds how many traces one fetch (one window,
	// one service or all of them) reads from Jaeger; the stage breakdowns,
	// time series, trace lists and reports of that window are computed from
	// them.
	DefaultSourceMaxTraces = 5_000
	// DefaultSourceSlices is how many equal time slices a window is read
	// in, so a busy minute does not crowd out the rest of the window: each
	// slice gets its share of DefaultSourceMaxTraces.
	DefaultSourceSlices = 8
	// DefaultSourceConcurrency bounds the queries one fetch has in flight.
	DefaultSourceConcurrency = 4
	// DefaultSourceMaxServices bounds how many services a fetch without a
	// service fans out to (Jaeger's search needs one).
	DefaultSourceMaxServices = 32
	// DefaultSourceFetchTimeout bounds one fetch, below the server's request
	// timeout so a slow Jaeger gives a clear error rather than a cut request.
	DefaultSourceFetchTimeout = 20 * time.Second
	// DefaultSourceCacheTTL is how long a fetched window is reused: reloads
	// and other tabs within it cost no query.
	DefaultSourceCacheTTL = 15 * time.Second
	// DefaultSourceCacheEntries and DefaultSourceCacheTraces bound the
	// cache: at most this many windows, holding at most this many traces.
	DefaultSourceCacheEntries = 32
	DefaultSourceCacheTraces  = 4 * DefaultSourceMaxTraces
	// DefaultSourceMaxWindow bounds how far back a window without a start
	// (or with a start further back) reaches.
	DefaultSourceMaxWindow = 7 * 24 * time.Hour
)

// SourceOption configures NewSource.
type SourceOption func(*sourceConfig)

type sourceConfig struct {
	maxTraces, slices, concurrency, maxServices int
	fetchTimeout, ttl, maxWindow                time.Duration
	cacheEntries, cacheTraces                   int
	metrics                                     collector.StageMetrics
	metricsName                                 string
}

func positive[T int | time.Duration](dst *T, v T) {
	if v > 0 {
		*dst = v
	}
}

// WithSourceMaxTraces bounds the traces one fetch reads
// (DefaultSourceMaxTraces).
func WithSourceMaxTraces(n int) SourceOption {
	return func(c *sourceConfig) { positive(&c.maxTraces, min(n, collector.MaxTraceLimit*10)) }
}

// WithSourceSlices sets how many time slices a window is read in
// (DefaultSourceSlices).
func WithSourceSlices(n int) SourceOption { return func(c *sourceConfig) { positive(&c.slices, n) } }

// WithSourceConcurrency bounds the queries in flight per fetch
// (DefaultSourceConcurrency).
func WithSourceConcurrency(n int) SourceOption {
	return func(c *sourceConfig) { positive(&c.concurrency, n) }
}

// WithSourceMaxServices bounds the fan-out over services
// (DefaultSourceMaxServices).
func WithSourceMaxServices(n int) SourceOption {
	return func(c *sourceConfig) { positive(&c.maxServices, n) }
}

// WithSourceFetchTimeout bounds one fetch (DefaultSourceFetchTimeout).
func WithSourceFetchTimeout(d time.Duration) SourceOption {
	return func(c *sourceConfig) { positive(&c.fetchTimeout, d) }
}

// WithSourceCache sets how long fetched windows are reused and how many
// windows and traces the cache holds at most (DefaultSourceCacheTTL,
// DefaultSourceCacheEntries, DefaultSourceCacheTraces). A ttl below zero
// turns reuse off (every request fetches; concurrent ones still share).
func WithSourceCache(ttl time.Duration, entries, traces int) SourceOption {
	return func(c *sourceConfig) {
		if ttl != 0 {
			c.ttl = ttl
		}
		positive(&c.cacheEntries, entries)
		positive(&c.cacheTraces, traces)
	}
}

// WithSourceMaxWindow bounds how far back a window reaches
// (DefaultSourceMaxWindow).
func WithSourceMaxWindow(d time.Duration) SourceOption {
	return func(c *sourceConfig) { positive(&c.maxWindow, d) }
}

// WithStageMetrics answers stage breakdowns and time series of all
// services from m (a Prometheus client over the spanmetrics histograms)
// instead of the trace sample; name says what m is ("prometheus").
// Traces, reports and per-service views still come from Jaeger.
func WithStageMetrics(m collector.StageMetrics, name string) SourceOption {
	return func(c *sourceConfig) { c.metrics, c.metricsName = m, name }
}

// Source is a collector.Source over a Jaeger query service (/api/v3):
// trace search and single traces from Jaeger; per-stage rates, errors and
// latency percentiles over time from a bounded sample of traces
// (collector.TraceRollup over them), unless a StageMetrics provider is
// given; no benchmark runs. Windows are read in time slices with bounded
// concurrency and a cap on traces, fanned out over services when no
// service is chosen; fetched windows are cached for a short time, and
// concurrent requests for one window share one fetch, which ends when the
// last request waiting for it does. Filters Jaeger cannot express (stage,
// status, name substring, attribute, run) are applied to the fetched
// traces. It is safe for concurrent use; Close it to cancel what is in
// flight.
type Source struct {
	qc    *QueryClient
	cfg   sourceConfig
	cache *fetchCache
}

var _ collector.Source = (*Source)(nil)

// NewSource returns a Source reading through qc.
func NewSource(qc *QueryClient, opts ...SourceOption) *Source {
	cfg := sourceConfig{maxTraces: DefaultSourceMaxTraces, slices: DefaultSourceSlices, concurrency: DefaultSourceConcurrency,
		maxServices: DefaultSourceMaxServices, fetchTimeout: DefaultSourceFetchTimeout, ttl: DefaultSourceCacheTTL,
		maxWindow: DefaultSourceMaxWindow, cacheEntries: DefaultSourceCacheEntries, cacheTraces: DefaultSourceCacheTraces}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	return &Source{qc: qc, cfg: cfg, cache: newFetchCache(cfg.ttl, cfg.cacheEntries, cfg.cacheTraces)}
}

// Close cancels every fetch in flight and empties the cache. The query
// client belongs to the caller.
func (s *Source) Close() error {
	s.cache.close()
	return nil
}

// SourceStats counts the source's work, for tests and benchmarks.
type SourceStats struct {
	Fetches   int64 // windows fetched (cache misses that ran)
	Queries   int64 // find-traces queries sent to Jaeger
	CacheHits int64 // requests answered by a cached or shared fetch
}

// Stats returns the counters so far.
func (s *Source) Stats() SourceStats { return s.cache.stats() }

// Info describes the source.
func (s *Source) Info() collector.SourceInfo {
	agg := collector.AggregatesSample
	if s.cfg.metrics != nil {
		agg = collector.AggregatesMetrics
	}
	return collector.SourceInfo{Kind: "jaeger", Aggregates: agg, ReadOnly: true}
}

// Ping lists Jaeger's services within ctx.
func (s *Source) Ping(ctx context.Context) error {
	if _, err := s.qc.Services(ctx); err != nil {
		return s.unavailable(ctx, ctx, err)
	}
	return nil
}

// Health is nil: a Jaeger source has no state of its own to corrupt;
// whether Jaeger answers is Ping's question.
func (s *Source) Health() error { return nil }

// Runs returns none: benchmark runs live in the local store.
func (s *Source) Runs(context.Context) ([]collector.Run, error) { return []collector.Run{}, nil }

// errNoRuns is why a run cannot be read from Jaeger.
var errNoRuns = fmt.Errorf("%w: benchmark runs live in the local store (serve --source sqlite); a Jaeger source has none", collector.ErrNotFound)

// Run returns an error wrapping collector.ErrNotFound: see Runs.
func (s *Source) Run(_ context.Context, id string) (collector.Run, error) {
	return collector.Run{}, fmt.Errorf("run %q: %w", id, errNoRuns)
}

// GetTrace reads one trace from Jaeger.
func (s *Source) GetTrace(ctx context.Context, id spans.TraceID) (*collector.Trace, error) {
	fctx, cancel := context.WithTimeout(ctx, s.cfg.fetchTimeout)
	defer cancel()
	t, err := s.qc.GetTrace(fctx, id)
	if errors.Is(err, ErrTraceNotFound) {
		return nil, fmt.Errorf("%w: %w", collector.ErrNotFound, err)
	}
	if err != nil {
		return nil, s.unavailable(ctx, fctx, err)
	}
	return &collector.Trace{Summary: collector.SummarizeTrace(t), Trace: t}, nil
}

// ListTraces lists the fetched traces of q's window that match its
// filters, a page at a time, in q.Sort's order (newest first by default)
// with the store's cursors.
func (s *Source) ListTraces(ctx context.Context, q collector.TraceQuery) (collector.TracePage, error) {
	if q.Cursor != "" {
		if err := collector.CheckCursor(q.Cursor); err != nil {
			return collector.TracePage{}, err
		}
	}
	ts, _, err := s.selection(ctx, q)
	if err != nil {
		return collector.TracePage{}, err
	}
	return collector.PageTraces(ts, q)
}

// selection fetches q's window and keeps the traces its filters select,
// oldest first.
func (s *Source) selection(ctx context.Context, q collector.TraceQuery) ([]*collector.Trace, view, error) {
	match, err := collector.TraceMatcher(q)
	if err != nil {
		return nil, view{}, err
	}
	v, err := s.fetch(ctx, q.Service, q.From, q.To)
	if err != nil {
		return nil, view{}, err
	}
	var out []*collector.Trace
	for _, t := range v.traces() {
		if match(t) && (q.RunID == "" || t.Summary.RunID == q.RunID) {
			out = append(out, t)
		}
	}
	return out, v, nil
}

// SampleTraces applies the one sampling policy (collector.SampleOf) to
// the traces fetched for q's window that match its filters.
func (s *Source) SampleTraces(ctx context.Context, q collector.TraceQuery, budget int) ([]*collector.Trace, collector.SampleInfo, error) {
	ts, v, err := s.selection(ctx, q)
	if err != nil {
		return nil, collector.SampleInfo{Budget: budget, Service: q.Service, Run: q.RunID}, err
	}
	// The same window as the store's sample: the minute under way is left
	// out while it grows (collector.LeaveMinuteUnderWay).
	ts, to := collector.LeaveMinuteUnderWay(ts, v.to, time.Now())
	out, info := collector.SampleOf(ts, budget, v.complete(), v.describe())
	info.From, info.To, info.Service, info.Run = v.from, to, q.Service, q.RunID
	if !v.complete() {
		info.TracesMatched = nil
	}
	return out, info, nil
}

// RollupTraces aggregates the newest maxTraces of the traces q selects in
// its window; Method says how they were read from Jaeger.
func (s *Source) RollupTraces(ctx context.Context, q collector.TraceQuery, maxTraces int) (*collector.TraceRollup, error) {
	if maxTraces <= 0 {
		maxTraces = collector.DefaultRollupTraces
	}
	q.Cursor, q.Limit = "", 0
	unfiltered := q
	unfiltered.From, unfiltered.To, unfiltered.Service = time.Time{}, time.Time{}, ""
	if unfiltered == (collector.TraceQuery{}) && q.Service == "" {
		v, err := s.fetch(ctx, "", q.From, q.To)
		if err != nil {
			return nil, err
		}
		if v.whole() && len(v.fetched.traces) <= maxTraces {
			return v.rollup(), nil
		}
	}
	ts, v, err := s.selection(ctx, q)
	if err != nil {
		return nil, err
	}
	rl := collector.NewTraceRollup()
	first := max(len(ts)-maxTraces, 0)
	for _, t := range ts[first:] {
		rl.AddTrace(t.Trace)
	}
	rl.Method = v.describe()
	rl.Partial = !v.complete() || first > 0
	if first > 0 {
		rl.ScannedTo = ts[first].Summary.Start
	}
	return rl, nil
}

// StageBreakdown answers from the metrics provider when there is one,
// else from the rollup of the window's fetched traces (all services).
// Either way the window reaches back at most DefaultSourceMaxWindow (an
// open start is that reach). Runs are not in Jaeger: a run is not found.
func (s *Source) StageBreakdown(ctx context.Context, from, to time.Time, runID string) ([]collector.StageStats, error) {
	if runID != "" {
		return nil, fmt.Errorf("run %q: %w", runID, errNoRuns)
	}
	if s.cfg.metrics != nil {
		end := to
		if end.IsZero() || end.After(time.Now()) {
			end = time.Now()
		}
		if reach := end.Add(-s.cfg.maxWindow); from.Before(reach) {
			from = reach
		}
		rows, err := s.cfg.metrics.StageBreakdown(ctx, from, to, "")
		if err != nil {
			return nil, s.metricsError(ctx, err)
		}
		return rows, nil
	}
	v, err := s.fetch(ctx, "", from, to)
	if err != nil {
		return nil, err
	}
	return v.rollup().StageBreakdown(from, to), nil
}

// Timeseries answers from the metrics provider when there is one, else
// from the rollup of the window's fetched traces. Steps before the
// window's reach (DefaultSourceMaxWindow) are left out: the series starts
// at the last step start at or before the reach (a single step longer than
// the reach starts at the reach).
func (s *Source) Timeseries(ctx context.Context, from, to time.Time, step time.Duration) ([]collector.Point, error) {
	if from.IsZero() || to.IsZero() || to.Before(from) {
		return nil, fmt.Errorf("time series needs from ≤ to, both set")
	}
	end := to
	if end.After(time.Now()) {
		end = time.Now()
	}
	if reach := end.Add(-s.cfg.maxWindow).Truncate(time.Minute); from.Before(reach) {
		// Skip whole steps up to the reach, in seconds: the distance can
		// exceed a time.Duration.
		stepSec := max(int64(step/time.Second), 60)
		if k := (reach.Unix() - from.Unix()) / stepSec; k > 0 {
			from = time.Unix(from.Unix()+k*stepSec, 0).UTC()
		} else if to.Unix()-from.Unix() < stepSec {
			// One step reaching before the reach (an end-to-end summary
			// from the epoch): the step starts at the reach instead.
			from, step = reach, (to.Sub(reach) + time.Minute - 1).Truncate(time.Minute)
		}
	}
	if s.cfg.metrics != nil {
		pts, err := s.cfg.metrics.Timeseries(ctx, from, to, step)
		if err != nil {
			return nil, s.metricsError(ctx, err)
		}
		return pts, nil
	}
	v, err := s.fetch(ctx, "", from, to)
	if err != nil {
		return nil, err
	}
	return v.rollup().Timeseries(from, to, step)
}

// TokenSeries is the tokens used per step by stage and model, from the
// rollup of the window's fetched traces (a metrics provider has no tokens).
// Runs are not in Jaeger: a run is not found.
func (s *Source) TokenSeries(ctx context.Context, from, to time.Time, step time.Duration, runID string) ([]collector.TokenPoint, error) {
	if runID != "" {
		return nil, fmt.Errorf("run %q: %w", runID, errNoRuns)
	}
	v, err := s.fetch(ctx, "", from, to)
	if err != nil {
		return nil, err
	}
	return v.rollup().TokenSeries(from, to, step)
}

// Services counts the fetched traces of the window by service; counts are
// "at least" when the fetch did not read every trace.
func (s *Source) Services(ctx context.Context, from, to time.Time) (collector.ServiceList, error) {
	v, err := s.fetch(ctx, "", from, to)
	if err != nil {
		return collector.ServiceList{}, err
	}
	counts := map[string]int64{}
	for _, t := range v.traces() {
		counts[t.Summary.Service]++
	}
	l := collector.ServiceList{Services: []collector.ServiceCount{}, Truncated: v.servicesCapped}
	for name, n := range counts {
		l.Services = append(l.Services, collector.ServiceCount{Service: name, Traces: n, AtLeast: !v.complete()})
	}
	slices.SortFunc(l.Services, func(a, b collector.ServiceCount) int { return cmp.Compare(a.Service, b.Service) })
	return l, nil
}

// metricsError marks a provider's failure as the source being unavailable
// (unless the request itself ended).
func (s *Source) metricsError(ctx context.Context, err error) error {
	if ctx.Err() != nil || errors.Is(err, collector.ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %s: %w", collector.ErrUnavailable, s.cfg.metricsName, err)
}

// unavailable wraps a failed query: the caller's own end stays what it
// is, a fetch that ran out of time says so, anything else is Jaeger
// unavailable.
func (s *Source) unavailable(ctx, fctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(fctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w: the Jaeger query service did not answer within %s", collector.ErrUnavailable, s.cfg.fetchTimeout)
	}
	return fmt.Errorf("%w: %w", collector.ErrUnavailable, err)
}

// fetched is one window read from Jaeger.
type fetched struct {
	traces         []*collector.Trace // oldest first
	from, to       time.Time          // the window read: whole minutes, to exclusive
	clamped        bool               // the window asked for reached further back
	service        string             // "" for every service
	services       int                // services queried
	servicesCapped bool
	slices         int
	perQuery       int
	queries        int
	full           int // queries that returned their limit: traces may be missing there

	once sync.Once
	rl   *collector.TraceRollup
}

// view is the window a request asked for (aligned: whole minutes, to
// exclusive) in a fetched window that holds it: the same one, or a wider
// one still in the cache.
type view struct {
	*fetched
	from, to time.Time
}

// traces returns the fetched traces that started in the view, oldest first.
func (v view) traces() []*collector.Trace {
	ts := v.fetched.traces
	lo, _ := slices.BinarySearchFunc(ts, v.from, func(t *collector.Trace, at time.Time) int { return t.Summary.Start.Compare(at) })
	hi, _ := slices.BinarySearchFunc(ts, v.to, func(t *collector.Trace, at time.Time) int { return t.Summary.Start.Compare(at) })
	return ts[lo:hi]
}

// complete reports whether every trace of the view was read: no query
// reached its limit, no service was left out, and the view does not start
// where a window cut to its reach started.
func (v view) complete() bool {
	return v.full == 0 && !v.servicesCapped && !(v.clamped && !v.from.After(v.fetched.from))
}

// whole reports whether the view is the whole fetched window.
func (v view) whole() bool { return v.from.Equal(v.fetched.from) && v.to.Equal(v.fetched.to) }

// complete reports whether every trace of the window was read.
func (f *fetched) complete() bool { return f.full == 0 && !f.servicesCapped && !f.clamped }

// rollup is the per-minute rollup of every fetched trace, built once.
func (f *fetched) rollup() *collector.TraceRollup {
	f.once.Do(func() {
		f.rl = collector.NewTraceRollup()
		for _, t := range f.traces {
			f.rl.AddTrace(t.Trace)
		}
		f.rl.Method = f.describe()
		f.rl.Partial = !f.complete()
	})
	return f.rl
}

// describe says in words how the window was read.
func (f *fetched) describe() string {
	who := "service " + f.service
	if f.service == "" {
		who = fmt.Sprintf("%d services", f.services)
		if f.servicesCapped {
			who += " (the first of more; the rest not read)"
		}
	}
	d := fmt.Sprintf("%d traces read from Jaeger for %s, %s to %s in %d time slices, at most %d per slice and service",
		len(f.traces), who, f.from.Format(time.RFC3339), f.to.Format(time.RFC3339), f.slices, f.perQuery)
	if f.full > 0 {
		d += fmt.Sprintf("; %d of %d queries reached that limit, so traces are missing there and those times and services weigh less in the analysis than in the window", f.full, f.queries)
	} else {
		d += "; no query reached that limit"
	}
	if f.clamped {
		d += "; the window was cut to its reach"
	}
	return d
}
