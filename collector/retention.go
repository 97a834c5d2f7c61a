package collector

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// DefaultRetentionInterval is how often WithRetention applies its policy
// when the policy does not say.
const DefaultRetentionInterval = 10 * time.Minute

// retentionChunk is how many traces one retention transaction deletes, so
// the batch writer waits for at most one chunk.
const retentionChunk = 500

// RetentionPolicy bounds what the store keeps. Zero fields disable a bound.
type RetentionPolicy struct {
	MaxAge   time.Duration // delete traces that started longer ago
	MaxBytes int64         // delete the oldest traces while the data exceed this size
	Interval time.Duration // how often to apply (DefaultRetentionInterval)
}

// ApplyRetention deletes whole traces (summary row, spans and events) that
// started more than maxAge ago, then the oldest traces while the pages in
// use exceed maxBytes, together with rollups and drop counters older than
// what is kept. Each chunk of traces goes in its own transaction, so the
// database is consistent after every step and a concurrent writer is never
// held up for long. Freed pages are returned to the file system where the
// file allows (databases created by this package do). It returns how many
// traces were deleted.
func (s *SQLiteStore) ApplyRetention(ctx context.Context, maxAge time.Duration, maxBytes int64) (deleted int, err error) {
	if maxAge > 0 {
		cutoff := time.Now().Add(-maxAge).UnixNano()
		for {
			n, err := s.deleteOldest(ctx, cutoff)
			deleted += n
			if err != nil {
				return deleted, fmt.Errorf("cannot apply retention by age: %w", err)
			}
			if n < retentionChunk {
				break
			}
		}
		if err := s.write(ctx, func(tx *sql.Tx) error {
			m := rollupMinute(cutoff)
			if _, err := tx.ExecContext(ctx, "DELETE FROM stage_rollups WHERE minute < ?", m); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "DELETE FROM token_rollups WHERE minute < ?", m); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, "DELETE FROM drops WHERE minute < ?", m)
			return err
		}); err != nil {
			return deleted, fmt.Errorf("cannot delete old rollups: %w", err)
		}
	}
	if maxBytes > 0 {
		for {
			used, err := s.usedBytes(ctx)
			if err != nil {
				return deleted, fmt.Errorf("cannot apply retention by size: %w", err)
			}
			if used <= maxBytes {
				break
			}
			n, err := s.deleteOldest(ctx, -1)
			deleted += n
			if err != nil {
				return deleted, fmt.Errorf("cannot apply retention by size: %w", err)
			}
			if n == 0 {
				break // nothing left to delete: the rest is schema and rollups
			}
		}
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	clear(s.rollups)
	if s.closed {
		return deleted, ErrClosed
	}
	if _, err := s.wconn.ExecContext(ctx, "PRAGMA incremental_vacuum"); err != nil {
		return deleted, fmt.Errorf("cannot vacuum after retention: %w", err)
	}
	return deleted, nil
}

// usedBytes is the size of the pages holding data (the file may be larger
// while freed pages wait for reuse).
func (s *SQLiteStore) usedBytes(ctx context.Context) (int64, error) {
	var pages, free, size int64
	for _, p := range []struct {
		q   string
		dst *int64
	}{{"PRAGMA page_count", &pages}, {"PRAGMA freelist_count", &free}, {"PRAGMA page_size", &size}} {
		if err := s.db.QueryRowContext(ctx, p.q).Scan(p.dst); err != nil {
			return 0, err
		}
	}
	return (pages - free) * size, nil
}

// deleteChunksBelow deletes the chunks below bound but those of the run of
// a dictionary that a chunk from bound on may be compressed with (the
// chunks after a run, up to the next run, are compressed with its
// dictionary), and the dictionaries no chunk is left to use.
func deleteChunksBelow(ctx context.Context, tx *sql.Tx, bound int64) error {
	rows, err := tx.QueryContext(ctx, "SELECT id, first_chunk, last_chunk FROM chunk_dicts ORDER BY id")
	if err != nil {
		return err
	}
	type run struct{ id, first, last int64 }
	var runs []run
	for rows.Next() {
		var r run
		if err := rows.Scan(&r.id, &r.first, &r.last); err != nil {
			rows.Close()
			return err
		}
		runs = append(runs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	from := int64(math.MinInt64)
	for i, r := range runs {
		used := i+1 == len(runs) || runs[i+1].first > bound
		if !used {
			if _, err := tx.ExecContext(ctx, "DELETE FROM chunk_dicts WHERE id = ?", r.id); err != nil {
				return err
			}
			continue
		}
		if r.first >= bound {
			break
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM chunks WHERE id >= ? AND id < ?", from, r.first); err != nil {
			return err
		}
		from = r.last + 1
	}
	_, err = tx.ExecContext(ctx, "DELETE FROM chunks WHERE id >= ? AND id < ?", from, bound)
	return err
}

// deleteOldest deletes up to retentionChunk of the oldest traces, only those
// that started before cutoff when cutoff ≥ 0, then the chunks no remaining
// trace points into (chunk ids grow with trace rows, so those are the
// chunks below the smallest first chunk left) and the sealed blocks whose
// traces are all gone.
func (s *SQLiteStore) deleteOldest(ctx context.Context, cutoff int64) (int, error) {
	n := 0
	var minRow int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		q := "SELECT id, trace_id, start_ns, span_parts, event_parts FROM traces ORDER BY start_ns LIMIT ?"
		args := []any{retentionChunk}
		if cutoff >= 0 {
			q = "SELECT id, trace_id, start_ns, span_parts, event_parts FROM traces WHERE start_ns < ? ORDER BY start_ns LIMIT ?"
			args = []any{cutoff, retentionChunk}
		}
		rows, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		type victim struct {
			row    int64
			id     []byte
			start  int64
			sp, ev []byte
		}
		var vs []victim
		for rows.Next() {
			var v victim
			if err := rows.Scan(&v.row, &v.id, &v.start, &v.sp, &v.ev); err != nil {
				rows.Close()
				return err
			}
			vs = append(vs, v)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, v := range vs {
			// Rows written before migration 0006 keep spans and events in
			// their own tables.
			for _, del := range []struct {
				parts []byte
				q     string
			}{
				{v.sp, "DELETE FROM spans WHERE id >= ? AND id < ? AND trace_id = ?"},
				{v.ev, "DELETE FROM events WHERE id >= ? AND id < ? AND trace_id = ?"},
			} {
				err := forParts(del.parts, func(first, count int64) error {
					_, err := tx.ExecContext(ctx, del.q, first, first+count, v.id)
					return err
				})
				if err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, "DELETE FROM traces WHERE id = ?", v.row); err != nil {
				return err
			}
		}
		if len(vs) == 0 {
			return nil
		}
		var keepChunk, keepRow sql.NullInt64
		if err := tx.QueryRowContext(ctx, "SELECT min(chunk), min(id) FROM traces").Scan(&keepChunk, &keepRow); err != nil {
			return err
		}
		chunkBound, rowBound := keepChunk.Int64, keepRow.Int64
		if !keepChunk.Valid {
			chunkBound = math.MaxInt64 // no trace points into any chunk
		}
		if !keepRow.Valid {
			rowBound = math.MaxInt64
		}
		if err := deleteChunksBelow(ctx, tx, chunkBound); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM trace_ids WHERE block IN (SELECT id FROM trace_blocks WHERE last_trace < ?)", rowBound); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM trace_blocks WHERE last_trace < ?", rowBound); err != nil {
			return err
		}
		minRow = rowBound
		if cutoff < 0 {
			// Size retention: rollups older than the oldest trace kept go too.
			m := rollupMinute(vs[len(vs)-1].start)
			if _, err := tx.ExecContext(ctx, "DELETE FROM stage_rollups WHERE minute < ?", m); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "DELETE FROM token_rollups WHERE minute < ?", m); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "DELETE FROM drops WHERE minute < ?", m); err != nil {
				return err
			}
		}
		n = len(vs)
		return nil
	})
	if err == nil && minRow > 0 && s.index != nil {
		s.index.dropThrough(min(minRow, math.MaxInt64-1) - 1)
	}
	return n, err
}

var errCorruptParts = errors.New("corrupt id ranges")

// forParts calls fn for each (first id, count) pair of a parts blob.
func forParts(b []byte, fn func(first, count int64) error) error {
	for len(b) > 0 {
		first, n := binary.Uvarint(b)
		if n <= 0 {
			return errCorruptParts
		}
		b = b[n:]
		count, n := binary.Uvarint(b)
		if n <= 0 {
			return errCorruptParts
		}
		b = b[n:]
		if err := fn(int64(first), int64(count)); err != nil {
			return err
		}
	}
	return nil
}

func (c *Collector) runRetention(p RetentionPolicy) {
	defer c.bg.Done()
	every := p.Interval
	if every <= 0 {
		every = DefaultRetentionInterval
	}
	t := time.NewTicker(every)
	defer t.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-c.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	for {
		select {
		case <-t.C:
			if _, err := c.store.ApplyRetention(ctx, p.MaxAge, p.MaxBytes); err != nil && ctx.Err() == nil {
				c.cfg.onError(err)
			}
		case <-c.stop:
			return
		}
	}
}
