package collector

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// ErrUnhealthy is wrapped by every error of a store that met a fault it
// cannot recover from while running: its database file deleted or
// replaced, or a corrupt page. From then on the store acknowledges nothing
// (Ingest fails, the health check says why) until it is reopened.
var ErrUnhealthy = errors.New("store unhealthy")

// fileID identifies a file across renames: device and inode.
type fileID struct{ dev, ino uint64 }

func statID(path string) (fileID, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return fileID{}, err
	}
	return fileID{uint64(st.Dev), st.Ino}, nil
}

// storeHealth watches the files a writing store depends on and remembers
// the first fault met. It is safe for concurrent use.
type storeHealth struct {
	path     string
	db, wal  fileID
	hasWAL   bool
	mu       sync.Mutex
	fault    error
	onFault  func(error) // told once, at the first fault
	reported bool
}

// watchFiles records the identity of the database file and of its WAL, as
// they are once the store is open.
func (h *storeHealth) watchFiles(path string) error {
	h.path = path
	var err error
	if h.db, err = statID(path); err != nil {
		return err
	}
	if id, err := statID(path + "-wal"); err == nil {
		h.wal, h.hasWAL = id, true
	}
	return nil
}

// setFault records err as the store's fault unless one is recorded, and
// tells onFault the first time.
func (h *storeHealth) setFault(err error) error {
	h.mu.Lock()
	if h.fault == nil {
		h.fault = fmt.Errorf("%w: %w", ErrUnhealthy, err)
	}
	f, tell := h.fault, !h.reported && h.onFault != nil
	h.reported = true
	h.mu.Unlock()
	if tell {
		h.onFault(f)
	}
	return f
}

func (h *storeHealth) err() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.fault
}

// checkFiles returns the store's fault, first looking whether its files are
// still the ones it opened: a database deleted or replaced under a running
// store takes every later commit with it.
func (h *storeHealth) checkFiles() error {
	if err := h.err(); err != nil || h.path == "" {
		return err
	}
	for _, f := range []struct {
		path, what string
		id         fileID
		watched    bool
	}{{h.path, "database file", h.db, true}, {h.path + "-wal", "write-ahead log", h.wal, h.hasWAL}} {
		if !f.watched {
			continue
		}
		id, err := statID(f.path)
		switch {
		case errors.Is(err, os.ErrNotExist):
			return h.setFault(fmt.Errorf("the %s %s was deleted while the store was open: what is committed now would be lost; restart to open a new one", f.what, f.path))
		case err != nil:
			return h.setFault(fmt.Errorf("cannot check the %s %s: %w", f.what, f.path, err))
		case id != f.id:
			return h.setFault(fmt.Errorf("the %s %s was replaced by another file while the store was open; restart to open it", f.what, f.path))
		}
	}
	return nil
}

// isCorruption reports whether err is SQLite finding a malformed database.
func isCorruption(err error) bool {
	var se sqlite3.Error
	if errors.As(err, &se) {
		return se.Code == sqlite3.ErrCorrupt || se.Code == sqlite3.ErrNotADB
	}
	return err != nil && strings.Contains(err.Error(), "database disk image is malformed")
}

// quickCheck runs PRAGMA quick_check, which reads every page of the
// database (not the indexes' agreement with their tables), and fails with
// what it found.
func quickCheck(ctx context.Context, db *sql.DB) (err error) {
	defer func() {
		if isCorruption(err) {
			err = fmt.Errorf("the database is corrupt (PRAGMA quick_check): %w", err)
		}
	}()
	rows, err := db.QueryContext(ctx, "PRAGMA quick_check")
	if err != nil {
		return err
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return err
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(problems) > 0 {
		if len(problems) > 5 {
			problems = append(problems[:5], fmt.Sprintf("and %d more", len(problems)-5))
		}
		return fmt.Errorf("the database is corrupt (PRAGMA quick_check): %s", strings.Join(problems, "; "))
	}
	return nil
}

// Health returns nil while the store can be trusted with writes, or the
// fault that makes it unhealthy (wrapping ErrUnhealthy): its database file
// deleted or replaced under it, or a corrupt page met by a query or a
// write. It looks at the files each time it is called.
func (s *SQLiteStore) Health() error {
	return s.health.checkFiles()
}

// OnFault sets f to be called once, with the fault, when the store first
// turns unhealthy (for logging).
func (s *SQLiteStore) OnFault(f func(error)) {
	s.health.mu.Lock()
	s.health.onFault = f
	s.health.mu.Unlock()
}

// Observe looks at an error a query or a write returned: a corrupt
// database turns the store unhealthy. It returns err.
func (s *SQLiteStore) Observe(err error) error {
	if isCorruption(err) {
		s.health.setFault(fmt.Errorf("corrupt database %s: %w", s.path, err))
	}
	return err
}
