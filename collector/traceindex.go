package collector

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math/bits"
	"slices"
	"sync"

	"github.com/stagescope/stagescope/spans"
)

// DefaultBlockTraces is how many traces the head block holds before the
// writer seals it: their ids are written once, sorted, to trace_ids with a
// Bloom filter (16 bits a trace, 256 KiB a block), and the head starts
// empty. About 1.3M spans of ten-span traces; the head's map costs about
// 6 MiB at this size.
const DefaultBlockTraces = 1 << 17

// bloomBitsPerKey sizes a block's Bloom filter: with bloomProbes probes in
// one 512-bit group, about 0.1% false positives. Every ingested trace is
// checked against every sealed block, and a false positive costs a probe
// of trace_ids: at 10 bits (1–2%) and 76 blocks (100M spans) that was about
// one probe a trace, and the writer's CPU a span grew by 13% from the
// first 10M spans to the last.
const (
	bloomBitsPerKey = 16
	bloomProbes     = 11
)

// bloom is a blocked Bloom filter over trace ids: every probe of one key
// falls in one 64-byte group, so a lookup costs one cache miss per block.
// Its bytes are stored as they are in memory (little-endian words).
type bloom struct{ words []uint64 }

const bloomGroupWords = 8 // 512 bits

func newBloom(keys int) bloom {
	groups := max((keys*bloomBitsPerKey+511)/512, 1)
	return bloom{words: make([]uint64, groups*bloomGroupWords)}
}

// traceIDHash mixes a trace id into 64 bits: ids are not always random
// (tests and some sources count up), so the bits are mixed, not taken.
func traceIDHash(id spans.TraceID) uint64 {
	h := binary.LittleEndian.Uint64(id[:8]) ^ bits.RotateLeft64(binary.LittleEndian.Uint64(id[8:]), 31)
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

func (b bloom) probes(h uint64, fn func(word int, bit uint64) bool) bool {
	groups := uint64(len(b.words) / bloomGroupWords)
	g := int((h>>32)*groups>>32) * bloomGroupWords
	for i := 0; i < bloomProbes; i++ {
		h = h*0x9e3779b97f4a7c15 + 0x632be59bd9b4e019
		bit := h >> 55 // 9 bits: 0..511
		if !fn(g+int(bit>>6), 1<<(bit&63)) {
			return false
		}
	}
	return true
}

func (b bloom) add(id spans.TraceID) {
	b.probes(traceIDHash(id), func(w int, bit uint64) bool { b.words[w] |= bit; return true })
}

func (b bloom) mayContain(id spans.TraceID) bool { return b.mayContainHash(traceIDHash(id)) }

// mayContainHash is mayContain of an id whose traceIDHash is h.
func (b bloom) mayContainHash(h uint64) bool {
	if len(b.words) == 0 {
		return true
	}
	return b.probes(h, func(w int, bit uint64) bool { return b.words[w]&bit != 0 })
}

func (b bloom) bytes() []byte {
	out := make([]byte, 0, len(b.words)*8)
	for _, w := range b.words {
		out = binary.LittleEndian.AppendUint64(out, w)
	}
	return out
}

func bloomFrom(p []byte) (bloom, error) {
	if len(p) == 0 || len(p)%(bloomGroupWords*8) != 0 {
		return bloom{}, fmt.Errorf("%w: Bloom filter of %d bytes", errCorruptBody, len(p))
	}
	b := bloom{words: make([]uint64, len(p)/8)}
	for i := range b.words {
		b.words[i] = binary.LittleEndian.Uint64(p[i*8:])
	}
	return b, nil
}

// traceBlock is a sealed block: traces rows first..last, their ids in
// trace_ids under id.
type traceBlock struct {
	id          int64
	first, last int64
	filter      bloom
}

// traceIndex finds a trace's row in traces by its id without a B-tree keyed
// by trace id on the write path. The head — rows after the last sealed
// block — is a map in memory; sealed blocks are Bloom filters in memory and
// sorted runs in trace_ids. The writer adds to the head after each commit
// and seals it inside a batch transaction; readers of the same store share
// it. A read-only store (another process writes) catches up from the
// database before each lookup.
type traceIndex struct {
	mu     sync.RWMutex
	blocks []traceBlock // oldest first
	head   map[spans.TraceID]int64
	// seen is the highest traces row the head has read or been given.
	seen int64
	// follow is set for read-only stores: refresh before lookups.
	follow bool
}

func newTraceIndex() *traceIndex { return &traceIndex{head: map[spans.TraceID]int64{}} }

// headFloor is the last row covered by a sealed block (0: none).
func (x *traceIndex) headFloor() int64 {
	if len(x.blocks) == 0 {
		return 0
	}
	return x.blocks[len(x.blocks)-1].last
}

// load reads the sealed blocks and the head from the database, building
// missing Bloom filters (the block migration 0006 makes) and saving them
// when w is set. It replaces what x held.
func (x *traceIndex) load(ctx context.Context, q *sql.DB, w execer) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.blocks, x.seen = nil, 0
	clear(x.head)
	return x.catchUp(ctx, q, w)
}

// execer is a *sql.Conn or *sql.DB that may write.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// catchUp adds blocks sealed and rows written since x last looked. Called
// with mu held.
func (x *traceIndex) catchUp(ctx context.Context, q *sql.DB, w execer) error {
	var lastBlock int64
	if len(x.blocks) > 0 {
		lastBlock = x.blocks[len(x.blocks)-1].id
	}
	rows, err := q.QueryContext(ctx, "SELECT id, first_trace, last_trace, bloom FROM trace_blocks WHERE id > ? ORDER BY id", lastBlock)
	if err != nil {
		return fmt.Errorf("cannot read trace blocks: %w", err)
	}
	var fresh []traceBlock
	var missing []int
	for rows.Next() {
		var b traceBlock
		var p []byte
		if err := rows.Scan(&b.id, &b.first, &b.last, &p); err != nil {
			rows.Close()
			return fmt.Errorf("cannot read trace blocks: %w", err)
		}
		if p == nil {
			missing = append(missing, len(fresh))
		} else if b.filter, err = bloomFrom(p); err != nil {
			rows.Close()
			return fmt.Errorf("trace block %d: %w", b.id, err)
		}
		fresh = append(fresh, b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("cannot read trace blocks: %w", err)
	}
	for _, i := range missing {
		b := &fresh[i]
		if err := b.build(ctx, q); err != nil {
			return err
		}
		if w != nil {
			if _, err := w.ExecContext(ctx, "UPDATE trace_blocks SET bloom = ? WHERE id = ?", b.filter.bytes(), b.id); err != nil {
				return fmt.Errorf("cannot save the Bloom filter of trace block %d: %w", b.id, err)
			}
		}
	}
	if len(fresh) > 0 {
		x.blocks = append(x.blocks, fresh...)
		floor := x.headFloor()
		maps.DeleteFunc(x.head, func(_ spans.TraceID, row int64) bool { return row <= floor })
	}
	from := max(x.seen, x.headFloor())
	rows, err = q.QueryContext(ctx, "SELECT id, trace_id FROM traces WHERE id > ? ORDER BY id", from)
	if err != nil {
		return fmt.Errorf("cannot read the head block: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var row int64
		var id []byte
		if err := rows.Scan(&row, &id); err != nil {
			return fmt.Errorf("cannot read the head block: %w", err)
		}
		var tid spans.TraceID
		copy(tid[:], id)
		x.head[tid] = row
		x.seen = max(x.seen, row)
	}
	return rows.Err()
}

// build reads a block's ids from trace_ids into a new Bloom filter.
func (b *traceBlock) build(ctx context.Context, q *sql.DB) error {
	var n int
	if err := q.QueryRowContext(ctx, "SELECT count(*) FROM trace_ids WHERE block = ?", b.id).Scan(&n); err != nil {
		return fmt.Errorf("cannot index trace block %d: %w", b.id, err)
	}
	b.filter = newBloom(n)
	rows, err := q.QueryContext(ctx, "SELECT trace_id FROM trace_ids WHERE block = ?", b.id)
	if err != nil {
		return fmt.Errorf("cannot index trace block %d: %w", b.id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id []byte
		if err := rows.Scan(&id); err != nil {
			return fmt.Errorf("cannot index trace block %d: %w", b.id, err)
		}
		var tid spans.TraceID
		copy(tid[:], id)
		b.filter.add(tid)
	}
	return rows.Err()
}

// refresh catches a following (read-only) index up with the database.
func (x *traceIndex) refresh(ctx context.Context, q *sql.DB) error {
	if !x.follow {
		return nil
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.catchUp(ctx, q, nil)
}

// candidates returns the head row of id (0 if none) and, newest first, the
// sealed blocks that may hold it.
func (x *traceIndex) candidates(id spans.TraceID, blocks []int64) (int64, []int64) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if row, ok := x.head[id]; ok {
		return row, blocks
	}
	h := traceIDHash(id)
	for i := len(x.blocks) - 1; i >= 0; i-- {
		if x.blocks[i].filter.mayContainHash(h) {
			blocks = append(blocks, x.blocks[i].id)
		}
	}
	return 0, blocks
}

// lookup returns the traces row of trace id, 0 when it is not stored.
func (x *traceIndex) lookup(ctx context.Context, q rowQuerier, id spans.TraceID) (int64, error) {
	var buf [4]int64
	row, blocks := x.candidates(id, buf[:0])
	if row != 0 {
		return row, nil
	}
	for _, b := range blocks {
		err := q.QueryRowContext(ctx, sqlTraceInBlock, b, id[:]).Scan(&row)
		if err == nil {
			return row, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return 0, fmt.Errorf("cannot look up trace %s: %w", id, err)
		}
	}
	return 0, nil
}

// added records rows committed by the writer.
func (x *traceIndex) added(ids []spans.TraceID, rows []int64) {
	if len(ids) == 0 {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for i, id := range ids {
		x.head[id] = rows[i]
		x.seen = max(x.seen, rows[i])
	}
}

// headSize is how many traces the head holds.
func (x *traceIndex) headSize() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.head)
}

// sealEntry is one trace of the head, for sealing.
type sealEntry struct {
	id  spans.TraceID
	row int64
}

// headEntries returns the head sorted by trace id and the block that
// sealing it would make.
func (x *traceIndex) headEntries() ([]sealEntry, traceBlock) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	out := make([]sealEntry, 0, len(x.head))
	b := traceBlock{first: x.headFloor() + 1, last: x.seen, filter: newBloom(len(x.head))}
	if len(x.blocks) > 0 {
		b.id = x.blocks[len(x.blocks)-1].id + 1
	} else {
		b.id = 1
	}
	for id, row := range x.head {
		out = append(out, sealEntry{id, row})
		b.filter.add(id)
	}
	slices.SortFunc(out, func(a, b sealEntry) int { return compareTrace(a.id, b.id) })
	return out, b
}

// sealed moves the head into block b, once the transaction that wrote b
// committed.
func (x *traceIndex) sealed(b traceBlock) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.blocks = append(x.blocks, b)
	maps.DeleteFunc(x.head, func(_ spans.TraceID, row int64) bool { return row <= b.last })
}

// dropThrough forgets blocks whose traces are all at or below row (deleted
// by retention) and head entries at or below it.
func (x *traceIndex) dropThrough(row int64) []int64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	var gone []int64
	for len(x.blocks) > 0 && x.blocks[0].last <= row {
		gone = append(gone, x.blocks[0].id)
		x.blocks = x.blocks[1:]
	}
	maps.DeleteFunc(x.head, func(_ spans.TraceID, r int64) bool { return r <= row })
	return gone
}

var sqlTraceInBlock = mustSQL("trace_in_block.sql")

// newFollowingIndex returns the index of a read-only store: it reads what
// another process's writer committed before each lookup.
func newFollowingIndex() *traceIndex {
	x := newTraceIndex()
	x.follow = true
	return x
}
