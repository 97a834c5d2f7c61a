package collector

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stagescope/stagescope/spans"
)

func oneSpan() []spans.Span {
	return []spans.Span{{TraceID: spans.NewTraceID(), SpanID: spans.NewSpanID(), Name: "q", Stage: spans.StageQuery,
		Start: t0, End: t0.Add(time.Millisecond), Status: spans.StatusOK}}
}

// A database deleted or replaced under a running store: the next Ingest is
// refused (nothing acknowledged that would be lost), Health says why, and
// OnFault is told once.
func TestStoreNoticesItsFilesVanishing(t *testing.T) {
	for _, c := range []struct {
		name, want string
		do         func(path string) error
	}{
		{"database deleted", "database file", func(p string) error { return os.Remove(p) }},
		{"wal deleted", "write-ahead log", func(p string) error { return os.Remove(p + "-wal") }},
		{"database replaced", "was replaced", func(p string) error {
			if err := os.WriteFile(p+".new", nil, 0o600); err != nil {
				return err
			}
			return os.Rename(p+".new", p)
		}},
		{"directory deleted", "was deleted", func(p string) error { return os.RemoveAll(filepath.Dir(p)) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "d", "s.db")
			os.MkdirAll(filepath.Dir(path), 0o700)
			s, err := OpenSQLite(path)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var told atomic.Int32
			s.OnFault(func(err error) { told.Add(1) })
			coll := newCollector(t, s)
			if err := coll.Ingest(context.Background(), oneSpan(), nil); err != nil {
				t.Fatal(err)
			}
			if err := s.Health(); err != nil {
				t.Fatal(err)
			}
			if err := c.do(path); err != nil {
				t.Fatal(err)
			}
			err = coll.Ingest(context.Background(), oneSpan(), nil)
			if !errors.Is(err, ErrUnhealthy) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("ingest after %s: %v, want ErrUnhealthy mentioning %q", c.name, err, c.want)
			}
			if err := s.Health(); !errors.Is(err, ErrUnhealthy) {
				t.Fatalf("health: %v", err)
			}
			if m := coll.Metrics(); m.SpansWritten != 1 || m.SpansRefused != 1 {
				t.Fatalf("metrics: %d written, %d refused", m.SpansWritten, m.SpansRefused)
			}
			if told.Load() != 1 {
				t.Fatalf("OnFault told %d times", told.Load())
			}
		})
	}
}

// The one-writer lock is held on the database file itself: there is no
// lock file to delete, and a second writer of the same file is refused
// whatever is removed beside it.
func TestWriterLockCannotBeBypassed(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.db")
	w, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != "s.db" && e.Name() != "s.db-wal" && e.Name() != "s.db-shm" {
			t.Errorf("unexpected file beside the database: %s", e.Name())
		}
		if strings.HasSuffix(e.Name(), ".lock") {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	os.Remove(path + "-shm")
	if _, err := OpenSQLite(path); !errors.Is(err, ErrLocked) {
		t.Fatalf("second writer: %v, want ErrLocked", err)
	}
}

// corruptTable overwrites the root page of table in the (closed, fully
// checkpointed) database at path with garbage.
func corruptTable(t *testing.T, path, table string) {
	t.Helper()
	s, err := OpenSQLite(path, WithReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	var root, pageSize int64
	if err := s.DB().QueryRow("SELECT rootpage FROM sqlite_master WHERE name = ?", table).Scan(&root); err != nil {
		t.Fatal(err)
	}
	if err := s.DB().QueryRow("PRAGMA page_size").Scan(&pageSize); err != nil {
		t.Fatal(err)
	}
	s.Close()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	garbage := []byte(strings.Repeat("\xde\xad\xbe\xef", int(pageSize)/8))
	if _, err := f.WriteAt(garbage, (root-1)*pageSize); err != nil {
		t.Fatal(err)
	}
}

// A corrupt page anywhere in the file stops the store from opening, with
// what PRAGMA quick_check found — instead of serving until a query meets it.
func TestCorruptDatabaseIsRefusedAtOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	c := New(s)
	for range 50 {
		if err := c.Ingest(context.Background(), oneSpan(), nil); err != nil {
			t.Fatal(err)
		}
	}
	c.Shutdown(context.Background())
	s.Close()
	corruptTable(t, path, "traces")
	_, err = OpenSQLite(path)
	if err == nil || !strings.Contains(err.Error(), "checking integrity") || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("open of a corrupt database: %v", err)
	}
	// Refusing did not take the lock with it: a repaired file opens.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	s2, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	s2.Close()
}
