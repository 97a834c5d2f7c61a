package collector

import (
	"context"
	"database/sql"
	"testing"

	"github.com/stagescope/stagescope/spans"
)

// storedSpan is one span as the database holds it, found by reading every
// chunk and the spans table of rows written before migration 0006.
type storedSpan struct {
	trace spans.TraceID
	span  spans.SpanID
}

// storedSpans reads every span the database holds, duplicates included:
// what the tests count instead of rows of a spans table.
func storedSpans(t *testing.T, db *sql.DB) []storedSpan {
	t.Helper()
	var out []storedSpan
	var dicts chunkDicts
	defer dicts.close()
	rows, err := db.Query("SELECT data FROM chunks ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			t.Fatal(err)
		}
		var derr error
		err := dicts.chunkParts(context.Background(), db, data, func(tid spans.TraceID, part encodedPart) bool {
			var d decodedPart
			if derr = decodePart(tid, part, true, &d); derr != nil {
				return false
			}
			for _, sp := range d.spans {
				out = append(out, storedSpan{tid, sp.SpanID})
			}
			return true
		})
		if err != nil || derr != nil {
			t.Fatalf("chunk: %v %v", err, derr)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	legacy, err := db.Query("SELECT trace_id, span_id FROM spans")
	if err != nil {
		t.Fatal(err)
	}
	defer legacy.Close()
	for legacy.Next() {
		var tid, sid []byte
		if err := legacy.Scan(&tid, &sid); err != nil {
			t.Fatal(err)
		}
		var s storedSpan
		copy(s.trace[:], tid)
		copy(s.span[:], sid)
		out = append(out, s)
	}
	return out
}

// storedSpanCount counts storedSpans, of one trace when tid is not zero.
func storedSpanCount(t *testing.T, db *sql.DB, tid spans.TraceID) int {
	t.Helper()
	n := 0
	for _, s := range storedSpans(t, db) {
		if tid.IsZero() || s.trace == tid {
			n++
		}
	}
	return n
}
