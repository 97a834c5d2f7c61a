package collector

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stagescope/stagescope/spans"
)

func TestOneWriterPerDatabaseAndReadOnlyBeside(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	w, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenSQLite(path); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("second writer: %v, want ErrLocked with advice", err)
	}
	// A reader opens beside the writer and sees what it commits.
	r, err := OpenSQLite(path, WithReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c := New(w)
	tid := spans.NewTraceID()
	if err := c.Ingest(context.Background(), []spans.Span{{TraceID: tid, SpanID: spans.NewSpanID(), Name: "q", Stage: spans.StageQuery,
		Start: t0, End: t0.Add(time.Millisecond), Status: spans.StatusOK}}, nil); err != nil {
		t.Fatal(err)
	}
	if tr, err := r.GetTrace(context.Background(), tid); err != nil || len(tr.Spans) != 1 {
		t.Fatalf("reader: %v", err)
	}
	if _, err := r.CreateRun(context.Background(), Run{Name: "x"}); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("write through a read-only store: %v, want ErrReadOnly", err)
	}
	if err := c.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// Closing releases the lock.
	w2, err := OpenSQLite(path)
	if err != nil {
		t.Fatalf("reopen after close: %v", err)
	}
	w2.Close()
	if _, err := OpenSQLite(filepath.Join(t.TempDir(), "none.db"), WithReadOnly()); err == nil {
		t.Fatal("read-only open of a missing database succeeded")
	}
}
