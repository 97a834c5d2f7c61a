package collector

import (
	"bytes"
	"database/sql/driver"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/zstd"
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
	id             spans.TraceID
	start, end     int64
	hasRoot        bool
	rootName       string
	rootStatus     spans.Status
	service, run   string
	spanCount      int64
	errors, stages int64
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
	// tokenKids and toks: which spans count their tokens (tokens.go).
	tokenKids  *tokenSet
	toks       []spanTokens
	owners     ownerScratch
	kidScratch []interval

	// duplicates counts spans dropped because their (trace id, span id) was
	// already stored or already in the batch (a retried delivery).
	duplicates atomic.Uint64

	selfs      []int64
	aggs       []traceAgg
	args       []driver.NamedValue
	body       []byte
	parts      []byte
	touched    []rollupKey
	touchedSet map[rollupKey]struct{}

	// What a batch keeps once duplicates are out, and the scratch of the
	// duplicate checks.
	keptSpans  []*spans.Span
	keptEvents []*event.Record
	groupSpans []*spans.Span
	groupEvs   []*event.Record
	stored     []spans.SpanID
	order      []int
	dupOf      map[spans.SpanID]dupCopies

	// Resources of the batch by pointer (spans of one OTLP ResourceSpans
	// share it), so each is encoded and looked up once per batch.
	resOfBatch map[*spans.Resource]int64
	lastRes    *spans.Resource
	lastResID  int64
	resBuf     []byte

	batchSpans  []*spans.Span
	batchEvents []*event.Record

	// The chunk being filled, the resources of a part's spans, and what a
	// committed batch adds to the store's trace index.
	chunk        chunkBuilder
	rids         []int64
	newIDs       []spans.TraceID
	newRows      []int64
	sealing      *traceBlock
	blockScratch []int64
	vals         [3]driver.Value
	jobs         []*chunkJob
	incoming     []spans.SpanID
	rawFree      [][]byte
	compressing  sync.WaitGroup
	// dict is the dictionary small chunks are compressed with
	// (chunkdict.go); keys is false while writing a batch without ingested
	// spans, whose chunks need no span keys.
	dict dictWriter
	keys bool
}

// dupCopies describes a span of which the batch held more than one copy or
// that was already stored.
type dupCopies struct {
	copies int  // copies in the batch, the kept one included
	stored bool // an earlier batch stored it: every copy here is a duplicate
}

func newBatchWriter(s *SQLiteStore, service string, lateChildren bool) *batchWriter {
	return &batchWriter{store: s, service: service, lateChildren: lateChildren, children: newChildIndex(DefaultChildIndexLimit), written: newWrittenIndex(DefaultWrittenIndexLimit),
		tokenKids: newTokenSet(DefaultChildIndexLimit), touchedSet: map[rollupKey]struct{}{}, resOfBatch: map[*spans.Resource]int64{}}
}

func compareTrace(a, b spans.TraceID) int { return bytes.Compare(a[:], b[:]) }

// write commits b: spans and events appended, trace rows upserted, rollups
// and drop counters updated, all in one transaction.
//
// A span is stored once per (trace id, span id) whatever the number of
// deliveries: OTLP exporters retry on timeouts, so a batch with ingested
// spans is checked for copies of one span within it and for spans an earlier
// batch stored. Duplicates are dropped before anything is written — rows,
// trace summaries, rollups, child intervals — and counted in duplicates; the
// events of a dropped copy go with it. The check against the store costs
// nothing for a trace seen for the first time (insert_new_trace.sql inserts
// its row or tells that it exists); only a later part of a known trace reads
// the span ids of its earlier parts. On success b.spans and b.events hold
// what was written.
func (w *batchWriter) write(b *batch) error {
	if len(b.spans) == 0 && len(b.events) == 0 && b.drops.zero() {
		return nil
	}
	// Sorting by trace makes each trace's spans a contiguous id range.
	slices.SortStableFunc(b.spans, func(x, y *spans.Span) int { return compareTrace(x.TraceID, y.TraceID) })
	slices.SortStableFunc(b.events, func(x, y *event.Record) int { return compareTrace(x.TraceID, y.TraceID) })
	w.trackLate = w.lateChildren && (w.trackLate || b.ingested)

	s := w.store
	var dups int
	w.newIDs, w.newRows, w.sealing = w.newIDs[:0], w.newRows[:0], nil
	w.loadDict()
	// Span keys serve the duplicate check of a later ingested part of a
	// trace; a chunk without them is decompressed by that check instead.
	// Only ingested spans are retried and split across requests.
	w.keys = b.ingested
	err := s.rawWrite(func(c *sqlite3.SQLiteConn, st *writeStmts) error {
		if err := execConn(c, "BEGIN IMMEDIATE"); err != nil {
			return fmt.Errorf("cannot begin batch: %w", err)
		}
		traceRow, chunkID := s.nextTraceRow, s.nextChunkID
		failed := func() {
			_ = execConn(c, "ROLLBACK")
			// Forget what the rolled-back transaction made wrong. The ids
			// are restored from memory: querying them here, through the
			// connection this callback holds, would deadlock.
			clear(s.rollups)
			clear(s.resourceIDs)
			s.nextTraceRow, s.nextChunkID = traceRow, chunkID
			w.chunk.reset()
			w.compressing.Wait()
			clear(w.jobs)
			w.jobs = w.jobs[:0]
			w.written.reset()
			w.dict.rollback()
		}
		var err error
		if dups, err = w.insert(st, b); err != nil {
			failed()
			return err
		}
		if err := execConn(c, "COMMIT"); err != nil {
			failed()
			return fmt.Errorf("cannot commit batch: %w", err)
		}
		if w.sealing != nil {
			s.index.sealed(*w.sealing)
		}
		w.dict.committed(&s.dicts)
		s.index.added(w.newIDs, w.newRows)
		return nil
	})
	clear(w.resOfBatch)
	w.lastRes = nil
	if err == nil && dups > 0 {
		// Report what was written; clear the tails so the batch's buffers
		// do not keep dropped copies alive.
		n, m := copy(b.spans, w.keptSpans), copy(b.events, w.keptEvents)
		clear(b.spans[n:])
		clear(b.events[m:])
		b.spans, b.events = b.spans[:n], b.events[:m]
		w.duplicates.Add(uint64(dups))
	}
	clear(w.keptSpans)
	clear(w.keptEvents)
	clear(w.groupSpans[:cap(w.groupSpans)])
	clear(w.groupEvs[:cap(w.groupEvs)])
	return err
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

// serviceOf is the span's service column: its resource's service.name,
// else its own service.name attribute, else the collector's service.
func (w *batchWriter) serviceOf(sp *spans.Span) string {
	if name := sp.Service(); name != "" {
		return name
	}
	return w.service
}

// insert writes b inside the open transaction, one trace at a time (spans
// and events are sorted by trace), and returns how many spans it dropped as
// duplicates. What it keeps is in keptSpans and keptEvents.
func (w *batchWriter) insert(st *writeStmts, b *batch) (dups int, err error) {
	s := w.store
	if len(s.rollups) > rollupCacheLimit {
		clear(s.rollups)
	}
	clear(w.touchedSet)
	w.touched = w.touched[:0]
	w.late = w.late[:0]
	w.keptSpans, w.keptEvents = w.keptSpans[:0], w.keptEvents[:0]
	if s.index.headSize() >= s.blockTraces {
		if err := w.seal(st); err != nil {
			return 0, err
		}
	}
	ss, es := b.spans, b.events
	for len(ss) > 0 || len(es) > 0 {
		var tid spans.TraceID
		switch {
		case len(es) == 0 || len(ss) > 0 && compareTrace(ss[0].TraceID, es[0].TraceID) <= 0:
			tid = ss[0].TraceID
		default:
			tid = es[0].TraceID
		}
		n, m := 0, 0
		for n < len(ss) && ss[n].TraceID == tid {
			n++
		}
		for m < len(es) && es[m].TraceID == tid {
			m++
		}
		d, err := w.insertTrace(st, tid, ss[:n], es[:m], b.ingested)
		if err != nil {
			return dups, err
		}
		dups += d
		ss, es = ss[n:], es[m:]
	}
	w.flushChunk()
	if err := w.insertChunks(st); err != nil {
		return dups, err
	}

	// Children whose parent an earlier batch committed: take them out of
	// the parent's self time now.
	for _, lc := range w.late {
		ws, ok := w.written.get(lc.parent)
		if !ok || ws.nparts == untracked {
			continue
		}
		kids := w.written.coveredWith(lc.parent, ws, w.kidScratch[:0], lc.iv)
		w.kidScratch = kids
		self := selfTime(ws.start, ws.end, kids)
		ws.parts, ws.nparts = coverage(ws.start, ws.end, kids)
		if self != ws.self {
			rk := w.written.rollupKey(ws)
			r, err := s.rollupFor(st, rk, w.args)
			if err != nil {
				return dups, fmt.Errorf("cannot read rollup: %w", err)
			}
			r.adjustSelf(ws.self, self)
			w.touch(rk)
			ws.self = self
		}
		w.written.put(lc.parent, ws)
	}

	for _, k := range w.touched {
		r := s.rollups[k]
		w.body = appendHist(w.body[:0], &r.dur)
		n := len(w.body)
		w.body = appendHist(w.body, &r.selfHist)
		w.args = nv(w.args, k.minute, k.run, int64(k.stage), r.count, r.errors, r.total, r.self, w.body[:n], w.body[n:])
		if err := execStmt(st.upsertRollup, w.args); err != nil {
			return dups, fmt.Errorf("cannot update rollup: %w", err)
		}
		if err := r.writeTokens(st, k, w.args); err != nil {
			return dups, fmt.Errorf("cannot update token rollup: %w", err)
		}
	}

	if !b.drops.zero() {
		w.args = nv(w.args, rollupMinute(time.Now().UnixNano()), b.drops.spans, b.drops.events, b.drops.refused)
		if err := execStmt(st.addDrops, w.args); err != nil {
			return dups, fmt.Errorf("cannot count drops: %w", err)
		}
	}
	return dups, nil
}

// insertTrace writes the spans gs and events ge of trace tid as one part of
// the open chunk (events with a zero trace id go there without a trace
// row), creates or updates the trace's row, and returns how many spans it
// dropped as duplicates. With ingested, copies of one span within gs and
// spans already stored are dropped first.
func (w *batchWriter) insertTrace(st *writeStmts, tid spans.TraceID, gs []*spans.Span, ge []*event.Record, ingested bool) (dups int, err error) {
	s := w.store
	if ingested && len(gs) > 0 {
		// Work on copies: the batch must stay whole if the transaction fails.
		gs = append(w.groupSpans[:0], gs...)
		ge = append(w.groupEvs[:0], ge...)
		w.groupSpans, w.groupEvs = gs, ge
		clear(w.dupOf)
		gs = w.dropRepeats(gs)
		dups = len(w.groupSpans) - len(gs)
		if dups > 0 {
			ge = w.dropEventsOfCopies(ge)
		}
	}
	var row int64
	if !tid.IsZero() && (len(gs) > 0 || len(ge) > 0) {
		if row, err = w.findRow(st, tid); err != nil {
			return dups, err
		}
	}
	if row != 0 && ingested && len(gs) > 0 {
		// A later part of a stored trace: drop what is stored already.
		n := len(gs)
		var found bool
		if gs, found, err = w.dropStored(st, row, tid, gs); err != nil {
			return dups, err
		}
		if !found {
			row = 0 // deleted by retention since: store it anew
		}
		if len(gs) < n {
			dups += n - len(gs)
			ge = w.dropEventsOfStored(ge)
		}
	}
	if len(gs) == 0 && len(ge) == 0 {
		return dups, nil
	}

	chunkID := s.nextChunkID
	w.rids = w.rids[:0]
	for _, sp := range gs {
		rid, err := w.resourceID(st, sp.Resource)
		if err != nil {
			return dups, err
		}
		w.rids = append(w.rids, rid)
	}
	w.body = w.chunk.add(tid, gs, w.rids, ge, w.body)

	if agg := w.aggregate(tid, gs, ge); agg != nil {
		if row != 0 {
			w.traceArgs(agg, row, chunkID)
			res, err := st.updateTrace.(driver.StmtExecContext).ExecContext(bg, w.args)
			if err != nil {
				return dups, fmt.Errorf("cannot update trace %s: %w", tid, err)
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				row = 0 // deleted by retention since: store it anew
			}
		}
		if row == 0 {
			row = s.nextTraceRow
			w.traceArgs(agg, row, chunkID)
			if err := execStmt(st.insertTrace, w.args[:12]); err != nil {
				return dups, fmt.Errorf("cannot insert trace %s: %w", tid, err)
			}
			s.nextTraceRow++
			w.newIDs = append(w.newIDs, tid)
			w.newRows = append(w.newRows, row)
		}
	}
	if len(w.chunk.raw) >= chunkTargetBytes {
		w.flushChunk()
	}

	// Self times: children of this trace's spans are in this trace.
	for _, sp := range gs {
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
	for _, sp := range gs {
		kids := w.children.take(spanKey{sp.TraceID, sp.SpanID})
		w.selfs = append(w.selfs, selfTime(nanos(sp.Start), nanos(sp.End), kids))
		w.kidsOf = append(w.kidsOf, kids)
	}

	owned := w.tokenOwners(gs)
	for i, sp := range gs {
		start, end := nanos(sp.Start), nanos(sp.End)
		run := runOf(sp.Attrs, sp.Tags)
		failed := sp.Status == spans.StatusError
		dur := max(end-start, 0)
		minute := rollupMinute(start)
		rk := rollupKey{minute, run, stageOf(sp.Stage)}
		r, err := w.addRollup(st, rk, dur, w.selfs[i], failed)
		if err != nil {
			return dups, err
		}
		if owned != nil && owned[i] {
			r.addTokens(w.toks[i])
		}
		if w.trackLate {
			w.written.remember(spanKey{sp.TraceID, sp.SpanID}, rk, start, end, w.selfs[i], w.kidsOf[i])
		}
		if sp.IsRoot() {
			if _, err := w.addRollup(st, rollupKey{minute, run, StageTrace}, dur, dur, failed); err != nil {
				return dups, err
			}
		}
	}
	w.keptSpans = append(w.keptSpans, gs...)
	w.keptEvents = append(w.keptEvents, ge...)
	return dups, nil
}

// seal writes the head block's trace ids, sorted, to trace_ids and its
// Bloom filter to trace_blocks; the index moves the head into the block
// once the batch commits.
func (w *batchWriter) seal(st *writeStmts) error {
	entries, b := w.store.index.headEntries()
	for _, e := range entries {
		if err := execStmt(st.insertTraceID, nv(w.args, b.id, e.id[:], e.row)); err != nil {
			return fmt.Errorf("cannot seal trace block %d: %w", b.id, err)
		}
	}
	if err := execStmt(st.insertBlock, nv(w.args, b.id, b.first, b.last, b.filter.bytes())); err != nil {
		return fmt.Errorf("cannot seal trace block %d: %w", b.id, err)
	}
	w.sealing = &b
	return nil
}

// flushChunk hands the open chunk to a goroutine that compresses it, so
// that compression (a third of the writer's work) runs beside the writer;
// insertChunks waits for them and inserts the chunks in id order. A small
// chunk is compressed with the dictionary, unless the run of the next one
// is being collected (chunkdict.go).
func (w *batchWriter) flushChunk() {
	if w.chunk.empty() {
		return
	}
	s := w.store
	var spare []byte
	if n := len(w.rawFree); n > 0 {
		spare, w.rawFree = w.rawFree[n-1], w.rawFree[:n-1]
	}
	j := &chunkJob{id: s.nextChunkID}
	j.raw, j.parts, j.keys = w.chunk.take(spare, nil)
	if !w.keys {
		j.keys = nil
	}
	s.nextChunkID++
	// The whole of a small batch: low-rate traffic, where each chunk has
	// too few traces to compress well and CPU is to spare.
	j.small = len(w.jobs) == 0 && len(j.raw) < dictSmallBytes
	d := &w.dict
	switch {
	case d.collecting:
		if d.first == 0 {
			d.first = j.id
		}
		j.collect = true
	case d.enc != nil && j.small:
		j.dict, j.enc = d.id, d.enc
		d.used += int64(len(j.raw))
		if d.used >= dictRenewBytes {
			d.collecting, d.first = true, 0
		}
	}
	w.jobs = append(w.jobs, j)
	w.compressing.Add(1)
	go func() {
		defer w.compressing.Done()
		switch {
		case j.enc != nil:
			j.data = compressChunkDict(nil, j.raw, j.parts, j.dict, j.enc)
		case j.small:
			j.data = compressSmallChunk(nil, j.raw, j.parts)
		default:
			j.data = compressChunk(nil, j.raw, j.parts)
		}
	}()
}

// chunkJob is a chunk being compressed.
type chunkJob struct {
	id    int64
	raw   []byte
	parts int
	keys  []byte
	data  []byte
	// collect: the chunk belongs to the run of the next dictionary.
	collect bool
	// small: the chunk is the whole of a small batch.
	small bool
	// dict and enc: the dictionary it is compressed with (0, nil: none).
	dict int64
	enc  *zstd.Encoder
}

// insertChunks waits for the compressions started by flushChunk and
// inserts their chunks.
func (w *batchWriter) insertChunks(st *writeStmts) error {
	w.compressing.Wait()
	defer func() {
		for _, j := range w.jobs {
			w.rawFree = append(w.rawFree, j.raw)
		}
		clear(w.jobs)
		w.jobs = w.jobs[:0]
	}()
	var last int64
	for _, j := range w.jobs {
		w.args = nv(w.args, j.id, j.data, nullBytes(j.keys))
		if err := execStmt(st.insertChunk, w.args); err != nil {
			return fmt.Errorf("cannot insert chunk %d: %w", j.id, err)
		}
		if j.collect {
			w.dict.collect(chunkFrameSource(j.raw, j.parts))
			last = j.id
		}
	}
	if last != 0 && w.dict.full() {
		return w.recordDict(st, last)
	}
	return nil
}

// findRow returns the traces row of trace tid, 0 when it has none.
func (w *batchWriter) findRow(st *writeStmts, tid spans.TraceID) (int64, error) {
	row, blocks := w.store.index.candidates(tid, w.blockScratch[:0])
	w.blockScratch = blocks
	if row != 0 {
		return row, nil
	}
	vals := w.vals[:1]
	for _, b := range blocks {
		rows, err := st.traceInBlock.(driver.StmtQueryContext).QueryContext(bg, nv(w.args, b, tid[:]))
		if err != nil {
			return 0, fmt.Errorf("cannot look up trace %s: %w", tid, err)
		}
		err = rows.Next(vals)
		rows.Close()
		switch err {
		case nil:
			return vals[0].(int64), nil
		case io.EOF:
		default:
			return 0, fmt.Errorf("cannot look up trace %s: %w", tid, err)
		}
	}
	return 0, nil
}

// aggregate returns what spans gs and events ge of trace tid add to the
// trace's row, or nil when there is no row to write.
func (w *batchWriter) aggregate(tid spans.TraceID, gs []*spans.Span, ge []*event.Record) *traceAgg {
	if tid.IsZero() {
		return nil // events outside any trace have no trace row
	}
	if len(gs) == 0 && len(ge) == 0 {
		return nil
	}
	w.aggs = append(w.aggs[:0], traceAgg{id: tid})
	a := &w.aggs[0]
	if len(gs) > 0 {
		a.spanCount = int64(len(gs))
		a.start, a.end = nanos(gs[0].Start), nanos(gs[0].End)
	} else {
		a.start, a.end = nanos(ge[0].Time), nanos(ge[0].Time)
	}
	for _, sp := range gs {
		a.start, a.end = min(a.start, nanos(sp.Start)), max(a.end, nanos(sp.End))
		if a.service == "" {
			a.service = w.serviceOf(sp)
		}
		if a.run == "" {
			a.run = runOf(sp.Attrs, sp.Tags)
		}
		if sp.Status == spans.StatusError {
			a.errors++
		}
		a.stages |= 1 << (sp.Stage & 63)
		if sp.IsRoot() {
			a.hasRoot, a.rootName, a.rootStatus = true, sp.Name, sp.Status
		}
	}
	if len(gs) == 0 {
		for _, e := range ge {
			t := nanos(e.Time)
			a.start, a.end = min(a.start, t), max(a.end, t)
		}
	}
	return a
}

// traceArgs binds a's row to w.args: the parameters of update_trace.sql,
// whose first twelve are those of insert_trace.sql.
func (w *batchWriter) traceArgs(a *traceAgg, row, chunk int64) {
	var rootName, rootStatus any
	if a.hasRoot {
		rootName, rootStatus = a.rootName, int64(a.rootStatus)
	}
	w.parts = binary.AppendUvarint(w.parts[:0], uint64(chunk))
	w.args = nv(w.args, row, a.id[:], a.start, a.end, rootName, rootStatus, nullString(a.service), a.spanCount, a.errors, a.stages, nullString(a.run), chunk, w.parts)
}

// resourceID returns the resources row of r (0 for nil), interning it.
func (w *batchWriter) resourceID(st *writeStmts, r *spans.Resource) (int64, error) {
	if r == nil {
		return 0, nil
	}
	if r == w.lastRes {
		return w.lastResID, nil
	}
	id, ok := w.resOfBatch[r]
	if !ok {
		w.resBuf = appendAttrs(w.resBuf[:0], r.Attrs)
		var err error
		if id, err = w.store.internResource(st, w.resBuf, w.args); err != nil {
			return 0, err
		}
		w.resOfBatch[r] = id
	}
	w.lastRes, w.lastResID = r, id
	return id, nil
}

func (w *batchWriter) addRollup(st *writeStmts, k rollupKey, dur, self int64, failed bool) (*rollupRow, error) {
	r, err := w.store.rollupFor(st, k, w.args)
	if err != nil {
		return nil, fmt.Errorf("cannot read rollup: %w", err)
	}
	r.add(dur, self, failed)
	w.touch(k)
	return r, nil
}

// touch marks rollup row k to be written at the end of the batch.
func (w *batchWriter) touch(k rollupKey) {
	if _, ok := w.touchedSet[k]; !ok {
		w.touchedSet[k] = struct{}{}
		w.touched = append(w.touched, k)
	}
}

// dropRepeats keeps the first copy of each span id in gs (one trace), in
// order, and notes the copies in dupOf.
func (w *batchWriter) dropRepeats(gs []*spans.Span) []*spans.Span {
	if len(gs) < 2 {
		return gs
	}
	if len(gs) <= 16 {
		out := gs[:1]
		for _, sp := range gs[1:] {
			if slices.ContainsFunc(out, func(k *spans.Span) bool { return k.SpanID == sp.SpanID }) {
				w.noteCopy(sp.SpanID)
				continue
			}
			out = append(out, sp)
		}
		return out
	}
	w.order = w.order[:0]
	for i := range gs {
		w.order = append(w.order, i)
	}
	slices.SortFunc(w.order, func(a, b int) int {
		if c := bytes.Compare(gs[a].SpanID[:], gs[b].SpanID[:]); c != 0 {
			return c
		}
		return a - b
	})
	repeats := w.order[:0] // reuses the prefix already read
	for k := 1; k < len(w.order); k++ {
		if gs[w.order[k]].SpanID == gs[w.order[k-1]].SpanID {
			repeats = append(repeats, w.order[k])
		}
	}
	if len(repeats) == 0 {
		return gs
	}
	for _, i := range repeats {
		w.noteCopy(gs[i].SpanID)
		gs[i] = nil
	}
	return slices.DeleteFunc(gs, func(sp *spans.Span) bool { return sp == nil })
}

func (w *batchWriter) noteCopy(id spans.SpanID) {
	if w.dupOf == nil {
		w.dupOf = map[spans.SpanID]dupCopies{}
	}
	d := w.dupOf[id]
	d.copies = max(d.copies, 1) + 1
	w.dupOf[id] = d
}

// dropEventsOfCopies drops the events that came with the dropped copies of
// a span: each copy brought the same events, so of each distinct event of a
// span delivered c times, one in c is kept.
func (w *batchWriter) dropEventsOfCopies(ge []*event.Record) []*event.Record {
	if len(ge) == 0 {
		return ge
	}
	var key []byte
	eventKey := func(e *event.Record) string {
		key = append(key[:0], e.SpanID[:]...)
		key = binary.AppendVarint(key, nanos(e.Time))
		key = binary.AppendUvarint(key, uint64(e.Stage))
		key = appendString(key, e.Name)
		return string(appendEventBody(key, e))
	}
	total := map[string]int{}
	for _, e := range ge {
		if d, ok := w.dupOf[e.SpanID]; ok && d.copies > 1 {
			total[eventKey(e)]++
		}
	}
	if len(total) == 0 {
		return ge
	}
	seen := map[string]int{}
	return slices.DeleteFunc(ge, func(e *event.Record) bool {
		d, ok := w.dupOf[e.SpanID]
		if !ok || d.copies < 2 {
			return false
		}
		k := eventKey(e)
		seen[k]++
		return seen[k] > (total[k]+d.copies-1)/d.copies
	})
}

// dropStored drops from gs (spans of trace tid, stored in traces row row)
// those the store holds already, decoding the span ids of the trace's
// stored parts, and notes them in dupOf. found is false when the row no
// longer exists.
func (w *batchWriter) dropStored(st *writeStmts, row int64, tid spans.TraceID, gs []*spans.Span) (_ []*spans.Span, found bool, _ error) {
	vals := w.vals[:3]
	rows, err := st.traceStored.(driver.StmtQueryContext).QueryContext(bg, nv(w.args, row))
	if err != nil {
		return gs, false, fmt.Errorf("cannot read trace %s: %w", tid, err)
	}
	err = rows.Next(vals)
	rows.Close()
	switch err {
	case nil:
	case io.EOF:
		return gs, false, nil
	default:
		return gs, false, fmt.Errorf("cannot read trace %s: %w", tid, err)
	}
	first, _ := vals[0].(int64)
	more := blobOf(vals[1])
	legacy := blobOf(vals[2])
	w.stored = w.stored[:0]
	w.incoming = w.incoming[:0]
	for _, sp := range gs {
		w.incoming = append(w.incoming, sp.SpanID)
	}
	err = forChunkIDs(first, more, func(id int64) error {
		keys, err := w.readChunkColumn(st.selectChunkKeys, id)
		if err != nil {
			return err
		}
		if keys != nil {
			if ok, err := keysMatch(keys, tid, w.incoming); err != nil || !ok {
				return err // none of the spans can be in this chunk
			}
		}
		data, err := w.readChunkColumn(st.selectChunk, id)
		if err != nil {
			return err
		}
		return w.store.dicts.chunkParts(bg, w.store.db, data, func(t spans.TraceID, part encodedPart) bool {
			if t != tid {
				return true
			}
			var d decodedPart
			if err = decodePart(t, part, true, &d); err != nil {
				return false
			}
			for i := range d.spans {
				w.stored = append(w.stored, d.spans[i].SpanID)
			}
			return true
		})
	})
	if err == nil {
		err = forParts(legacy, func(first, count int64) error {
			rows, err := st.spanIDsInRange.(driver.StmtQueryContext).QueryContext(bg, nv(w.args, first, first+count, tid[:]))
			if err != nil {
				return err
			}
			defer rows.Close()
			for {
				switch err := rows.Next(vals[:1]); err {
				case nil:
					var id spans.SpanID
					copy(id[:], blobOf(vals[0]))
					w.stored = append(w.stored, id)
				case io.EOF:
					return nil
				default:
					return err
				}
			}
		})
	}
	if err != nil {
		return gs, true, fmt.Errorf("cannot read span ids of trace %s: %w", tid, err)
	}
	if len(w.stored) == 0 {
		return gs, true, nil
	}
	cmpID := func(a, b spans.SpanID) int { return bytes.Compare(a[:], b[:]) }
	slices.SortFunc(w.stored, cmpID)
	return slices.DeleteFunc(gs, func(sp *spans.Span) bool {
		if _, found := slices.BinarySearchFunc(w.stored, sp.SpanID, cmpID); !found {
			return false
		}
		if w.dupOf == nil {
			w.dupOf = map[spans.SpanID]dupCopies{}
		}
		d := w.dupOf[sp.SpanID]
		d.copies, d.stored = max(d.copies, 1), true
		w.dupOf[sp.SpanID] = d
		return true
	}), true, nil
}

// readChunkColumn reads a column of a stored chunk (stmt selects it) on the
// writer's connection.
func (w *batchWriter) readChunkColumn(stmt driver.Stmt, id int64) ([]byte, error) {
	vals := w.vals[:1]
	rows, err := stmt.(driver.StmtQueryContext).QueryContext(bg, nv(w.args, id))
	if err != nil {
		return nil, fmt.Errorf("cannot read chunk %d: %w", id, err)
	}
	defer rows.Close()
	if err := rows.Next(vals); err != nil {
		return nil, fmt.Errorf("cannot read chunk %d: %w", id, err)
	}
	return bytes.Clone(blobOf(vals[0])), nil
}

// blobOf returns a BLOB (or TEXT, which some older rows hold) column value.
func blobOf(v driver.Value) []byte {
	switch v := v.(type) {
	case []byte:
		return v
	case string:
		return []byte(v)
	}
	return nil
}

// dropEventsOfStored drops the events of spans dropStored found stored:
// they were stored with the span.
func (w *batchWriter) dropEventsOfStored(ge []*event.Record) []*event.Record {
	return slices.DeleteFunc(ge, func(e *event.Record) bool { return w.dupOf[e.SpanID].stored })
}
