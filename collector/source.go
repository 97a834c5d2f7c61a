package collector

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strings"
	"time"

	"github.com/stagescope/stagescope/collector/tracetree"
	"github.com/stagescope/stagescope/spans"
)

// Source is what the dashboard and its JSON API read: traces, their
// per-stage aggregates, services and benchmark runs. The SQLite store
// implements it over its own tables; the Jaeger source
// (jaeger.NewSource) implements it over a Jaeger query service, from a
// bounded sample of traces or, when given, a StageMetrics provider. The
// handlers are written once against it.
type Source interface {
	// Info says what the source is, for the pages and /api/health.
	Info() SourceInfo
	// Ping checks that the source answers, within ctx.
	Ping(ctx context.Context) error
	// Health returns nil while the source can be trusted, or the fault.
	Health() error

	ListTraces(ctx context.Context, q TraceQuery) (TracePage, error)
	// GetTrace returns one trace, or an error wrapping ErrNotFound.
	GetTrace(ctx context.Context, id spans.TraceID) (*Trace, error)
	Services(ctx context.Context, from, to time.Time) (ServiceList, error)
	// SampleTraces reads the traces an analysis of q sees, by the one
	// sampling policy (see SQLiteStore.SampleTraces), and says how.
	SampleTraces(ctx context.Context, q TraceQuery, budget int) ([]*Trace, SampleInfo, error)
	// RollupTraces aggregates up to maxTraces of the traces q selects per
	// minute and stage.
	RollupTraces(ctx context.Context, q TraceQuery, maxTraces int) (*TraceRollup, error)
	StageMetrics
	// TokenSeries returns the tokens used per step over [from, to], by
	// stage and model (see SQLiteStore.TokenSeries).
	TokenSeries(ctx context.Context, from, to time.Time, step time.Duration, runID string) ([]TokenPoint, error)

	// Runs lists benchmark runs, newest first (none for a source that
	// keeps no runs; Info().Runs says so).
	Runs(ctx context.Context) ([]Run, error)
	// Run returns one run, or an error wrapping ErrNotFound.
	Run(ctx context.Context, id string) (Run, error)
}

// StageMetrics answers per-stage and end-to-end aggregates over time: the
// store's rollups, or a metrics backend such as Prometheus fed by the
// OpenTelemetry spanmetrics connector with the stage as a dimension.
// Percentiles come from histograms; their error is the histogram's.
type StageMetrics interface {
	// StageBreakdown returns per-stage statistics of spans that started in
	// [from, to] (zero times are open ends), for one run or, with runID "",
	// all; in the pipeline order of spans.AllStages, stages without spans
	// left out. The StageTrace row is the whole traces (roots).
	StageBreakdown(ctx context.Context, from, to time.Time, runID string) ([]StageStats, error)
	// Timeseries returns end-to-end latency percentiles, throughput and
	// errors per step over [from, to], empty steps included; the first
	// step starts at from's minute.
	Timeseries(ctx context.Context, from, to time.Time, step time.Duration) ([]Point, error)
}

// Where a Source's per-stage aggregates come from (SourceInfo.Aggregates).
const (
	// AggregatesRollups: per-minute rollups written with every trace.
	AggregatesRollups = "rollups"
	// AggregatesMetrics: a metrics provider (Prometheus' spanmetrics).
	AggregatesMetrics = "metrics"
	// AggregatesSample: computed from a bounded sample of traces, which
	// each answer describes.
	AggregatesSample = "trace sample"
)

// SourceInfo says what a Source is.
type SourceInfo struct {
	// Kind is "sqlite" or "jaeger".
	Kind string `json:"kind"`
	// Aggregates is where stage breakdowns and time series come from: one
	// of the Aggregates… constants.
	Aggregates string `json:"aggregates"`
	// Runs is set when the source keeps benchmark runs.
	Runs bool `json:"runs"`
	// ReadOnly is set when the source cannot take spans (OTLP ingest goes
	// elsewhere).
	ReadOnly bool `json:"read_only"`
}

// ErrUnavailable is wrapped by a remote source's errors when it does not
// answer, answers too slowly or answers with an error: the message then
// says which and the API answers 502.
var ErrUnavailable = errors.New("source unavailable")

var _ Source = (*SQLiteStore)(nil)

// Info describes the store as a Source.
func (s *SQLiteStore) Info() SourceInfo {
	return SourceInfo{Kind: "sqlite", Aggregates: AggregatesRollups, Runs: true, ReadOnly: s.lock == nil}
}

// Ping checks that the database answers.
func (s *SQLiteStore) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// SummarizeTrace is the trace-list row of a trace read from elsewhere (a
// Jaeger query service), by the rules the writer applies to stored traces:
// the span of the earliest start gives the service, a root span the name
// and status, the run is the first run id found, and the stages are those
// any span has.
func SummarizeTrace(t tracetree.Trace) TraceSummary {
	sum := TraceSummary{TraceID: t.ID()}
	var sps []*spans.Span
	for _, sp := range t.Spans {
		if sp != nil {
			sps = append(sps, sp)
		}
	}
	slices.SortStableFunc(sps, func(a, b *spans.Span) int { return a.Start.Compare(b.Start) })
	var mask uint64
	var end time.Time
	for i, sp := range sps {
		if i == 0 || sp.Start.Before(sum.Start) {
			sum.Start = sp.Start
		}
		if sp.End.After(end) {
			end = sp.End
		}
		if sum.Service == "" {
			sum.Service = sp.Service()
		}
		if sum.RunID == "" {
			sum.RunID = runOf(sp.Attrs, sp.Tags)
		}
		if sp.Status == spans.StatusError {
			sum.ErrorCount++
		}
		mask |= 1 << (sp.Stage & 63)
		if sp.IsRoot() && sum.RootName == "" {
			sum.RootName, sum.Status = sp.Name, sp.Status
		}
	}
	sum.SpanCount = len(sps)
	if len(sps) > 0 {
		sum.Duration = max(end.Sub(sum.Start), 0)
	}
	sum.Stages = stagesOfMask(mask)
	return sum
}

// stagesOfMask lists the stages of a trace row's stage mask.
func stagesOfMask(mask uint64) []spans.Stage {
	var out []spans.Stage
	for u := mask; u != 0; u &= u - 1 {
		out = append(out, spans.Stage(bits.TrailingZeros64(u)))
	}
	return out
}

// TraceMatcher returns the test of q's filters other than time and run on
// a whole trace, with the store's meanings: service is the trace's
// service, stage any span's, status the root's (StatusWithErrors: a span
// failed), name a substring of the root's name, durations end to end, attr
// an attribute or tag of any span. For a source that filters in memory.
func TraceMatcher(q TraceQuery) (func(*Trace) bool, error) {
	var tests []func(*Trace) bool
	if q.Service != "" {
		tests = append(tests, func(t *Trace) bool { return t.Summary.Service == q.Service })
	}
	if q.Stage != "" {
		st, err := spans.ParseStage(q.Stage)
		if err != nil {
			return nil, err
		}
		tests = append(tests, func(t *Trace) bool { return slices.Contains(t.Summary.Stages, st) })
	}
	switch q.Status {
	case "":
	case StatusWithErrors:
		tests = append(tests, func(t *Trace) bool { return t.Summary.ErrorCount > 0 })
	default:
		st, err := spans.ParseStatus(q.Status)
		if err != nil {
			return nil, err
		}
		tests = append(tests, func(t *Trace) bool { return t.Summary.RootName != "" && t.Summary.Status == st })
	}
	if q.NameContains != "" {
		tests = append(tests, func(t *Trace) bool { return strings.Contains(t.Summary.RootName, q.NameContains) })
	}
	if q.MinDuration > 0 {
		tests = append(tests, func(t *Trace) bool { return t.Summary.Duration >= q.MinDuration })
	}
	if q.MaxDuration > 0 {
		tests = append(tests, func(t *Trace) bool { return t.Summary.Duration <= q.MaxDuration })
	}
	if q.Attr != "" {
		key, val, ok := strings.Cut(q.Attr, "=")
		if !ok || key == "" {
			return nil, fmt.Errorf("attribute filter %q: want key=value", q.Attr)
		}
		tests = append(tests, func(t *Trace) bool {
			for _, sp := range t.Spans {
				if v, ok := sp.Attr(key); ok && v.Emit() == val {
					return true
				}
				if v, ok := sp.Tag(key); ok && v == val {
					return true
				}
			}
			return false
		})
	}
	return func(t *Trace) bool {
		for _, f := range tests {
			if !f(t) {
				return false
			}
		}
		return true
	}, nil
}

// PageTraces is ListTraces over traces a source holds in memory (a Jaeger
// source's fetched window, already filtered): ordered by q.Sort (newest
// first by default; ties by start, then trace id, in the same direction),
// the page after q.Cursor of at most q.Limit, with the store's cursors.
func PageTraces(ts []*Trace, q TraceQuery) (TracePage, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultTraceLimit
	}
	limit = min(limit, MaxTraceLimit)
	srt, sorted, err := parseSort(q.Sort)
	if err != nil {
		return TracePage{}, err
	}
	value := func(t *Trace) int64 {
		switch {
		case sorted && srt.key == "duration":
			return int64(t.Summary.Duration)
		case sorted && srt.key == "spans":
			return int64(t.Summary.SpanCount)
		}
		return nanos(t.Summary.Start)
	}
	desc := !sorted || srt.desc
	order := func(v1, s1 int64, id1 spans.TraceID, v2, s2 int64, id2 spans.TraceID) int {
		c := cmp.Or(cmp.Compare(v1, v2), cmp.Compare(s1, s2), slices.Compare(id1[:], id2[:]))
		if desc {
			return -c
		}
		return c
	}
	rows := slices.Clone(ts)
	slices.SortFunc(rows, func(a, b *Trace) int {
		return order(value(a), nanos(a.Summary.Start), a.Summary.TraceID, value(b), nanos(b.Summary.Start), b.Summary.TraceID)
	})
	if q.Cursor != "" {
		// The cursor is the last row listed: its sort value, start and id.
		var v, start int64
		var id spans.TraceID
		if sorted {
			c, err := decodeSortCursor(q.Cursor)
			if err != nil {
				return TracePage{}, err
			}
			v, start = c.value, c.pos.start
			copy(id[:], c.pos.id)
		} else {
			at, b, err := decodeCursor(q.Cursor)
			if err != nil {
				return TracePage{}, err
			}
			v, start = at, at
			copy(id[:], b)
		}
		i, _ := slices.BinarySearchFunc(rows, struct{}{}, func(t *Trace, _ struct{}) int {
			if order(value(t), nanos(t.Summary.Start), t.Summary.TraceID, v, start, id) <= 0 {
				return -1
			}
			return 1
		})
		rows = rows[i:]
	}
	page := TracePage{Traces: make([]TraceSummary, 0, min(limit, len(rows)))}
	for _, t := range rows[:min(limit, len(rows))] {
		page.Traces = append(page.Traces, t.Summary)
	}
	if len(rows) > limit {
		last := rows[limit-1]
		if sorted {
			page.NextCursor = sortCursor{value: value(last), pos: tracePos{nanos(last.Summary.Start), slices.Clone(last.Summary.TraceID[:])}}.String()
		} else {
			page.NextCursor = encodeCursor(nanos(last.Summary.Start), last.Summary.TraceID)
		}
	}
	return page, nil
}
