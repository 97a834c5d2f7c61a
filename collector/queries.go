package collector

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/stagescope/stagescope/collector/tracetree"
	"maps"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/spans"
)

// Limits of trace listing.
const (
	DefaultTraceLimit = 50
	MaxTraceLimit     = 10_000
	// TraceScanBudget bounds how many traces one ListTraces call examines
	// when a filter is not answered by an index (status, stage, name,
	// duration, and service on a database without traces_by_service). The
	// scan walks traces_by_start newest first and stops there: the page is
	// then partial, says how far back it looked, and its cursor continues
	// from that point, so no filtered list runs for seconds on a large store.
	TraceScanBudget = 10_000
	// attrScanLimit bounds how many candidate traces one ListTraces call
	// opens to test an attribute filter, and attrScanTime how long it may
	// spend opening them (a trace is a chunk to decompress: on a large
	// store 5,000 take over a second); the cursor continues from there.
	attrScanLimit = 5_000
)

// attrScanTime: see attrScanLimit (a variable so that a test can shorten it).
var attrScanTime = 100 * time.Millisecond

// StatusWithErrors is the TraceQuery.Status that selects traces with a
// failed span anywhere, whether or not the request failed.
const StatusWithErrors = "with_errors"

// TraceQuery selects traces. Zero fields do not filter.
type TraceQuery struct {
	From, To time.Time // trace start in [From, To]
	Service  string    // exact service name
	Stage    string    // the trace has a span of this stage (spans.Stage name)
	// Status is the root span's ("ok", "error", "unset", "dropped"): a
	// trace whose root failed is a failed request, the same rule as the
	// end-to-end error count of the rollups and the analysis. StatusWithErrors
	// selects traces with at least one failed span, absorbed or not.
	Status       string
	NameContains string        // substring of the root span's name
	MinDuration  time.Duration // end-to-end duration at least this
	MaxDuration  time.Duration // end-to-end duration at most this (0: no bound)
	Attr         string        // "key=value": some span has this attribute or tag
	RunID        string
	// Sort orders the list: "" or "-start" newest first (the default),
	// or one of SortKeys — "start", "duration", "spans", ascending, or
	// with a leading "-" descending. A sorted list is sorted over the whole
	// window when it holds at most the scan budget of traces, else over its
	// newest ones (the page is then Partial; see ListTraces).
	Sort   string
	Limit  int    // DefaultTraceLimit when 0, at most MaxTraceLimit
	Cursor string // NextCursor of the previous page
	// ScanBudget overrides TraceScanBudget for this query (0: the default).
	ScanBudget int
}

// TraceSummary is one row of a trace list.
type TraceSummary struct {
	TraceID    spans.TraceID `json:"trace_id"`
	RootName   string        `json:"root_name"` // "" while the root span has not arrived
	Service    string        `json:"service"`
	Start      time.Time     `json:"start"`
	Duration   time.Duration `json:"duration"`
	Status     spans.Status  `json:"status"` // the root span's
	SpanCount  int           `json:"span_count"`
	ErrorCount int           `json:"error_count"`
	RunID      string        `json:"run_id,omitempty"`
	Stages     []spans.Stage `json:"stages"`
	// row is the trace's row in traces, so that reading the trace after
	// listing it needs no lookup by id.
	row int64
}

// TracePage is one page of ListTraces, newest first.
type TracePage struct {
	Traces     []TraceSummary `json:"traces"`
	NextCursor string         `json:"next_cursor,omitempty"` // "" on the last page
	// Partial is set when the scan stopped at its budget before the page
	// was full: traces that started before ScannedTo were not examined, and
	// NextCursor continues from there.
	Partial   bool      `json:"partial,omitempty"`
	ScannedTo time.Time `json:"scanned_to,omitzero"`
}

// Trace is a whole trace: its spans ordered by start and its events by time.
type Trace struct {
	Summary TraceSummary `json:"summary"`
	tracetree.Trace
}

const traceColumns = "trace_id, start_ns, end_ns, root_name, root_status, service, span_count, error_count, stages, run_id, id"

type traceRow struct {
	sum        TraceSummary
	startNS    int64
	chunk      sql.NullInt64
	moreChunks []byte
	spanParts  []byte // rows written before migration 0006
	eventParts []byte
}

func scanTrace(sc interface{ Scan(...any) error }, withParts bool) (traceRow, error) {
	var r traceRow
	var id []byte
	var start, end, stages int64
	var rootName, service, run sql.NullString
	var rootStatus sql.NullInt64
	dst := []any{&id, &start, &end, &rootName, &rootStatus, &service, &r.sum.SpanCount, &r.sum.ErrorCount, &stages, &run, &r.sum.row}
	if withParts {
		dst = append(dst, &r.chunk, &r.moreChunks, &r.spanParts, &r.eventParts)
	}
	if err := sc.Scan(dst...); err != nil {
		return r, err
	}
	copy(r.sum.TraceID[:], id)
	r.startNS = start
	r.sum.Start = fromNanos(start)
	r.sum.Duration = time.Duration(end - start)
	r.sum.RootName, r.sum.Service, r.sum.RunID = rootName.String, service.String, run.String
	r.sum.Status = spans.Status(rootStatus.Int64)
	r.sum.Stages = stagesOfMask(uint64(stages))
	return r, nil
}

func encodeCursor(start int64, id spans.TraceID) string {
	return strconv.FormatInt(start, 10) + "-" + hex.EncodeToString(id[:])
}

func decodeCursor(c string) (int64, []byte, error) {
	a, b, ok := strings.Cut(c, "-")
	start, err := strconv.ParseInt(a, 10, 64)
	id, err2 := hex.DecodeString(b)
	if !ok || err != nil || err2 != nil || len(id) != 16 {
		return 0, nil, fmt.Errorf("invalid cursor %q", c)
	}
	return start, id, nil
}

// GetTrace returns one trace with all its spans and events, or ErrNotFound.
func (s *SQLiteStore) GetTrace(ctx context.Context, id spans.TraceID) (*Trace, error) {
	if err := s.index.refresh(ctx, s.db); err != nil {
		return nil, fmt.Errorf("cannot read trace %s: %w", id, err)
	}
	row, err := s.index.lookup(ctx, s.db, id)
	if err != nil {
		return nil, err
	}
	if row == 0 {
		return nil, fmt.Errorf("trace %s: %w", id, ErrNotFound)
	}
	return s.traceAt(ctx, row, id)
}

// eachStoredPart calls fn with each part of trace id stored in chunks (the
// first chunk and the others listed in more), decoded — only what self
// times need with timingsOnly.
func (s *SQLiteStore) eachStoredPart(ctx context.Context, conn rowQuerier, id spans.TraceID, first int64, more []byte, timingsOnly bool, fn func(*decodedPart) error) error {
	return forChunkIDs(first, more, func(cid int64) error {
		var data []byte
		if err := conn.QueryRowContext(ctx, sqlSelectChunk, cid).Scan(&data); err != nil {
			return fmt.Errorf("chunk %d: %w", cid, err)
		}
		var d decodedPart
		var derr error
		err := s.dicts.chunkParts(ctx, conn, data, func(tid spans.TraceID, part encodedPart) bool {
			if tid != id {
				return true
			}
			derr = decodePart(tid, part, timingsOnly, &d)
			return false
		})
		if err = errors.Join(err, derr); err != nil {
			return fmt.Errorf("chunk %d: %w", cid, err)
		}
		return fn(&d)
	})
}

// traceAt reads the trace stored in traces row row, which must be trace id.
func (s *SQLiteStore) traceAt(ctx context.Context, row int64, id spans.TraceID) (*Trace, error) {
	conn, err := s.stmtConn(ctx)
	if err != nil {
		return nil, fmt.Errorf("cannot read trace %s: %w", id, err)
	}
	defer conn.Close()
	return s.traceOn(ctx, conn, row, id)
}

// stmtConn is a read connection that prepares each query it is given once:
// for a reader of many traces, SQLite's prepare costs as much as the
// lookups themselves.
type stmtConn struct {
	*sql.Conn
	stmts map[string]*sql.Stmt
}

func (s *SQLiteStore) stmtConn(ctx context.Context) (*stmtConn, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	return &stmtConn{Conn: conn, stmts: map[string]*sql.Stmt{}}, nil
}

func (c *stmtConn) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, ok := c.stmts[query]
	if !ok {
		var err error
		if st, err = c.Conn.PrepareContext(ctx, query); err != nil {
			return c.Conn.QueryRowContext(ctx, query, args...) // the error comes out of Scan
		}
		c.stmts[query] = st
	}
	return st.QueryRowContext(ctx, args...)
}

func (c *stmtConn) Close() error {
	for _, st := range c.stmts {
		st.Close()
	}
	return c.Conn.Close()
}

// traceOn is traceAt on conn.
func (s *SQLiteStore) traceOn(ctx context.Context, conn *stmtConn, row int64, id spans.TraceID) (*Trace, error) {
	r, err := s.traceRowOn(ctx, conn, row, id)
	if err != nil {
		return nil, err
	}
	var parts []*decodedPart
	err = s.eachStoredPart(ctx, conn, id, r.chunk.Int64, r.moreChunks, false, func(d *decodedPart) error {
		parts = append(parts, d)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot read trace %s: %w", id, err)
	}
	return s.assembleTrace(ctx, conn, r, parts)
}

// traceRowOn reads the traces row row, which must be trace id (else it was
// deleted by retention since it was found: ErrNotFound).
func (s *SQLiteStore) traceRowOn(ctx context.Context, conn *stmtConn, row int64, id spans.TraceID) (traceRow, error) {
	r, err := scanTrace(conn.QueryRowContext(ctx, sqlGetTrace, row), true)
	if errors.Is(err, sql.ErrNoRows) || err == nil && r.sum.TraceID != id {
		return r, fmt.Errorf("trace %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("cannot read trace %s: %w", id, err)
	}
	return r, nil
}

// assembleTrace makes the trace of row r from its parts decoded from
// chunks (in chunk order) and the rows written before migration 0006.
func (s *SQLiteStore) assembleTrace(ctx context.Context, conn *stmtConn, r traceRow, parts []*decodedPart) (*Trace, error) {
	id := r.sum.TraceID
	t := &Trace{Summary: r.sum}
	var vals []spans.Span // t.Spans points into it
	if len(parts) == 1 {
		vals, t.Events = parts[0].spans, parts[0].events
	} else {
		vals = make([]spans.Span, 0, r.sum.SpanCount)
	}
	for _, d := range parts {
		for i := range d.spans {
			if d.resources[i] != 0 {
				res, err := s.resource(ctx, conn, d.resources[i])
				if err != nil {
					return nil, fmt.Errorf("cannot read trace %s: %w", id, err)
				}
				d.spans[i].Resource = res
			}
		}
		if len(parts) > 1 {
			vals = append(vals, d.spans...)
			t.Events = append(t.Events, d.events...)
		}
	}
	// Rows written before migration 0006 keep their spans and events in
	// the spans and events tables (scanLegacySpan).
	err := forParts(r.spanParts, func(first, count int64) error {
		rows, err := conn.QueryContext(ctx, sqlSpansInRange, first, first+count, id[:])
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var sp spans.Span
			if err := s.scanLegacySpan(ctx, conn, rows, &sp); err != nil {
				return err
			}
			vals = append(vals, sp)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("cannot read spans of trace %s: %w", id, err)
	}
	err = forParts(r.eventParts, func(first, count int64) error {
		rows, err := conn.QueryContext(ctx, sqlEventsInRange, first, first+count, id[:])
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var e event.Record
			var tid, sid, body []byte
			var tns, stage int64
			if err := rows.Scan(&tid, &sid, &tns, &e.Name, &stage, &body); err != nil {
				return err
			}
			copy(e.TraceID[:], tid)
			copy(e.SpanID[:], sid)
			e.Time, e.Stage = fromNanos(tns), spans.Stage(stage)
			if err := decodeEventBody(body, &e); err != nil {
				return fmt.Errorf("event %q: %w", e.Name, err)
			}
			t.Events = append(t.Events, e)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("cannot read events of trace %s: %w", id, err)
	}
	slices.SortStableFunc(vals, func(a, b spans.Span) int { return a.Start.Compare(b.Start) })
	t.Spans = make([]*spans.Span, len(vals))
	for i := range vals {
		t.Spans[i] = &vals[i]
	}
	slices.SortStableFunc(t.Events, func(a, b event.Record) int { return a.Time.Compare(b.Time) })
	return t, nil
}

// LoadTraces returns the full traces that ListTraces selects (one page of
// at most q.Limit), for analysis.
func (s *SQLiteStore) LoadTraces(ctx context.Context, q TraceQuery) ([]*Trace, error) {
	page, err := s.ListTraces(ctx, q)
	if err != nil {
		return nil, err
	}
	refs := make([]traceRef, len(page.Traces))
	for i, ts := range page.Traces {
		refs[i] = traceRef{ts.row, ts.TraceID}
	}
	return s.tracesAt(ctx, refs)
}

// traceRef is a trace and its row in traces.
type traceRef struct {
	row int64
	id  spans.TraceID
}

// tracesAt reads many traces, in order; traces deleted since they were
// listed are left out. The traces of a sample cluster in chunks (its frame
// is runs of neighbouring traces, and neighbours arrived in the same
// writer batches), so each chunk is read and decompressed once for all the
// wanted traces it holds, where reading trace by trace decompressed the
// same chunk a dozen times over. Three passes, each on a few read
// connections at once: the trace rows, the chunks, the traces' assembly.
func (s *SQLiteStore) tracesAt(ctx context.Context, refs []traceRef) ([]*Trace, error) {
	rows := make([]traceRow, len(refs))
	found := make([]bool, len(refs))
	at := make(map[int64][]int, len(refs)) // row → indexes in refs
	for i, r := range refs {
		at[r.row] = append(at[r.row], i)
	}
	// The rows in batches, each one query (a point lookup per trace cost
	// as much as decompressing its chunk).
	const perQuery = 500
	err := s.onReadConns(ctx, (len(refs)+perQuery-1)/perQuery, func(conn *stmtConn, b int) error {
		batch := refs[b*perQuery : min(len(refs), (b+1)*perQuery)]
		list := make([]byte, 0, 12*len(batch))
		list = append(list, '[')
		for k, r := range batch {
			if k > 0 {
				list = append(list, ',')
			}
			list = strconv.AppendInt(list, r.row, 10)
		}
		list = append(list, ']')
		rs, err := conn.QueryContext(ctx, sqlGetTraces, string(list))
		if err != nil {
			return fmt.Errorf("cannot read traces: %w", err)
		}
		defer rs.Close()
		for rs.Next() {
			r, err := scanTrace(rs, true)
			if err != nil {
				return fmt.Errorf("cannot read traces: %w", err)
			}
			// A ref whose trace differs from the row's was deleted by
			// retention since it was found: left out.
			for _, i := range at[r.sum.row] {
				if i/perQuery == b && refs[i].id == r.sum.TraceID {
					rows[i], found[i] = r, true
				}
			}
		}
		if err := rs.Err(); err != nil {
			return fmt.Errorf("cannot read traces: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}

	// wanted[cid] lists the traces (indexes into refs) with a part in
	// chunk cid; parts[i] collects trace i's parts, in chunk order.
	wanted := make(map[int64][]int)
	for i, r := range rows {
		if !found[i] {
			continue
		}
		err := forChunkIDs(r.chunk.Int64, r.moreChunks, func(cid int64) error {
			wanted[cid] = append(wanted[cid], i)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("cannot read trace %s: %w", refs[i].id, err)
		}
	}
	cids := slices.Sorted(maps.Keys(wanted))
	got := make([][]*decodedPart, len(cids)) // got[k][j]: the part of trace wanted[cids[k]][j]
	err = s.onReadConns(ctx, len(cids), func(conn *stmtConn, k int) error {
		cid := cids[k]
		var err error
		got[k], err = s.chunkPartsOf(ctx, conn, cid, refs, wanted[cid])
		return err
	})
	if err != nil {
		return nil, err
	}
	parts := make([][]*decodedPart, len(refs))
	for k, cid := range cids {
		for j, i := range wanted[cid] {
			if got[k] == nil {
				// The chunk was deleted by retention after the row was
				// read: so was the trace.
				found[i] = false
				continue
			}
			parts[i] = append(parts[i], got[k][j])
		}
	}

	out := make([]*Trace, len(refs))
	err = s.onReadConns(ctx, len(refs), func(conn *stmtConn, i int) error {
		if !found[i] {
			return nil
		}
		var err error
		out[i], err = s.assembleTrace(ctx, conn, rows[i], parts[i])
		return err
	})
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(out, func(t *Trace) bool { return t == nil }), nil
}

// chunkPartsOf decompresses chunk cid once and decodes the parts of the
// traces refs[i] for i in which, in that order (an empty part for a trace
// the chunk does not hold, as eachStoredPart); nil when retention deleted
// the chunk since its traces' rows were read.
func (s *SQLiteStore) chunkPartsOf(ctx context.Context, conn *stmtConn, cid int64, refs []traceRef, which []int) ([]*decodedPart, error) {
	var data []byte
	err := conn.QueryRowContext(ctx, sqlSelectChunk, cid).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("chunk %d: %w", cid, err)
	}
	out := make([]*decodedPart, len(which))
	left := len(which)
	var derr error
	err = s.dicts.chunkParts(ctx, conn, data, func(tid spans.TraceID, part encodedPart) bool {
		for j, i := range which {
			if out[j] == nil && refs[i].id == tid {
				out[j] = new(decodedPart)
				derr = decodePart(tid, part, false, out[j])
				left--
				break
			}
		}
		return derr == nil && left > 0
	})
	if err = errors.Join(err, derr); err != nil {
		return nil, fmt.Errorf("chunk %d: %w", cid, err)
	}
	for j := range out {
		if out[j] == nil {
			out[j] = new(decodedPart)
		}
	}
	return out, nil
}

// onReadConns calls fn(conn, i) for every i in [0, n), spread over up to
// DefaultReadConns read connections (no more than the CPUs); the first
// error stops the others.
func (s *SQLiteStore) onReadConns(ctx context.Context, n int, fn func(conn *stmtConn, i int) error) error {
	workers := min(runtime.GOMAXPROCS(0), DefaultReadConns, n)
	var next atomic.Int64
	var failed atomic.Bool
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := s.stmtConn(ctx)
			if err != nil {
				errs[w] = err
				failed.Store(true)
				return
			}
			defer conn.Close()
			for !failed.Load() && ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(conn, i); err != nil {
					errs[w] = err
					failed.Store(true)
					return
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(append(errs, ctx.Err())...)
}

// StageStats aggregates one stage over a window, from the rollups.
// Percentiles come from log-scale histograms (about ±2.2%).
type StageStats struct {
	Stage     spans.Stage   `json:"stage"`
	Count     int64         `json:"count"`
	Errors    int64         `json:"errors"`
	Total     time.Duration `json:"total"` // sum of durations
	Self      time.Duration `json:"self"`  // sum of self times
	P50       time.Duration `json:"p50"`
	P95       time.Duration `json:"p95"`
	P99       time.Duration `json:"p99"`
	SelfP50   time.Duration `json:"self_p50"`
	SelfP95   time.Duration `json:"self_p95"`
	SelfP99   time.Duration `json:"self_p99"`
	SelfShare float64       `json:"self_share"` // Self over the summed end-to-end durations of the traces
}

// seriesSteps cuts [from, to] into the steps of a time series, as every
// series (traces, stages, tokens; store or rollup of traces read) cuts it:
// steps of whole minutes (a shorter step is rounded up) from the first
// minute lo to the last hi, stepMin minutes each, n of them. what names
// the series in errors.
func seriesSteps(what string, from, to time.Time, step time.Duration) (lo, hi, stepMin, n int64, err error) {
	if from.IsZero() || to.IsZero() || to.Before(from) {
		return 0, 0, 0, 0, fmt.Errorf("%s needs from ≤ to, both set", what)
	}
	stepMin = max(int64((step+time.Minute-1)/time.Minute), 1)
	lo, hi = minuteRange(from, to)
	n = (hi-lo)/stepMin + 1
	if n > 100_000 {
		return 0, 0, 0, 0, fmt.Errorf("%s of %d steps is too long; use a larger step", what, n)
	}
	return lo, hi, stepMin, n, nil
}

func minuteRange(from, to time.Time) (int64, int64) {
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	if !from.IsZero() {
		lo = rollupMinute(from.UnixNano())
	}
	if !to.IsZero() {
		hi = rollupMinute(to.UnixNano())
	}
	return lo, hi
}

// StageBreakdown returns per-stage statistics of spans that started in
// [from, to] (whole minutes; zero times are open ends), for one run or, with
// runID "", all. Stages without spans are left out; the order is the
// pipeline order of spans.AllStages.
func (s *SQLiteStore) StageBreakdown(ctx context.Context, from, to time.Time, runID string) ([]StageStats, error) {
	lo, hi := minuteRange(from, to)
	var byStage [256]*rollupRow
	if err := s.readStageRollups(ctx, lo, hi, runID, func(int64) *[256]*rollupRow { return &byStage }); err != nil {
		return nil, err
	}
	return stageStats(&byStage), nil
}

// StageSeries is StageBreakdown (of every run) for each point of the
// Timeseries of the same window and step: element i covers point i's
// minutes. The rollups are read once, where a breakdown per step read them
// in as many queries (240 on a day's Overview).
func (s *SQLiteStore) StageSeries(ctx context.Context, from, to time.Time, step time.Duration) ([][]StageStats, error) {
	lo, hi, stepMin, n, err := seriesSteps("stage series", from, to, step)
	if err != nil {
		return nil, err
	}
	acc := make([][256]*rollupRow, n)
	err = s.readStageRollups(ctx, lo, hi, "", func(minute int64) *[256]*rollupRow { return &acc[(minute-lo)/stepMin] })
	if err != nil {
		return nil, err
	}
	out := make([][]StageStats, n)
	for i := range acc {
		out[i] = stageStats(&acc[i])
	}
	return out, nil
}

// readStageRollups adds the stage rollups of minutes [lo, hi] (of run
// runID, or all with "") to the accumulators slot gives for each minute.
func (s *SQLiteStore) readStageRollups(ctx context.Context, lo, hi int64, runID string, slot func(minute int64) *[256]*rollupRow) error {
	rows, err := s.db.QueryContext(ctx, sqlStageRollups, lo, hi, runID)
	if err != nil {
		return fmt.Errorf("cannot read stage rollups: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var minute, stage, count, errs, total, self int64
		var dh, sh []byte
		if err := rows.Scan(&minute, &stage, &count, &errs, &total, &self, &dh, &sh); err != nil {
			return fmt.Errorf("cannot read stage rollups: %w", err)
		}
		byStage := slot(minute)
		a := byStage[uint8(stage)]
		if a == nil {
			a = &rollupRow{}
			byStage[uint8(stage)] = a
		}
		a.count += count
		a.errors += errs
		a.total += total
		a.self += self
		if err := mergeHist(&a.dur, dh); err != nil {
			return err
		}
		if err := mergeHist(&a.selfHist, sh); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("cannot read stage rollups: %w", err)
	}
	return nil
}

// stageStats turns per-stage accumulators into the rows of a breakdown, in
// pipeline order.
func stageStats(byStage *[256]*rollupRow) []StageStats {
	var e2e float64
	if a := byStage[StageTrace]; a != nil {
		e2e = float64(a.total)
	}
	var out []StageStats
	for _, st := range spans.AllStages() {
		a := byStage[st]
		if a == nil || a.count == 0 {
			continue
		}
		ss := StageStats{Stage: st, Count: a.count, Errors: a.errors, Total: time.Duration(a.total), Self: time.Duration(a.self),
			P50: a.dur.quantile(0.50), P95: a.dur.quantile(0.95), P99: a.dur.quantile(0.99),
			SelfP50: a.selfHist.quantile(0.50), SelfP95: a.selfHist.quantile(0.95), SelfP99: a.selfHist.quantile(0.99)}
		if e2e > 0 {
			ss.SelfShare = float64(a.self) / e2e
		}
		out = append(out, ss)
	}
	return out
}

// Point is one step of a time series of whole traces.
type Point struct {
	Start      time.Time     `json:"start"`
	Traces     int64         `json:"traces"`
	Throughput float64       `json:"throughput"` // traces per second
	Errors     int64         `json:"errors"`     // traces whose root failed
	Drops      int64         `json:"drops"`      // spans and events dropped or refused
	P50        time.Duration `json:"p50"`
	P95        time.Duration `json:"p95"`
	P99        time.Duration `json:"p99"`
}

// Timeseries returns end-to-end latency percentiles, throughput, errors and
// drops per step over [from, to]. Steps are whole minutes (the rollup
// resolution): a shorter step is rounded up. Empty steps are included.
func (s *SQLiteStore) Timeseries(ctx context.Context, from, to time.Time, step time.Duration) ([]Point, error) {
	lo, hi, stepMin, n, err := seriesSteps("time series", from, to, step)
	if err != nil {
		return nil, err
	}
	pts := make([]Point, n)
	hists := make([]histogram, n)
	for i := range pts {
		pts[i].Start = time.Unix((lo+int64(i)*stepMin)*60, 0).UTC()
	}
	rows, err := s.db.QueryContext(ctx, sqlTraceRollups, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("cannot read trace rollups: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var minute, count, errs int64
		var dh []byte
		if err := rows.Scan(&minute, &count, &errs, &dh); err != nil {
			return nil, fmt.Errorf("cannot read trace rollups: %w", err)
		}
		i := (minute - lo) / stepMin
		pts[i].Traces += count
		pts[i].Errors += errs
		if err := mergeHist(&hists[i], dh); err != nil {
			return nil, err
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	drows, err := s.db.QueryContext(ctx, sqlDropsInRange, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("cannot read drops: %w", err)
	}
	defer drows.Close()
	for drows.Next() {
		var minute, d int64
		if err := drows.Scan(&minute, &d); err != nil {
			return nil, err
		}
		pts[(minute-lo)/stepMin].Drops += d
	}
	secs := float64(stepMin * 60)
	for i := range pts {
		pts[i].Throughput = float64(pts[i].Traces) / secs
		pts[i].P50, pts[i].P95, pts[i].P99 = hists[i].quantile(0.5), hists[i].quantile(0.95), hists[i].quantile(0.99)
	}
	return pts, drows.Err()
}

// The read queries, loaded once from sql/.
var (
	sqlGetTrace    = mustSQL("get_trace.sql")
	sqlGetTraces   = mustSQL("get_traces.sql")
	sqlSelectChunk = mustSQL("select_chunk.sql")
	// Chunk dictionaries (chunkdict.go).
	sqlLatestChunkDict = mustSQL("latest_chunk_dict.sql")
	sqlSelectChunkDict = mustSQL("select_chunk_dict.sql")
	sqlSelectChunkRun  = mustSQL("select_chunk_run.sql")
	sqlSpansInRange    = mustSQL("spans_in_range.sql")
	sqlEventsInRange   = mustSQL("events_in_range.sql")
	sqlStageRollups    = mustSQL("stage_rollups.sql")
	sqlTraceRollups    = mustSQL("trace_rollups.sql")
	sqlDropsInRange    = mustSQL("drops_in_range.sql")
)
