package collector

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/stagescope/stagescope/collector/tracetree"
	"github.com/stagescope/stagescope/spans"
)

// DefaultRollupTraces bounds how many traces RollupTraces reads: at about
// 0.1 ms a trace, a few hundred milliseconds.
const DefaultRollupTraces = 5_000

// TraceRollup is what the writer's per-minute stage rollups would hold for
// the traces one query selects, computed from those traces' spans. The
// stored rollups are split by minute, run and stage only; a selection they
// do not split — a service — is answered from its traces instead, with the
// same histograms, self-time rule and minute placement (a span counts in
// the minute it started), so the numbers agree with the rollups wherever
// both can answer.
type TraceRollup struct {
	rows map[rollupKey]*rollupRow
	// Traces is how many traces were read.
	Traces int
	// Partial is set when the selection holds more traces than were read
	// (or the trace scan ran out of budget): only traces that started at or
	// after ScannedTo are counted.
	Partial   bool
	ScannedTo time.Time
	// Method says in words how the traces were chosen, when a source read
	// a sample of them (a Jaeger source); "" for the store.
	Method string
}

// NewTraceRollup returns an empty rollup that AddTrace fills, for traces
// read from elsewhere than the store.
func NewTraceRollup() *TraceRollup { return &TraceRollup{rows: map[rollupKey]*rollupRow{}} }

// AddTrace adds one whole trace (nil spans are skipped) and counts it.
func (r *TraceRollup) AddTrace(t tracetree.Trace) {
	sps := make([]spanTiming, 0, len(t.Spans))
	for _, sp := range t.Spans {
		if sp != nil {
			sps = append(sps, timingOf(sp))
		}
	}
	r.add(sps)
	r.Traces++
}

// RollupTraces reads up to maxTraces (DefaultRollupTraces when ≤ 0) of the
// traces q selects, newest first, and aggregates their spans per minute and
// stage. q.Limit and q.Cursor are ignored.
func (s *SQLiteStore) RollupTraces(ctx context.Context, q TraceQuery, maxTraces int) (*TraceRollup, error) {
	if maxTraces <= 0 {
		maxTraces = DefaultRollupTraces
	}
	r := NewTraceRollup()
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("cannot read traces: %w", err)
	}
	defer conn.Close()
	stmt, err := conn.PrepareContext(ctx, sqlSpansInRange)
	if err != nil {
		return nil, fmt.Errorf("cannot read traces: %w", err)
	}
	defer stmt.Close()
	q.Cursor = ""
	var last TraceSummary
	for left := maxTraces; ; {
		q.Limit = min(left, MaxTraceLimit)
		page, err := s.ListTraces(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, ts := range page.Traces {
			sps, ok, err := s.traceTimings(ctx, conn, stmt, ts.row, ts.TraceID)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue // deleted by retention meanwhile
			}
			r.add(sps)
			r.Traces++
			last = ts
		}
		left -= len(page.Traces)
		switch {
		case page.Partial:
			r.Partial, r.ScannedTo = true, page.ScannedTo
			return r, nil
		case page.NextCursor == "":
			return r, nil
		case left <= 0:
			r.Partial, r.ScannedTo = true, last.Start
			return r, nil
		}
		q.Cursor = page.NextCursor
	}
}

// spanTiming is what a rollup needs of a span.
type spanTiming struct {
	id, parent spans.SpanID
	stage      spans.Stage
	start, end int64
	failed     bool
	tokens     spanTokens
}

// timingOf is what a rollup needs of sp.
func timingOf(sp *spans.Span) spanTiming {
	return spanTiming{id: sp.SpanID, parent: sp.ParentID, stage: sp.Stage, start: nanos(sp.Start), end: nanos(sp.End),
		failed: sp.Status == spans.StatusError, tokens: tokensOf(sp)}
}

// traceTimings reads what a rollup needs of the spans of the trace in
// traces row row; ok is false when the row is gone.
func (s *SQLiteStore) traceTimings(ctx context.Context, conn *sql.Conn, legacy *sql.Stmt, row int64, id spans.TraceID) (sps []spanTiming, ok bool, err error) {
	var chunk sql.NullInt64
	var more, parts []byte
	switch err := conn.QueryRowContext(ctx, sqlTraceStored, row).Scan(&chunk, &more, &parts); {
	case errors.Is(err, sql.ErrNoRows):
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("cannot read trace %s: %w", id, err)
	}
	// Bodies are decoded too: token use is in the attributes.
	err = s.eachStoredPart(ctx, conn, id, chunk.Int64, more, false, func(d *decodedPart) error {
		for i := range d.spans {
			sps = append(sps, timingOf(&d.spans[i]))
		}
		return nil
	})
	if err == nil {
		err = forParts(parts, func(first, count int64) error {
			rows, err := legacy.QueryContext(ctx, first, first+count, id[:])
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var sp spans.Span
				if err := s.scanLegacySpan(ctx, conn, rows, &sp); err != nil {
					return err
				}
				sps = append(sps, timingOf(&sp))
			}
			return rows.Err()
		})
	}
	if err != nil {
		return nil, true, fmt.Errorf("cannot read spans of trace %s: %w", id, err)
	}
	return sps, true, nil
}

// add adds one trace's spans to r.
func (r *TraceRollup) add(sps []spanTiming) {
	kids := make(map[spans.SpanID][]interval, len(sps))
	for _, sp := range sps {
		if !sp.parent.IsZero() {
			kids[sp.parent] = append(kids[sp.parent], interval{sp.start, sp.end})
		}
	}
	ids := make([]spans.SpanID, len(sps))
	parents := make([]spans.SpanID, len(sps))
	has := make([]bool, len(sps))
	for i, sp := range sps {
		ids[i], parents[i], has[i] = sp.id, sp.parent, sp.tokens.use.calls > 0
	}
	owned := tokenOwners(ids, parents, has, nil, nil, &ownerScratch{})
	for i, sp := range sps {
		dur := max(sp.end-sp.start, 0)
		minute := rollupMinute(sp.start)
		row := r.row(rollupKey{minute: minute, stage: stageOf(sp.stage)})
		row.add(dur, selfTime(sp.start, sp.end, kids[sp.id]), sp.failed)
		if owned != nil && owned[i] {
			row.addTokens(sp.tokens)
		}
		if sp.parent.IsZero() {
			r.row(rollupKey{minute: minute, stage: StageTrace}).add(dur, dur, sp.failed)
		}
	}
}

func (r *TraceRollup) row(k rollupKey) *rollupRow {
	row := r.rows[k]
	if row == nil {
		row = &rollupRow{}
		r.rows[k] = row
	}
	return row
}

// StageBreakdown is SQLiteStore.StageBreakdown over the traces read.
func (r *TraceRollup) StageBreakdown(from, to time.Time) []StageStats {
	lo, hi := minuteRange(from, to)
	var byStage [256]*rollupRow
	for k, row := range r.rows {
		if k.minute < lo || k.minute > hi {
			continue
		}
		a := byStage[k.stage]
		if a == nil {
			a = &rollupRow{}
			byStage[k.stage] = a
		}
		a.count += row.count
		a.errors += row.errors
		a.total += row.total
		a.self += row.self
		a.dur.merge(&row.dur)
		a.selfHist.merge(&row.selfHist)
	}
	return stageStats(&byStage)
}

// Timeseries is SQLiteStore.Timeseries over the traces read, except that
// Drops stay zero: what the collector dropped belongs to no service.
func (r *TraceRollup) Timeseries(from, to time.Time, step time.Duration) ([]Point, error) {
	lo, hi, stepMin, n, err := seriesSteps("time series", from, to, step)
	if err != nil {
		return nil, err
	}
	pts := make([]Point, n)
	hists := make([]histogram, n)
	for i := range pts {
		pts[i].Start = time.Unix((lo+int64(i)*stepMin)*60, 0).UTC()
	}
	for k, row := range r.rows {
		if k.stage != StageTrace || k.minute < lo || k.minute > hi {
			continue
		}
		i := (k.minute - lo) / stepMin
		pts[i].Traces += row.count
		pts[i].Errors += row.errors
		hists[i].merge(&row.dur)
	}
	secs := float64(stepMin * 60)
	for i := range pts {
		pts[i].Throughput = float64(pts[i].Traces) / secs
		pts[i].P50, pts[i].P95, pts[i].P99 = hists[i].quantile(0.5), hists[i].quantile(0.95), hists[i].quantile(0.99)
	}
	return pts, nil
}

var (
	sqlTraceStored = mustSQL("trace_stored.sql")
)
