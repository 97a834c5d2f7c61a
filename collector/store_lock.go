package collector

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"syscall"

	"github.com/stagescope/stagescope/migrations"
)

// lockWriter takes an exclusive, non-blocking flock on the database file
// itself (created empty if missing, which SQLite takes for a new
// database), held until the store closes; the kernel drops it if the
// process dies, so a crash never leaves a stale lock. Locking the file that
// holds the data, rather than a lock file beside it, means no file can be
// deleted to let a second writer in: a second writer of the same data
// must open the same inode and finds it locked. (flock and the POSIX locks
// SQLite takes on the same file are independent on Linux.)
func lockWriter(dbPath string) (*os.File, error) {
	f, err := os.OpenFile(dbPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cannot open the database file to lock it: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (stop it, or open this one read-only)", ErrLocked)
		}
		return nil, fmt.Errorf("cannot lock %s: %w", dbPath, err)
	}
	return f, nil
}

// dirWritable reports whether this process may create files in dir.
func dirWritable(dir string) bool {
	return syscall.Access(dir, 2 /* W_OK */) == nil
}

// openReadOnly opens only the query connections of an existing database.
func openReadOnly(ctx context.Context, path, abs string, cfg storeConfig) (*SQLiteStore, error) {
	if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("cannot open store %q read-only: %w", path, err)
	}
	db, err := sql.Open("sqlite3", dsn(abs, cfg, false))
	if err != nil {
		return nil, fmt.Errorf("cannot open store %q read-only: %w", path, err)
	}
	db.SetMaxOpenConns(cfg.readConns)
	db.SetMaxIdleConns(cfg.readConns)
	v, err := migrations.Version(ctx, db)
	if err != nil && !dirWritable(filepath.Dir(abs)) {
		// A WAL database is read through a shared-memory file beside it,
		// which a read-only directory or file system cannot hold: read the
		// file as immutable instead (what a running writer has not yet
		// checkpointed into it is not seen).
		db.Close()
		if db, err = sql.Open("sqlite3", "file:"+(&url.URL{Path: abs}).EscapedPath()+"?mode=ro&immutable=1"); err != nil {
			return nil, fmt.Errorf("cannot open store %q read-only: %w", path, err)
		}
		db.SetMaxOpenConns(cfg.readConns)
		db.SetMaxIdleConns(cfg.readConns)
		if v, err = migrations.Version(ctx, db); err != nil {
			db.Close()
			return nil, fmt.Errorf("cannot open store %q read-only: its directory is not writable (a WAL database needs %s-shm beside it) and reading it as immutable failed: %w", path, filepath.Base(abs), err)
		}
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("cannot open store %q read-only: %w", path, err)
	}
	if v != migrations.Latest() {
		db.Close()
		return nil, fmt.Errorf("cannot open store %q read-only: its schema is version %d, this stagescope needs %d (open it once for writing, for example with serve, to upgrade it)", path, v, migrations.Latest())
	}
	s := &SQLiteStore{path: abs, db: db, rollups: map[rollupKey]*rollupRow{}, index: newFollowingIndex()}
	s.dicts.preload(ctx, db)
	return s, nil
}
