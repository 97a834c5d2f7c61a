package collector

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"

	"github.com/stagescope/stagescope/migrations"
)

// Defaults of the SQLite store.
const (
	// DefaultReadConns is how many connections serve queries. WAL lets them
	// read while the single writer appends.
	DefaultReadConns = 4
	// DefaultCacheBytes is SQLite's page cache per connection. The writer's
	// cache keeps the hot right edge of the append-only tables and most of
	// the traces B-tree in memory.
	DefaultCacheBytes = 32 << 20
	// DefaultBusyTimeout is how long a connection waits for a lock.
	DefaultBusyTimeout = 10 * time.Second
)

var (
	// ErrNotFound is returned when a trace or run does not exist.
	ErrNotFound = errors.New("not found")
	// ErrClosed is returned by a closed store or a shut-down collector.
	ErrClosed = errors.New("collector closed")
	// ErrReadOnly is returned by the write methods of a store opened with
	// WithReadOnly.
	ErrReadOnly = errors.New("store is open read-only")
	// ErrLocked is wrapped by OpenSQLite when another process (or another
	// store in this one) writes the database: one writer keeps the next row
	// ids and the rollups in memory, so two would corrupt each other's work.
	ErrLocked = errors.New("database is being written by another stagescope store")
)

//go:embed sql/*.sql
var sqlFS embed.FS

func mustSQL(name string) string {
	b, err := sqlFS.ReadFile("sql/" + name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

type storeConfig struct {
	readConns   int
	cacheBytes  int64
	busyTimeout time.Duration
	readOnly    bool
}

// WithReadOnly opens the store for queries only — no writer, no lock, no
// migration — so a report or an export can read a database that a running
// serve is writing. The schema must already be at the latest version.
func WithReadOnly() StoreOption { return func(c *storeConfig) { c.readOnly = true } }

// StoreOption configures OpenSQLite.
type StoreOption func(*storeConfig)

// WithReadConns sets the number of query connections (DefaultReadConns).
func WithReadConns(n int) StoreOption {
	return func(c *storeConfig) {
		if n > 0 {
			c.readConns = n
		}
	}
}

// WithCacheBytes sets SQLite's page cache per connection (DefaultCacheBytes).
func WithCacheBytes(n int64) StoreOption {
	return func(c *storeConfig) {
		if n > 0 {
			c.cacheBytes = n
		}
	}
}

// WithBusyTimeout sets how long a statement waits for a lock held by another
// connection or process (DefaultBusyTimeout).
func WithBusyTimeout(d time.Duration) StoreOption {
	return func(c *storeConfig) {
		if d > 0 {
			c.busyTimeout = d
		}
	}
}

// SQLiteStore keeps spans, events, per-stage rollups, drop counters and
// benchmark runs in one SQLite file. All writes go through one connection
// guarded by a mutex; queries use a small pool of read connections. It is
// safe for concurrent use.
type SQLiteStore struct {
	path string
	lock *os.File // the writer's lock on path+".lock"; nil when read-only
	db   *sql.DB  // queries
	wdb  *sql.DB  // exactly one connection: the writer

	wmu         sync.Mutex // guards everything below
	wconn       *sql.Conn
	stmts       *writeStmts
	nextSpanID  int64
	nextEventID int64
	rollups     map[rollupKey]*rollupRow
	closed      bool
}

// writeStmts are the hot-path statements, prepared once on the writer's
// driver connection and executed without database/sql's per-call overhead.
type writeStmts struct {
	insertSpan, insertEvent, upsertTrace, selectRollup, upsertRollup, addDrops driver.Stmt
}

func dsn(path string, cfg storeConfig, write bool) string {
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "NORMAL")
	q.Set("_busy_timeout", strconv.FormatInt(cfg.busyTimeout.Milliseconds(), 10))
	q.Set("_cache_size", strconv.FormatInt(-cfg.cacheBytes/1024, 10))
	if write {
		// Takes effect only when the file is new: deleted pages can then be
		// returned to the file system by retention.
		q.Set("_auto_vacuum", "incremental")
		q.Set("_txlock", "immediate")
	} else {
		q.Set("_query_only", "true")
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// OpenSQLite opens (creating it if needed) the database at path in WAL mode
// with synchronous=NORMAL, and brings its schema to the latest version
// before returning, so nothing is accepted against an old schema.
func OpenSQLite(path string, opts ...StoreOption) (*SQLiteStore, error) {
	cfg := storeConfig{readConns: DefaultReadConns, cacheBytes: DefaultCacheBytes, busyTimeout: DefaultBusyTimeout}
	for _, o := range opts {
		o(&cfg)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("cannot open store %q: %w", path, err)
	}
	if dir := filepath.Dir(abs); dir != "" {
		if _, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("cannot open store %q: %w", path, err)
		}
	}
	ctx := context.Background()
	if cfg.readOnly {
		return openReadOnly(ctx, path, abs, cfg)
	}
	lock, err := lockWriter(abs)
	if err != nil {
		return nil, fmt.Errorf("cannot open store %q: %w", path, err)
	}
	wdb, err := sql.Open("sqlite3", dsn(abs, cfg, true))
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("cannot open store %q: %w", path, err)
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetConnMaxLifetime(0)
	wdb.SetConnMaxIdleTime(0)
	s := &SQLiteStore{path: abs, lock: lock, wdb: wdb, rollups: map[rollupKey]*rollupRow{}}
	fail := func(what string, err error) (*SQLiteStore, error) {
		s.closeAll()
		return nil, fmt.Errorf("cannot open store %q: %s: %w", path, what, err)
	}
	if _, err := migrations.Apply(ctx, wdb); err != nil {
		return fail("migrating schema", err)
	}
	if _, err := wdb.ExecContext(ctx, "PRAGMA temp_store = MEMORY"); err != nil {
		return fail("setting temp_store", err)
	}
	if s.wconn, err = wdb.Conn(ctx); err != nil {
		return fail("connecting writer", err)
	}
	if err := s.prepare(); err != nil {
		return fail("preparing statements", err)
	}
	if err := s.loadNextIDs(ctx); err != nil {
		return fail("reading ids", err)
	}
	s.db, err = sql.Open("sqlite3", dsn(abs, cfg, false))
	if err != nil {
		return fail("opening readers", err)
	}
	s.db.SetMaxOpenConns(cfg.readConns)
	s.db.SetMaxIdleConns(cfg.readConns)
	if err := s.db.PingContext(ctx); err != nil {
		return fail("connecting readers", err)
	}
	return s, nil
}

func (s *SQLiteStore) prepare() error {
	return s.wconn.Raw(func(dc any) error {
		c := dc.(*sqlite3.SQLiteConn)
		st := &writeStmts{}
		for _, p := range []struct {
			dst  *driver.Stmt
			file string
		}{
			{&st.insertSpan, "insert_span.sql"},
			{&st.insertEvent, "insert_event.sql"},
			{&st.upsertTrace, "upsert_trace.sql"},
			{&st.selectRollup, "select_rollup.sql"},
			{&st.upsertRollup, "upsert_rollup.sql"},
			{&st.addDrops, "add_drops.sql"},
		} {
			stmt, err := c.Prepare(mustSQL(p.file))
			if err != nil {
				st.close()
				return fmt.Errorf("%s: %w", p.file, err)
			}
			*p.dst = stmt
		}
		s.stmts = st
		return nil
	})
}

func (st *writeStmts) close() {
	for _, p := range []driver.Stmt{st.insertSpan, st.insertEvent, st.upsertTrace, st.selectRollup, st.upsertRollup, st.addDrops} {
		if p != nil {
			p.Close()
		}
	}
}

func (s *SQLiteStore) loadNextIDs(ctx context.Context) error {
	if err := s.wconn.QueryRowContext(ctx, "SELECT coalesce(max(id), 0) + 1 FROM spans").Scan(&s.nextSpanID); err != nil {
		return err
	}
	return s.wconn.QueryRowContext(ctx, "SELECT coalesce(max(id), 0) + 1 FROM events").Scan(&s.nextEventID)
}

// Path returns the database file's absolute path.
func (s *SQLiteStore) Path() string { return s.path }

// DB returns the read-only connection pool, for ad-hoc queries and tests.
// Writing through it fails (query_only).
func (s *SQLiteStore) DB() *sql.DB { return s.db }

// Close closes the store. A Collector using it must be shut down first.
func (s *SQLiteStore) Close() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.closeAll()
}

func (s *SQLiteStore) closeAll() error {
	var errs []error
	if s.stmts != nil && s.wconn != nil {
		_ = s.wconn.Raw(func(any) error { s.stmts.close(); return nil })
		s.stmts = nil
	}
	if s.wconn != nil {
		// Fold the WAL back into the main file so a copied .db is complete.
		_, _ = s.wconn.ExecContext(context.Background(), "PRAGMA wal_checkpoint(TRUNCATE)")
		errs = append(errs, s.wconn.Close())
	}
	if s.db != nil {
		errs = append(errs, s.db.Close())
	}
	if s.wdb != nil {
		errs = append(errs, s.wdb.Close())
	}
	if s.lock != nil {
		errs = append(errs, s.lock.Close()) // closing releases the flock
		s.lock = nil
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cannot close store %q: %w", s.path, err)
	}
	return nil
}

// rawWrite runs fn on the writer's driver connection with the write lock
// held.
func (s *SQLiteStore) rawWrite(fn func(c *sqlite3.SQLiteConn, st *writeStmts) error) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.wconn == nil {
		return ErrReadOnly
	}
	return s.wconn.Raw(func(dc any) error { return fn(dc.(*sqlite3.SQLiteConn), s.stmts) })
}

// write runs fn in a transaction on the writer connection (for the cold
// paths: runs, retention).
func (s *SQLiteStore) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.wconn == nil {
		return ErrReadOnly
	}
	tx, err := s.wconn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

var bg = context.Background()

func execStmt(st driver.Stmt, args []driver.NamedValue) error {
	_, err := st.(driver.StmtExecContext).ExecContext(bg, args)
	return err
}

func execConn(c *sqlite3.SQLiteConn, query string) error {
	_, err := c.ExecContext(bg, query, nil)
	return err
}

// nanos converts a time to stored Unix nanoseconds; the zero time is 0.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromNanos is the inverse of nanos, in UTC.
func fromNanos(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}
