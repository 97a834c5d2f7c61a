package collector

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stagescope/stagescope/spans"
)

// tracePos is a place in the newest-first order of traces: (start, id).
type tracePos struct {
	start int64
	id    []byte
}

// traceFilter is a TraceQuery turned into SQL. drive holds the terms an
// index answers (the time window, and the run or service the index is
// keyed by): walking that index newest first visits exactly the rows they
// select. rest holds the terms tested row by row, which is what makes a
// scan long when few rows match.
type traceFilter struct {
	drive, rest         []string
	driveArgs, restArgs []any
	attrKey, attrVal    string
}

func (f *traceFilter) driveOn(term string, args ...any) {
	f.drive, f.driveArgs = append(f.drive, term), append(f.driveArgs, args...)
}

func (f *traceFilter) test(term string, args ...any) {
	f.rest, f.restArgs = append(f.rest, term), append(f.restArgs, args...)
}

// hasServiceIndex reports whether the database has the traces_by_service
// index (migration 0005), which turns a service filter into an index range.
func (s *SQLiteStore) hasServiceIndex(ctx context.Context) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'traces_by_service'").Scan(&n)
	if err != nil {
		return false, fmt.Errorf("cannot read the schema: %w", err)
	}
	return n > 0, nil
}

func (s *SQLiteStore) traceFilter(ctx context.Context, q TraceQuery) (*traceFilter, error) {
	f := &traceFilter{}
	if !q.From.IsZero() {
		f.driveOn("start_ns >= ?", q.From.UnixNano())
	}
	if !q.To.IsZero() {
		f.driveOn("start_ns <= ?", q.To.UnixNano())
	}
	serviceIndexed := false
	if q.Service != "" && q.RunID == "" {
		var err error
		if serviceIndexed, err = s.hasServiceIndex(ctx); err != nil {
			return nil, err
		}
	}
	switch {
	case q.RunID != "":
		f.driveOn("run_id = ?", q.RunID) // traces_by_run
	case serviceIndexed:
		f.driveOn("service = ?", q.Service) // traces_by_service
	}
	if q.Service != "" && !serviceIndexed {
		f.test("service = ?", q.Service)
	}
	if q.Stage != "" {
		st, err := spans.ParseStage(q.Stage)
		if err != nil {
			return nil, err
		}
		f.test("(stages & ?) != 0", int64(1)<<st)
	}
	switch q.Status {
	case "":
	case StatusWithErrors:
		f.test("error_count > 0")
	default:
		st, err := spans.ParseStatus(q.Status)
		if err != nil {
			return nil, err
		}
		f.test("root_status = ?", int64(st))
	}
	if q.NameContains != "" {
		f.test("instr(root_name, ?) > 0", q.NameContains)
	}
	if q.MinDuration > 0 {
		f.test("end_ns - start_ns >= ?", int64(q.MinDuration))
	}
	if q.MaxDuration > 0 {
		f.test("end_ns - start_ns <= ?", int64(q.MaxDuration))
	}
	if q.Attr != "" {
		var ok bool
		f.attrKey, f.attrVal, ok = strings.Cut(q.Attr, "=")
		if !ok || f.attrKey == "" {
			return nil, fmt.Errorf("attribute filter %q: want key=value", q.Attr)
		}
	}
	return f, nil
}

// before restricts a query to traces older than p (exclusive); the plain
// start_ns term lets SQLite bound the index range, the row value makes it
// exact.
func before(where []string, args []any, p *tracePos) ([]string, []any) {
	if p == nil {
		return where, args
	}
	return append(slices.Clip(where), "start_ns <= ?", "(start_ns, trace_id) < (?, ?)"),
		append(slices.Clip(args), p.start, p.start, p.id)
}

// notBefore restricts a query to traces at or newer than p.
func notBefore(where []string, args []any, p *tracePos) ([]string, []any) {
	if p == nil {
		return where, args
	}
	return append(slices.Clip(where), "start_ns >= ?", "(start_ns, trace_id) >= (?, ?)"),
		append(slices.Clip(args), p.start, p.start, p.id)
}

func whereClause(where []string) string {
	if len(where) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(where, " AND ")
}

// scanLimit returns the budget-th trace after cursor in index order, or nil
// when no more than budget remain (the scan then reaches the end). It reads
// the driving index only (start_ns and the trace id are in every index of
// traces), never the table.
func (s *SQLiteStore) scanLimit(ctx context.Context, f *traceFilter, cursor *tracePos, budget int) (*tracePos, error) {
	w, a := before(f.drive, f.driveArgs, cursor)
	query := "SELECT start_ns, trace_id FROM traces" + whereClause(w) + " ORDER BY start_ns DESC, trace_id DESC LIMIT 2 OFFSET ?"
	rows, err := s.db.QueryContext(ctx, query, append(slices.Clip(a), budget-1)...)
	if err != nil {
		return nil, fmt.Errorf("cannot bound the trace scan: %w", err)
	}
	defer rows.Close()
	var found []tracePos
	for rows.Next() {
		var p tracePos
		if err := rows.Scan(&p.start, &p.id); err != nil {
			return nil, fmt.Errorf("cannot bound the trace scan: %w", err)
		}
		found = append(found, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot bound the trace scan: %w", err)
	}
	if len(found) < 2 {
		return nil, nil
	}
	return &found[0], nil
}

// ListTraces returns traces matching q, newest first (or in q.Sort's
// order), a page at a time.
//
// Every call is bounded. Filters an index answers (time window, run, and
// service when the traces_by_service index exists) cost what they return.
// Other filters are tested on at most q.ScanBudget (TraceScanBudget) traces
// along the start-time index; when the budget runs out before the page is
// full, the page is Partial, ScannedTo says where the scan stopped and
// NextCursor continues from there.
func (s *SQLiteStore) ListTraces(ctx context.Context, q TraceQuery) (TracePage, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultTraceLimit
	}
	limit = min(limit, MaxTraceLimit)
	budget := q.ScanBudget
	if budget <= 0 {
		budget = TraceScanBudget
	}
	f, err := s.traceFilter(ctx, q)
	if err != nil {
		return TracePage{}, err
	}
	if ts, sorted, err := parseSort(q.Sort); err != nil {
		return TracePage{}, err
	} else if sorted {
		return s.listSorted(ctx, q, f, ts, limit, budget)
	}
	var cursor *tracePos
	if q.Cursor != "" {
		start, id, err := decodeCursor(q.Cursor)
		if err != nil {
			return TracePage{}, err
		}
		cursor = &tracePos{start, id}
	}
	var stop *tracePos // the last trace the budget lets this call examine
	if len(f.rest) > 0 || f.attrKey != "" {
		if stop, err = s.scanLimit(ctx, f, cursor, budget); err != nil {
			return TracePage{}, err
		}
	}
	where, args := notBefore(append(slices.Clip(f.drive), f.rest...), append(slices.Clip(f.driveArgs), f.restArgs...), stop)

	page := TracePage{Traces: []TraceSummary{}}
	partial := func(p *tracePos) TracePage {
		page.Partial, page.ScannedTo = true, fromNanos(p.start)
		var id spans.TraceID
		copy(id[:], p.id)
		page.NextCursor = encodeCursor(p.start, id)
		return page
	}
	opened := 0
	var attrDeadline time.Time
	if f.attrKey != "" {
		attrDeadline = time.Now().Add(attrScanTime)
	}
	pos := cursor
	for {
		w, a := before(where, args, pos)
		fetch := limit + 1 - len(page.Traces)
		if f.attrKey != "" {
			fetch = max(fetch, 64)
		}
		query := "SELECT " + traceColumns + " FROM traces" + whereClause(w) + " ORDER BY start_ns DESC, trace_id DESC LIMIT ?"
		batch, err := s.traceRows(ctx, query, append(slices.Clip(a), fetch)...)
		if err != nil {
			return TracePage{}, err
		}
		for _, r := range batch {
			if len(page.Traces) == limit {
				last := page.Traces[limit-1]
				page.NextCursor = encodeCursor(last.Start.UnixNano(), last.TraceID)
				return page, nil
			}
			pos = &tracePos{r.startNS, slices.Clone(r.sum.TraceID[:])}
			if f.attrKey != "" {
				opened++
				ok, err := s.traceHasAttr(ctx, r.sum.row, r.sum.TraceID, f.attrKey, f.attrVal)
				if err != nil {
					return TracePage{}, err
				}
				if !ok {
					if opened >= attrScanLimit || (opened%64 == 0 && time.Now().After(attrDeadline)) {
						return partial(pos), nil
					}
					continue
				}
			}
			page.Traces = append(page.Traces, r.sum)
		}
		if len(batch) < fetch {
			if stop != nil {
				return partial(stop), nil
			}
			return page, nil
		}
	}
}

func (s *SQLiteStore) traceRows(ctx context.Context, query string, args ...any) ([]traceRow, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("cannot list traces: %w", err)
	}
	defer rows.Close()
	var out []traceRow
	for rows.Next() {
		r, err := scanTrace(rows, false)
		if err != nil {
			return nil, fmt.Errorf("cannot list traces: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot list traces: %w", err)
	}
	return out, nil
}

func (s *SQLiteStore) traceHasAttr(ctx context.Context, row int64, id spans.TraceID, key, val string) (bool, error) {
	t, err := s.traceAt(ctx, row, id)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for i := range t.Spans {
		if v, ok := t.Spans[i].Attr(key); ok && v.Emit() == val {
			return true, nil
		}
		if v, ok := t.Spans[i].Tag(key); ok && v == val {
			return true, nil
		}
	}
	return false, nil
}
