package collector

import (
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// SortKeys are the keys a trace list can be sorted by (TraceQuery.Sort),
// each with the column it orders.
var SortKeys = map[string]string{
	"start":    "start_ns",
	"duration": "(end_ns - start_ns)",
	"spans":    "span_count",
}

// traceSort is a parsed TraceQuery.Sort.
type traceSort struct {
	key  string // a SortKeys key
	expr string
	desc bool
}

// parseSort reads TraceQuery.Sort; ok is false for the default order
// (newest first), which ListTraces walks along the index.
func parseSort(v string) (ts traceSort, ok bool, err error) {
	if v == "" || v == "-start" {
		return ts, false, nil
	}
	ts.key, ts.desc = strings.CutPrefix(v, "-")
	expr, found := SortKeys[ts.key]
	if !found {
		return ts, false, fmt.Errorf("sort %q: want start, duration or spans, with a leading - for descending", v)
	}
	ts.expr = expr
	return ts, true, nil
}

// sortCursor is where a page of a sorted list ends: the last row's sort
// value and position, and the bound of the traces sorted (nil when the
// whole window is).
type sortCursor struct {
	value int64
	pos   tracePos
	stop  *tracePos
}

// A sorted list's cursor is "s<value>_<start>-<id>" and, when the sort is
// bounded, "_<start>-<id>" of the bound: the next page sorts the same
// traces.
func (c sortCursor) String() string {
	out := "s" + strconv.FormatInt(c.value, 10) + "_" + strconv.FormatInt(c.pos.start, 10) + "-" + hex.EncodeToString(c.pos.id)
	if c.stop != nil {
		out += "_" + strconv.FormatInt(c.stop.start, 10) + "-" + hex.EncodeToString(c.stop.id)
	}
	return out
}

func decodeSortCursor(v string) (sortCursor, error) {
	bad := fmt.Errorf("invalid cursor %q", v)
	rest, ok := strings.CutPrefix(v, "s")
	if !ok {
		return sortCursor{}, bad
	}
	parts := strings.Split(rest, "_")
	if len(parts) != 2 && len(parts) != 3 {
		return sortCursor{}, bad
	}
	var c sortCursor
	var err error
	if c.value, err = strconv.ParseInt(parts[0], 10, 64); err != nil {
		return sortCursor{}, bad
	}
	if c.pos.start, c.pos.id, err = decodeCursor(parts[1]); err != nil {
		return sortCursor{}, bad
	}
	if len(parts) == 3 {
		var stop tracePos
		if stop.start, stop.id, err = decodeCursor(parts[2]); err != nil {
			return sortCursor{}, bad
		}
		c.stop = &stop
	}
	return c, nil
}

// CheckCursor reports whether c is a cursor ListTraces returned (of a
// sorted list or not), so that a bad one is refused before any query.
func CheckCursor(c string) error {
	if strings.HasPrefix(c, "s") {
		_, err := decodeSortCursor(c)
		return err
	}
	_, _, err := decodeCursor(c)
	return err
}

// listSorted is ListTraces for a sorted list. The traces sorted are those
// of the window that match q, among the newest budget of the traces the
// index-answered filters select: the whole window when it holds no more,
// else a Partial page whose ScannedTo says how far back the sort reached
// (every page of the list says so, and sorts the same traces). An
// attribute filter, which opens traces one by one, cannot be sorted over.
func (s *SQLiteStore) listSorted(ctx context.Context, q TraceQuery, f *traceFilter, ts traceSort, limit, budget int) (TracePage, error) {
	if f.attrKey != "" {
		return TracePage{}, fmt.Errorf("sort %q: not with an attribute filter (it opens traces one by one); sort by start instead", q.Sort)
	}
	var cur *sortCursor
	var stop *tracePos
	if q.Cursor != "" {
		c, err := decodeSortCursor(q.Cursor)
		if err != nil {
			return TracePage{}, err
		}
		cur, stop = &c, c.stop
	} else {
		var err error
		if stop, err = s.scanLimit(ctx, f, nil, budget); err != nil {
			return TracePage{}, err
		}
	}
	where, args := notBefore(append(slices.Clip(f.drive), f.rest...), append(slices.Clip(f.driveArgs), f.restArgs...), stop)
	dir, cmp := "ASC", ">"
	if ts.desc {
		dir, cmp = "DESC", "<"
	}
	if cur != nil {
		where = append(where, "("+ts.expr+", start_ns, trace_id) "+cmp+" (?, ?, ?)")
		args = append(args, cur.value, cur.pos.start, cur.pos.id)
	}
	query := "SELECT " + traceColumns + ", " + ts.expr + " FROM traces" + whereClause(where) +
		" ORDER BY " + ts.expr + " " + dir + ", start_ns " + dir + ", trace_id " + dir + " LIMIT ?"
	rows, err := s.db.QueryContext(ctx, query, append(args, limit+1)...)
	if err != nil {
		return TracePage{}, fmt.Errorf("cannot list traces: %w", err)
	}
	defer rows.Close()
	page := TracePage{Traces: []TraceSummary{}}
	var last sortCursor
	for rows.Next() {
		r, value, err := scanSortedTrace(rows)
		if err != nil {
			return TracePage{}, fmt.Errorf("cannot list traces: %w", err)
		}
		if len(page.Traces) == limit {
			page.NextCursor = last.String()
			break
		}
		page.Traces = append(page.Traces, r.sum)
		last = sortCursor{value: value, pos: tracePos{r.startNS, slices.Clone(r.sum.TraceID[:])}, stop: stop}
	}
	if err := rows.Err(); err != nil {
		return TracePage{}, fmt.Errorf("cannot list traces: %w", err)
	}
	if stop != nil {
		page.Partial, page.ScannedTo = true, fromNanos(stop.start)
	}
	return page, nil
}

// scanSortedTrace scans a trace row followed by its sort value.
func scanSortedTrace(rows interface{ Scan(...any) error }) (traceRow, int64, error) {
	var value int64
	r, err := scanTrace(extraColumn{rows, &value}, false)
	return r, value, err
}

// extraColumn scans one more column after those scanTrace reads.
type extraColumn struct {
	sc    interface{ Scan(...any) error }
	value *int64
}

func (e extraColumn) Scan(dst ...any) error { return e.sc.Scan(append(dst, e.value)...) }
