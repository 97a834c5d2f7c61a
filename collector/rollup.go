package collector

import (
	"database/sql/driver"
	"io"

	"github.com/stagescope/stagescope/spans"
)

// StageTrace is the rollup pseudo-stage of whole traces (root spans), whose
// durations are end-to-end latencies.
const StageTrace = 255

// rollupCacheLimit bounds the writer's cache of rollup rows (each holds two
// 514-bucket histograms, about 8 KiB, so the cache stays under ~8 MiB). Spans
// mostly arrive in time order, so the rows of the current minutes stay cached
// and an older row is read back from the table when a late span needs it.
const rollupCacheLimit = 1024

type rollupKey struct {
	minute int64
	run    string
	stage  uint8
}

type rollupRow struct {
	count, errors, total, self int64
	dur, selfHist              histogram
	// tokens is the counted token use by model (token_rollups); nil
	// without any. tokensDirty is set when it changed since written.
	tokens      map[string]*tokenCount
	tokensDirty bool
}

func (r *rollupRow) add(dur, self int64, failed bool) {
	r.count++
	if failed {
		r.errors++
	}
	r.total += dur
	r.self += self
	r.dur.add(dur)
	r.selfHist.add(self)
}

// adjustSelf replaces one span's self time old by new (a late child was
// subtracted from it).
func (r *rollupRow) adjustSelf(old, new int64) {
	r.self += new - old
	if b := histBucket(old); r.selfHist[b] > 0 {
		r.selfHist[b]--
	}
	r.selfHist.add(new)
}

// rollupFor returns the cached row for k, reading it from the table on a
// miss. Called with the write lock held, inside the batch transaction.
func (s *SQLiteStore) rollupFor(st *writeStmts, k rollupKey, args []driver.NamedValue) (*rollupRow, error) {
	if r, ok := s.rollups[k]; ok {
		return r, nil
	}
	r := &rollupRow{}
	args = append(args[:0], driver.NamedValue{Ordinal: 1, Value: k.minute}, driver.NamedValue{Ordinal: 2, Value: k.run}, driver.NamedValue{Ordinal: 3, Value: int64(k.stage)})
	rows, err := st.selectRollup.(driver.StmtQueryContext).QueryContext(bg, args)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	vals := make([]driver.Value, 6)
	switch err := rows.Next(vals); err {
	case nil:
		r.count, r.errors, r.total, r.self = vals[0].(int64), vals[1].(int64), vals[2].(int64), vals[3].(int64)
		if b, ok := vals[4].([]byte); ok {
			if err := mergeHist(&r.dur, b); err != nil {
				return nil, err
			}
		}
		if b, ok := vals[5].([]byte); ok {
			if err := mergeHist(&r.selfHist, b); err != nil {
				return nil, err
			}
		}
	case io.EOF:
	default:
		return nil, err
	}
	rows.Close()
	if err := r.readTokens(st, k, args); err != nil {
		return nil, err
	}
	s.rollups[k] = r
	return r, nil
}

func rollupMinute(startNS int64) int64 {
	if startNS < 0 {
		return (startNS+1)/60e9 - 1
	}
	return startNS / 60e9
}

// stageOf returns the rollup stage of a span.
func stageOf(st spans.Stage) uint8 { return uint8(st) }
