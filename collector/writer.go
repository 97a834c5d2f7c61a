package collector

import (
	"bytes"
	"database/sql/driver"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"

	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/spans"
)

// DefaultChildIndexLimit bounds how many parents' child intervals the writer
// remembers for self-time computation.
const DefaultChildIndexLimit = 1 << 18

// DefaultWrittenIndexLimit is the number of slots (136 bytes each, 4.4 MiB in
// all, allocated on first use) of the table of recently committed spans that
// lets a child arriving after its parent still be subtracted from the
// parent's self time.
const DefaultWrittenIndexLimit = 1 << 15

// batch is what the writer commits in one transaction.
type batch struct {
	spans  []*spans.Span
	events []*event.Record
	drops  dropCounts
	// ingested is set when some of the spans came through Ingest (OTLP):
	// only then can a child arrive after its parent, so only then does the
	// writer pay for remembering committed spans.
	ingested bool
}

type dropCounts struct{ spans, events, refused int64 }

func (d dropCounts) zero() bool { return d == dropCounts{} }

// traceAgg is what one batch contributes to a trace's summary row.
type traceAgg struct {
	id                     spans.TraceID
	start, end             int64
	hasRoot                bool
	rootName               string
	rootStatus             spans.Status
	service, run           string
	spanFirst, spanCount   int64
	eventFirst, eventCount int64
	errors, stages         int64
}

// batchWriter turns batches into rows. It is used by one goroutine at a
// time (the collector's writer, or GenerateSynthetic) and keeps reusable
// buffers and the child index for self times.
type batchWriter struct {
	store    *SQLiteStore
	service  string
	children *childIndex
	written  *writtenIndex
	// With lateChildren (WithLateChildren), trackLate is set from the first
	// batch with ingested spans on: from then on committed spans are
	// remembered for late children.
	lateChildren, trackLate bool
	late                    []lateChild
	kidsOf                  [][]interval
	kidScratch              []interval

	selfs      []int64
	aggs       []traceAgg
	args       []driver.NamedValue
	body       []byte
	parts      []byte
	touched    []rollupKey
	touchedSet map[rollupKey]struct{}

	batchSpans  []*spans.Span
	batchEvents []*event.Record
}

func newBatchWriter(s *SQLiteStore, service string, lateChildren bool) *batchWriter {
	return &batchWriter{store: s, service: service, lateChildren: lateChildren, children: newChildIndex(DefaultChildIndexLimit), written: newWrittenIndex(DefaultWrittenIndexLimit), touchedSet: map[rollupKey]struct{}{}}
}

func compareTrace(a, b spans.TraceID) int { return bytes.Compare(a[:], b[:]) }

// write commits b: spans and events appended, trace rows upserted, rollups
// and drop counters updated, all in one transaction.
func (w *batchWriter) write(b *batch) error {
	if len(b.spans) == 0 && len(b.events) == 0 && b.drops.zero() {
		return nil
	}
	// Sorting by trace makes each trace's spans a contiguous id range.
	slices.SortStableFunc(b.spans, func(x, y *spans.Span) int { return compareTrace(x.TraceID, y.TraceID) })
	slices.SortStableFunc(b.events, func(x, y *event.Record) int { return compareTrace(x.TraceID, y.TraceID) })

	w.late = w.late[:0]
	w.trackLate = w.lateChildren && (w.trackLate || b.ingested)
	for _, sp := range b.spans {
		if !sp.ParentID.IsZero() {
			pk, iv := spanKey{sp.TraceID, sp.ParentID}, interval{nanos(sp.Start), nanos(sp.End)}
			if w.trackLate && w.written.has(pk) {
				w.late = append(w.late, lateChild{pk, iv})
			} else {
				w.children.add(pk, iv)
			}
		}
	}
	w.selfs, w.kidsOf = w.selfs[:0], w.kidsOf[:0]
	for _, sp := range b.spans {
		kids := w.children.take(spanKey{sp.TraceID, sp.SpanID})
		w.selfs = append(w.selfs, selfTime(nanos(sp.Start), nanos(sp.End), kids))
		w.kidsOf = append(w.kidsOf, kids)
	}

	s := w.store
	return s.rawWrite(func(c *sqlite3.SQLiteConn, st *writeStmts) error {
		if err := execConn(c, "BEGIN IMMEDIATE"); err != nil {
			return fmt.Errorf("cannot begin batch: %w", err)
		}
		spanID, eventID := s.nextSpanID, s.nextEventID
		failed := func() {
			_ = execConn(c, "ROLLBACK")
			// Forget what the rolled-back transaction made wrong. The ids
			// are restored from memory: querying them here, through the
			// connection this callback holds, would deadlock.
			clear(s.rollups)
			s.nextSpanID, s.nextEventID = spanID, eventID
			w.written.reset()
		}
		if err := w.insert(st, b); err != nil {
			failed()
			return err
		}
		if err := execConn(c, "COMMIT"); err != nil {
			failed()
			return fmt.Errorf("cannot commit batch: %w", err)
		}
		return nil
	})
}

func nv(args []driver.NamedValue, vals ...any) []driver.NamedValue {
	args = args[:0]
	for i, v := range vals {
		args = append(args, driver.NamedValue{Ordinal: i + 1, Value: v})
	}
	return args
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// runOf returns the span's run id: the attribute, else the tag.
func runOf(attrs []spans.Attribute, tags []spans.Tag) string {
	for i := len(attrs) - 1; i >= 0; i-- {
		if attrs[i].Key == spans.KeyRunID {
			return attrs[i].Value.Emit()
		}
	}
	for i := len(tags) - 1; i >= 0; i-- {
		if tags[i].Key == spans.KeyRunID {
			return tags[i].Value
		}
	}
	return ""
}

func (w *batchWriter) serviceOf(sp *spans.Span) string {
	if v, ok := sp.Attr(spans.KeyService); ok {
		return v.AsString()
	}
	return w.service
}

func (w *batchWriter) insert(st *writeStmts, b *batch) error {
	s := w.store
	if len(s.rollups) > rollupCacheLimit {
		clear(s.rollups)
	}
	w.aggs = w.aggs[:0]
	clear(w.touchedSet)
	w.touched = w.touched[:0]
	var agg *traceAgg
	for i, sp := range b.spans {
		id := s.nextSpanID
		s.nextSpanID++
		start, end := nanos(sp.Start), nanos(sp.End)
		var parent any
		if !sp.ParentID.IsZero() {
			parent = sp.ParentID[:]
		}
		service := w.serviceOf(sp)
		w.body = appendSpanBody(w.body[:0], sp)
		w.args = nv(w.args, id, sp.TraceID[:], sp.SpanID[:], parent, sp.Name, int64(sp.Stage), start, end, int64(sp.Status), nullString(service), nullBytes(w.body))
		if err := execStmt(st.insertSpan, w.args); err != nil {
			return fmt.Errorf("cannot insert span %s/%s: %w", sp.TraceID, sp.SpanID, err)
		}

		if agg == nil || agg.id != sp.TraceID {
			w.aggs = append(w.aggs, traceAgg{id: sp.TraceID, start: start, end: end, spanFirst: id})
			agg = &w.aggs[len(w.aggs)-1]
		}
		agg.spanCount++
		agg.start, agg.end = min(agg.start, start), max(agg.end, end)
		if agg.service == "" {
			agg.service = service
		}
		run := runOf(sp.Attrs, sp.Tags)
		if agg.run == "" {
			agg.run = run
		}
		failed := sp.Status == spans.StatusError
		if failed {
			agg.errors++
		}
		agg.stages |= 1 << (sp.Stage & 63)
		if sp.IsRoot() {
			agg.hasRoot, agg.rootName, agg.rootStatus = true, sp.Name, sp.Status
		}

		dur := max(end-start, 0)
		minute := rollupMinute(start)
		rk := rollupKey{minute, run, stageOf(sp.Stage)}
		if err := w.addRollup(st, rk, dur, w.selfs[i], failed); err != nil {
			return err
		}
		if w.trackLate {
			w.written.remember(spanKey{sp.TraceID, sp.SpanID}, rk, start, end, w.selfs[i], w.kidsOf[i])
		}
		if sp.IsRoot() {
			if err := w.addRollup(st, rollupKey{minute, run, StageTrace}, dur, dur, failed); err != nil {
				return err
			}
		}
	}

	// Children whose parent an earlier batch committed: take them out of
	// the parent's self time now.
	for _, lc := range w.late {
		ws, ok := w.written.get(lc.parent)
		if !ok || ws.nparts == untracked {
			continue
		}
		kids := append(append(w.kidScratch[:0], ws.parts[:ws.nparts]...), lc.iv)
		w.kidScratch = kids
		self := selfTime(ws.start, ws.end, kids)
		ws.parts, ws.nparts = coverage(ws.start, ws.end, kids)
		if self != ws.self {
			rk := w.written.rollupKey(ws)
			r, err := s.rollupFor(st, rk, w.args)
			if err != nil {
				return fmt.Errorf("cannot read rollup: %w", err)
			}
			r.adjustSelf(ws.self, self)
			w.touch(rk)
			ws.self = self
		}
		w.written.put(lc.parent, ws)
	}

	// Events: appended, then attached to their trace's aggregate.
	nSpanAggs := len(w.aggs)
	j := 0
	for _, e := range b.events {
		id := s.nextEventID
		s.nextEventID++
		t := nanos(e.Time)
		w.body = appendEventBody(w.body[:0], e)
		w.args = nv(w.args, id, e.TraceID[:], e.SpanID[:], t, e.Name, int64(e.Stage), nullBytes(w.body))
		if err := execStmt(st.insertEvent, w.args); err != nil {
			return fmt.Errorf("cannot insert event %q: %w", e.Name, err)
		}
		if e.TraceID.IsZero() {
			continue
		}
		// Both lists are sorted by trace: advance through the span aggregates.
		for j < nSpanAggs && compareTrace(w.aggs[j].id, e.TraceID) < 0 {
			j++
		}
		var a *traceAgg
		switch {
		case j < nSpanAggs && w.aggs[j].id == e.TraceID:
			a = &w.aggs[j]
		case len(w.aggs) > nSpanAggs && w.aggs[len(w.aggs)-1].id == e.TraceID:
			a = &w.aggs[len(w.aggs)-1]
		default:
			w.aggs = append(w.aggs, traceAgg{id: e.TraceID, start: t, end: t})
			a = &w.aggs[len(w.aggs)-1]
		}
		if a.eventCount == 0 {
			a.eventFirst = id
		}
		a.eventCount++
		if a.spanCount == 0 {
			a.start, a.end = min(a.start, t), max(a.end, t)
		}
	}

	for i := range w.aggs {
		a := &w.aggs[i]
		var rootName, rootStatus any
		if a.hasRoot {
			rootName, rootStatus = a.rootName, int64(a.rootStatus)
		}
		var spanParts, eventParts any
		w.parts = w.parts[:0]
		if a.spanCount > 0 {
			w.parts = binary.AppendUvarint(w.parts, uint64(a.spanFirst))
			w.parts = binary.AppendUvarint(w.parts, uint64(a.spanCount))
			spanParts = w.parts
		}
		n := len(w.parts)
		if a.eventCount > 0 {
			w.parts = binary.AppendUvarint(w.parts, uint64(a.eventFirst))
			w.parts = binary.AppendUvarint(w.parts, uint64(a.eventCount))
			eventParts = w.parts[n:]
			if spanParts != nil {
				spanParts = w.parts[:n]
			}
		}
		w.args = nv(w.args, a.id[:], a.start, a.end, rootName, rootStatus, nullString(a.service), a.spanCount, a.errors, a.stages, nullString(a.run), spanParts, eventParts)
		if err := execStmt(st.upsertTrace, w.args); err != nil {
			return fmt.Errorf("cannot update trace %s: %w", a.id, err)
		}
	}

	for _, k := range w.touched {
		r := s.rollups[k]
		w.body = appendHist(w.body[:0], &r.dur)
		n := len(w.body)
		w.body = appendHist(w.body, &r.selfHist)
		w.args = nv(w.args, k.minute, k.run, int64(k.stage), r.count, r.errors, r.total, r.self, w.body[:n], w.body[n:])
		if err := execStmt(st.upsertRollup, w.args); err != nil {
			return fmt.Errorf("cannot update rollup: %w", err)
		}
	}

	if !b.drops.zero() {
		w.args = nv(w.args, rollupMinute(time.Now().UnixNano()), b.drops.spans, b.drops.events, b.drops.refused)
		if err := execStmt(st.addDrops, w.args); err != nil {
			return fmt.Errorf("cannot count drops: %w", err)
		}
	}
	return nil
}

func (w *batchWriter) addRollup(st *writeStmts, k rollupKey, dur, self int64, failed bool) error {
	r, err := w.store.rollupFor(st, k, w.args)
	if err != nil {
		return fmt.Errorf("cannot read rollup: %w", err)
	}
	r.add(dur, self, failed)
	w.touch(k)
	return nil
}

// touch marks rollup row k to be written at the end of the batch.
func (w *batchWriter) touch(k rollupKey) {
	if _, ok := w.touchedSet[k]; !ok {
		w.touchedSet[k] = struct{}{}
		w.touched = append(w.touched, k)
	}
}
