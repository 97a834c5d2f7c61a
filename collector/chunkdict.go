package collector

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// A chunk that a small writer batch closes holds the parts of a handful of
// traces: too few for zstd to find what traces repeat (a demo trace's
// query, answer and document ids recur a few hundred traces later). Such
// chunks are compressed against a dictionary made of the store's own
// recent data: the decompressed content of a run of earlier chunks, which
// stay in the database, so a dictionary costs no space of its own.
//
// The writer collects chunks into a dictionary's run (they are compressed
// without one) until their content reaches dictBytes, then records the run
// in chunk_dicts in the transaction of its last chunk; from the next batch
// on, a chunk that holds the whole of a small batch is compressed with it,
// at zstd's best level (its CPU and memory are spent only on small
// batches: low-rate traffic). After dictRenewBytes of content
// compressed with a dictionary, the writer collects a new one, so the
// dictionary follows what the spans look like. Retention keeps the chunks
// of a run while any chunk compressed with its dictionary is kept.
//
// Stored form of such a chunk: a format byte (chunkZstdDict), the uvarint
// id of its chunk_dicts row, then a zstd frame made with the dictionary's
// content as a raw zstd dictionary of that id.
const (
	chunkZstdDict = 2
	// smallChunkLevel compresses the whole of a small batch in a
	// dictionary's run, dictChunkLevel with the dictionary: on the demo's
	// traces about a fifth smaller than zstd's default level
	// (BENCHMARKS.md), at a CPU cost that only small batches pay. Their
	// encoders work one chunk at a time (a small batch makes one) and
	// allocate their state on first use: 5 MiB, and 69 MiB for the best
	// level's tables with a 1 MiB dictionary (four at once took the
	// demo to 497 MB of RSS); high-rate ingest, which writes full chunks,
	// never allocates them.
	smallChunkLevel = zstd.SpeedBetterCompression
	dictChunkLevel  = zstd.SpeedBestCompression
	// dictSmallBytes: a chunk that holds a whole batch and is smaller —
	// the batch ended before the chunk reached chunkTargetBytes — is
	// compressed with the dictionary at smallChunkLevel. Full chunks hold
	// enough context of their own, and they and the last chunk of a large
	// batch keep the fastest level: they are what a high ingest rate
	// writes.
	dictSmallBytes = chunkTargetBytes
)

// Variables for tests of several dictionaries.
var (
	// dictBytes is the content of a dictionary: the last dictBytes of its
	// run's decompressed chunks. zstd's 1 MiB window is the useful limit;
	// a power of two (it is the window).
	dictBytes = 1 << 20
	// dictRenewBytes of content compressed with one dictionary start the
	// collection of the next.
	dictRenewBytes int64 = 256 << 20
)

// chunkDicts caches, per store, the dictionaries read back: their content
// and a decoder each.
type chunkDicts struct {
	mu   sync.Mutex
	decs map[int64]*loadedDict
}

type loadedDict struct {
	dec     *zstd.Decoder
	content []byte
}

// dictCacheLimit bounds the dictionaries kept (1 MiB each).
const dictCacheLimit = 8

// decoder returns the decoder of dictionary id, loading its content
// through q on first use.
func (d *chunkDicts) decoder(ctx context.Context, q rowQuerier, id int64) (*zstd.Decoder, error) {
	l, err := d.load(ctx, q, id)
	if err != nil {
		return nil, err
	}
	return l.dec, nil
}

// load returns dictionary id, reading it through q on first use.
func (d *chunkDicts) load(ctx context.Context, q rowQuerier, id int64) (*loadedDict, error) {
	d.mu.Lock()
	l := d.decs[id]
	d.mu.Unlock()
	if l != nil {
		return l, nil
	}
	content, err := loadDictContent(ctx, q, id)
	if err != nil {
		return nil, err
	}
	return d.add(id, content)
}

// preload reads the latest dictionary, so that the first trace read from
// a chunk compressed with it does not wait for it (about 20 ms); an error
// is left for that read to report.
func (d *chunkDicts) preload(ctx context.Context, q rowQuerier) {
	var id int64
	if q.QueryRowContext(ctx, sqlLatestChunkDict).Scan(&id) == nil {
		_, _ = d.load(ctx, q, id)
	}
}

// add makes the decoder of dictionary id from its content.
func (d *chunkDicts) add(id int64, content []byte) (*loadedDict, error) {
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(min(runtime.GOMAXPROCS(0), 4)), zstd.WithDecoderMaxMemory(chunkMaxBytes),
		zstd.WithDecoderLowmem(true), zstd.WithDecoderDictRaw(uint32(id), content))
	if err != nil {
		return nil, fmt.Errorf("dictionary %d: %w", id, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if old := d.decs[id]; old != nil {
		dec.Close()
		return old, nil
	}
	if d.decs == nil || len(d.decs) >= dictCacheLimit {
		// Dropped, not closed: a query may be decoding with one. They
		// start no goroutines (DecodeAll only), so the collector frees
		// them.
		d.decs = map[int64]*loadedDict{}
	}
	l := &loadedDict{dec: dec, content: content}
	d.decs[id] = l
	return l, nil
}

func (d *chunkDicts) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, l := range d.decs {
		l.dec.Close()
	}
	d.decs = nil
}

// querier is a rowQuerier that also runs queries of many rows.
type querier interface {
	rowQuerier
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// loadDictContent rebuilds the content of dictionary id from its run of
// chunks.
func loadDictContent(ctx context.Context, q rowQuerier, id int64) ([]byte, error) {
	var first, last int64
	if err := q.QueryRowContext(ctx, sqlSelectChunkDict, id).Scan(&first, &last); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("%w: chunk dictionary %d is missing", errCorruptBody, id)
		}
		return nil, fmt.Errorf("cannot read chunk dictionary %d: %w", id, err)
	}
	qq, ok := q.(querier)
	if !ok {
		return nil, fmt.Errorf("cannot read chunk dictionary %d: no querier", id)
	}
	rows, err := qq.QueryContext(ctx, sqlSelectChunkRun, first, last)
	if err != nil {
		return nil, fmt.Errorf("cannot read chunk dictionary %d: %w", id, err)
	}
	defer rows.Close()
	// Each chunk into a buffer of its own, then the last dictBytes copied
	// once: DecodeAll appending to a long dst, or a growing content, took
	// 10–130 ms for 1 MiB instead of about 1.
	var parts [][]byte
	total := 0
	_, dec := zstdCodecs()
	want := first
	for rows.Next() {
		var cid int64
		var data []byte
		if err := rows.Scan(&cid, &data); err != nil {
			return nil, fmt.Errorf("cannot read chunk dictionary %d: %w", id, err)
		}
		if cid != want || len(data) == 0 || data[0] != chunkZstd {
			return nil, fmt.Errorf("%w: chunk dictionary %d: chunk %d missing or not plain", errCorruptBody, id, want)
		}
		want++
		raw, err := dec.DecodeAll(data[1:], nil)
		if err != nil {
			return nil, fmt.Errorf("%w: chunk dictionary %d: chunk %d: %v", errCorruptBody, id, cid, err)
		}
		parts = append(parts, raw)
		total += len(raw)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read chunk dictionary %d: %w", id, err)
	}
	if want != last+1 {
		return nil, fmt.Errorf("%w: chunk dictionary %d: chunk %d missing", errCorruptBody, id, want)
	}
	content := make([]byte, 0, min(total, dictBytes))
	skip := total - cap(content)
	for _, p := range parts {
		if skip >= len(p) {
			skip -= len(p)
			continue
		}
		content = append(content, p[skip:]...)
		skip = 0
	}
	return content, nil
}

// dictTail keeps the last dictBytes of content (in place).
func dictTail(content []byte) []byte {
	if n := len(content) - dictBytes; n > 0 {
		content = content[:copy(content, content[n:])]
	}
	return content
}

// dictWriter is the writer's side: the dictionary small chunks are
// compressed with, and the run being collected for the next.
type dictWriter struct {
	id  int64 // 0: none yet
	enc *zstd.Encoder
	// used is the content compressed with the dictionary so far.
	used int64
	// collecting: chunks from first on are the next dictionary's run,
	// content holds the tail of their content.
	collecting bool
	first      int64
	content    []byte
	// pending is the dictionary recorded by the batch being written,
	// made current when it commits.
	pending *pendingDict
	loaded  bool
	maxID   int64 // the largest id in chunk_dicts
}

type pendingDict struct {
	id      int64
	content []byte
}

func newDictEncoder(id int64, content []byte) (*zstd.Encoder, error) {
	return zstd.NewWriter(nil, zstd.WithEncoderLevel(dictChunkLevel), zstd.WithEncoderConcurrency(1),
		zstd.WithWindowSize(dictBytes), zstd.WithLowerEncoderMem(true), zstd.WithEncoderDictRaw(uint32(id), content)) // dictBytes: a power of two
}

var (
	smallEncoder     *zstd.Encoder
	smallEncoderOnce sync.Once
)

// compressSmallChunk is compressChunk at smallChunkLevel, for the whole
// of a small batch in a dictionary's run.
func compressSmallChunk(dst, raw []byte, parts int) []byte {
	smallEncoderOnce.Do(func() {
		var err error
		smallEncoder, err = zstd.NewWriter(nil, zstd.WithEncoderLevel(smallChunkLevel), zstd.WithEncoderConcurrency(1),
			zstd.WithWindowSize(1<<20), zstd.WithLowerEncoderMem(true))
		if err != nil {
			panic(err)
		}
	})
	dst = append(dst, chunkZstd)
	return smallEncoder.EncodeAll(chunkFrameSource(raw, parts), dst)
}

// compressChunkDict is compressChunk with dictionary id and its encoder.
func compressChunkDict(dst, raw []byte, parts int, id int64, enc *zstd.Encoder) []byte {
	dst = append(dst, chunkZstdDict)
	dst = binary.AppendUvarint(dst, uint64(id))
	return enc.EncodeAll(chunkFrameSource(raw, parts), dst)
}

// collect adds the content of the next chunk of the run.
func (d *dictWriter) collect(content []byte) {
	d.content = dictTail(append(d.content, content...))
}

// full reports whether the run collected holds a dictionary's content.
func (d *dictWriter) full() bool { return d.collecting && len(d.content) >= dictBytes }

// rollback forgets what the failed batch did: its chunks are gone, so the
// run starts again.
func (d *dictWriter) rollback() {
	d.pending = nil
	if d.collecting {
		d.first, d.content = 0, d.content[:0]
	}
}

// committed makes the dictionary the batch recorded current.
func (d *dictWriter) committed(cache *chunkDicts) {
	p := d.pending
	if p == nil {
		return
	}
	d.pending, d.maxID = nil, p.id
	enc, err := newDictEncoder(p.id, p.content)
	if err == nil {
		_, err = cache.add(p.id, p.content)
	}
	if err != nil {
		// The row is recorded; chunks go on without a dictionary until
		// the next run is collected.
		d.first, d.content, d.used = 0, d.content[:0], 0
		return
	}
	d.id, d.enc, d.used = p.id, enc, 0
	d.collecting, d.first, d.content = false, 0, nil
}

// loadDict reads the store's latest dictionary the first time the writer
// writes: small chunks go on with it after a restart. Without one, or when
// it cannot be read, the writer collects a new one.
func (w *batchWriter) loadDict() {
	d := &w.dict
	if d.loaded {
		return
	}
	d.loaded, d.collecting = true, true
	ctx := context.Background()
	var id int64
	if err := w.store.db.QueryRowContext(ctx, sqlLatestChunkDict).Scan(&id); err != nil {
		return // none (sql.ErrNoRows) or unreadable
	}
	d.maxID = id
	l, err := w.store.dicts.load(ctx, w.store.db, id)
	if err != nil {
		return
	}
	enc, err := newDictEncoder(id, l.content)
	if err != nil {
		return
	}
	d.id, d.enc, d.collecting = id, enc, false
}

// recordDict records the run collected, ending with chunk last, as a
// dictionary in the open transaction; it becomes current at commit. A run
// retention cut into (its first chunks deleted) is collected again.
func (w *batchWriter) recordDict(st *writeStmts, last int64) error {
	d := &w.dict
	vals := w.vals[:1]
	rows, err := st.countChunks.(driver.StmtQueryContext).QueryContext(bg, nv(w.args, d.first, last))
	if err != nil {
		return fmt.Errorf("cannot record chunk dictionary: %w", err)
	}
	err = rows.Next(vals)
	rows.Close()
	if err != nil {
		return fmt.Errorf("cannot record chunk dictionary: %w", err)
	}
	if n, _ := vals[0].(int64); n != last-d.first+1 {
		d.first, d.content = 0, d.content[:0]
		return nil
	}
	id := d.maxID + 1
	if err := execStmt(st.insertChunkDict, nv(w.args, id, d.first, last)); err != nil {
		return fmt.Errorf("cannot record chunk dictionary: %w", err)
	}
	d.pending = &pendingDict{id: id, content: bytes.Clone(d.content)}
	return nil
}
