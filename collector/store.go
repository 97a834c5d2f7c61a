package collector

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"

	"github.com/stagescope/stagescope/migrations"
	"github.com/stagescope/stagescope/spans"
)

// Defaults of the SQLite store.
const (
	// DefaultReadConns is how many connections serve queries. WAL lets them
	// read while the single writer appends.
	DefaultReadConns = 4
	// DefaultCacheBytes is SQLite's page cache of the writer's connection:
	// the right edges of the append-only tables and indexes it writes, and
	// the pages its rare duplicate checks read. Since every write appends,
	// more does not make ingest faster, only RSS higher.
	DefaultCacheBytes = 16 << 20
	// readCacheShare is how much smaller a query connection's cache is
	// than the writer's.
	readCacheShare = 4
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
	blockTraces int
}

// WithReadOnly opens the store for queries only — no writer, no lock, no
// migration — so a report or an export can read a database that a running
// serve is writing. The schema must already be at the latest version.
func WithReadOnly() StoreOption { return func(c *storeConfig) { c.readOnly = true } }

// WithBlockTraces sets how many traces the head block holds before it is
// sealed (DefaultBlockTraces).
func WithBlockTraces(n int) StoreOption {
	return func(c *storeConfig) {
		if n > 0 {
			c.blockTraces = n
		}
	}
}

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

// WithCacheBytes sets SQLite's page cache of the writer's connection
// (DefaultCacheBytes); each query connection gets a quarter of it.
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
	lock *os.File // the writer's flock on the database file; nil when read-only
	db   *sql.DB  // queries
	wdb  *sql.DB  // exactly one connection: the writer

	wmu   sync.Mutex // guards everything below
	wconn *sql.Conn
	stmts *writeStmts
	// The next rows of traces and chunks: the single writer assigns them.
	nextTraceRow int64
	nextChunkID  int64
	blockTraces  int
	rollups      map[rollupKey]*rollupRow
	// resourceIDs maps a resource's encoded attributes to its row in
	// resources (see internResource); bounded by resourceCacheLimit.
	resourceIDs map[string]int64
	closed      bool

	// index finds a trace's row by its id (its own lock).
	index *traceIndex

	// resources caches resources read back, by id, so the spans of one
	// resource share one *spans.Resource; bounded by resourceCacheLimit.
	resMu     sync.RWMutex
	resources map[int64]*spans.Resource

	// dicts decodes chunks compressed with a dictionary (chunkdict.go).
	dicts chunkDicts

	health storeHealth // see store_health.go
}

// resourceCacheLimit bounds the writer's and the readers' maps of
// resources. A well-behaved source has a handful; one that puts a process id
// or a request id in its resource makes many, and then only costs a lookup
// in the resources_by_hash index when a forgotten one comes back.
const resourceCacheLimit = 4096

// writeStmts are the hot-path statements, prepared once on the writer's
// driver connection and executed without database/sql's per-call overhead.
type writeStmts struct {
	insertTrace, updateTrace, insertChunk, traceInBlock, selectRollup, upsertRollup, addDrops driver.Stmt
	selectTokenRollup, upsertTokenRollup                                                      driver.Stmt
	// Off the hot path: duplicate checks of traces that already have spans,
	// resources, and sealing a block.
	traceStored, selectChunk, selectChunkKeys, spanIDsInRange, findResource, insertResource, insertTraceID, insertBlock driver.Stmt
	// Recording a chunk dictionary.
	insertChunkDict, countChunks driver.Stmt
}

func (st *writeStmts) all() []driver.Stmt {
	return []driver.Stmt{st.insertTrace, st.updateTrace, st.insertChunk, st.traceInBlock, st.selectRollup, st.upsertRollup, st.addDrops,
		st.selectTokenRollup, st.upsertTokenRollup,
		st.traceStored, st.selectChunk, st.selectChunkKeys, st.spanIDsInRange, st.findResource, st.insertResource, st.insertTraceID, st.insertBlock,
		st.insertChunkDict, st.countChunks}
}

func dsn(path string, cfg storeConfig, write bool) string {
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "NORMAL")
	q.Set("_busy_timeout", strconv.FormatInt(cfg.busyTimeout.Milliseconds(), 10))
	cache := cfg.cacheBytes
	if !write {
		// A query reads a few index pages and the chunks of the traces it
		// returns, which it will not read again soon: a report reading
		// thousands of traces on four connections would otherwise fill
		// four full caches with chunks (+100 MB of RSS at 100M spans).
		cache = max(cache/readCacheShare, 1<<20)
	}
	q.Set("_cache_size", strconv.FormatInt(-cache/1024, 10))
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
	cfg := storeConfig{readConns: DefaultReadConns, cacheBytes: DefaultCacheBytes, busyTimeout: DefaultBusyTimeout, blockTraces: DefaultBlockTraces}
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
	if err := setPageSize(ctx, lock, abs); err != nil {
		lock.Close()
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
	s := &SQLiteStore{path: abs, lock: lock, wdb: wdb, rollups: map[rollupKey]*rollupRow{}, resourceIDs: map[string]int64{},
		index: newTraceIndex(), blockTraces: cfg.blockTraces}
	fail := func(what string, err error) (*SQLiteStore, error) {
		s.closeAll()
		return nil, fmt.Errorf("cannot open store %q: %s: %w", path, what, err)
	}
	if err := quickCheck(ctx, wdb); err != nil {
		return fail("checking integrity", err)
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
	if err := s.health.watchFiles(abs); err != nil {
		return fail("watching files", err)
	}
	if err := s.index.load(ctx, s.db, s.wconn); err != nil {
		return fail("loading the trace index", err)
	}
	s.dicts.preload(ctx, s.db)
	return s, nil
}

// PageSize is the page size of a new database. A small writer batch
// stores a chunk of 1–3 KB: in 4 KiB pages two fit and a quarter of each
// page stayed empty (a third of the demo's chunk pages); in 8 KiB pages
// about a tenth does. 16 KiB pages waste less per chunk but a small store
// pays a mostly empty page per table and index.
const PageSize = 8 << 10

// setPageSize gives a new, empty database file (lock holds it open) the
// page size PageSize; it must be set before the first write, which the
// switch to WAL mode on connecting is. Existing databases keep theirs.
func setPageSize(ctx context.Context, lock *os.File, path string) error {
	if fi, err := lock.Stat(); err != nil || fi.Size() != 0 {
		return err
	}
	db, err := sql.Open("sqlite3", "file:"+(&url.URL{Path: path}).EscapedPath())
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "PRAGMA page_size = "+strconv.Itoa(PageSize)); err != nil {
		return fmt.Errorf("cannot set the page size: %w", err)
	}
	if _, err := db.ExecContext(ctx, "VACUUM"); err != nil {
		return fmt.Errorf("cannot set the page size: %w", err)
	}
	return nil
}

func (s *SQLiteStore) prepare() error {
	return s.wconn.Raw(func(dc any) error {
		c := dc.(*sqlite3.SQLiteConn)
		st := &writeStmts{}
		for _, p := range []struct {
			dst  *driver.Stmt
			file string
		}{
			{&st.insertTrace, "insert_trace.sql"},
			{&st.updateTrace, "update_trace.sql"},
			{&st.insertChunk, "insert_chunk.sql"},
			{&st.traceInBlock, "trace_in_block.sql"},
			{&st.traceStored, "trace_stored.sql"},
			{&st.selectChunk, "select_chunk.sql"},
			{&st.selectChunkKeys, "select_chunk_keys.sql"},
			{&st.insertTraceID, "insert_trace_id.sql"},
			{&st.insertBlock, "insert_block.sql"},
			{&st.spanIDsInRange, "span_ids_in_range.sql"},
			{&st.findResource, "find_resource.sql"},
			{&st.insertResource, "insert_resource.sql"},
			{&st.selectRollup, "select_rollup.sql"},
			{&st.upsertRollup, "upsert_rollup.sql"},
			{&st.selectTokenRollup, "select_token_rollup.sql"},
			{&st.upsertTokenRollup, "upsert_token_rollup.sql"},
			{&st.addDrops, "add_drops.sql"},
			{&st.insertChunkDict, "insert_chunk_dict.sql"},
			{&st.countChunks, "count_chunks.sql"},
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
	for _, p := range st.all() {
		if p != nil {
			p.Close()
		}
	}
}

func (s *SQLiteStore) loadNextIDs(ctx context.Context) error {
	if err := s.wconn.QueryRowContext(ctx, "SELECT coalesce(max(id), 0) + 1 FROM traces").Scan(&s.nextTraceRow); err != nil {
		return err
	}
	return s.wconn.QueryRowContext(ctx, "SELECT coalesce(max(id), 0) + 1 FROM chunks").Scan(&s.nextChunkID)
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
	s.dicts.close()
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

// internResource returns the id of the resources row holding attrs (a
// resource's attributes in appendAttrs's encoding), inserting the row the
// first time. Called by the writer, with the write lock held, inside the
// batch transaction; a failed batch clears resourceIDs, since the rows it
// inserted are rolled back.
func (s *SQLiteStore) internResource(st *writeStmts, attrs []byte, args []driver.NamedValue) (int64, error) {
	if id, ok := s.resourceIDs[string(attrs)]; ok {
		return id, nil
	}
	h := fnv.New64a()
	h.Write(attrs)
	hash := int64(h.Sum64())
	args = nv(args, hash)
	rows, err := st.findResource.(driver.StmtQueryContext).QueryContext(bg, args)
	if err != nil {
		return 0, fmt.Errorf("cannot find resource: %w", err)
	}
	var id int64
	vals := make([]driver.Value, 2)
	for id == 0 {
		err := rows.Next(vals)
		if err == io.EOF {
			break
		}
		if err != nil {
			rows.Close()
			return 0, fmt.Errorf("cannot find resource: %w", err)
		}
		if b, _ := vals[1].([]byte); bytes.Equal(b, attrs) {
			id = vals[0].(int64)
		}
	}
	rows.Close()
	if id == 0 {
		res, err := st.insertResource.(driver.StmtExecContext).ExecContext(bg, nv(args, hash, attrs))
		if err != nil {
			return 0, fmt.Errorf("cannot insert resource: %w", err)
		}
		if id, err = res.LastInsertId(); err != nil {
			return 0, fmt.Errorf("cannot insert resource: %w", err)
		}
	}
	if s.resourceIDs == nil || len(s.resourceIDs) >= resourceCacheLimit {
		s.resourceIDs = map[string]int64{}
	}
	s.resourceIDs[string(attrs)] = id
	return id, nil
}

// rowQuerier is a *sql.Conn, *sql.DB or *sql.Tx.
type rowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// resource returns the resource with the given id, from the cache or read
// through q, so that every span of one resource read back shares one
// *spans.Resource (immutable: callers must not modify it).
func (s *SQLiteStore) resource(ctx context.Context, q rowQuerier, id int64) (*spans.Resource, error) {
	s.resMu.RLock()
	r, ok := s.resources[id]
	s.resMu.RUnlock()
	if ok {
		return r, nil
	}
	var b []byte
	if err := q.QueryRowContext(ctx, sqlGetResource, id).Scan(&b); err != nil {
		return nil, fmt.Errorf("cannot read resource %d: %w", id, err)
	}
	attrs, err := decodeAttrs(b)
	if err != nil {
		return nil, fmt.Errorf("resource %d: %w", id, err)
	}
	s.resMu.Lock()
	defer s.resMu.Unlock()
	if r, ok := s.resources[id]; ok {
		return r, nil // another reader was first: share its pointer
	}
	if s.resources == nil || len(s.resources) >= resourceCacheLimit {
		s.resources = map[int64]*spans.Resource{}
	}
	r = &spans.Resource{Attrs: attrs}
	s.resources[id] = r
	return r, nil
}

// scanLegacySpan reads one row of the spans table (rows written before
// migration 0006: trace id, span id, parent id, name, stage, start, end,
// status, body) into sp.
func (s *SQLiteStore) scanLegacySpan(ctx context.Context, q rowQuerier, rows *sql.Rows, sp *spans.Span) error {
	var tid, sid, pid, body []byte
	var stage, start, end, status int64
	if err := rows.Scan(&tid, &sid, &pid, &sp.Name, &stage, &start, &end, &status, &body); err != nil {
		return err
	}
	copy(sp.TraceID[:], tid)
	copy(sp.SpanID[:], sid)
	copy(sp.ParentID[:], pid)
	sp.Stage, sp.Status = spans.Stage(stage), spans.Status(status)
	sp.Start, sp.End = fromNanos(start), fromNanos(end)
	if err := s.decodeStoredSpan(ctx, q, body, sp); err != nil {
		return fmt.Errorf("span %s: %w", sp.SpanID, err)
	}
	return nil
}

// decodeStoredSpan fills the body fields of sp from a stored body and
// resolves its resource through q (the connection the span was read on).
func (s *SQLiteStore) decodeStoredSpan(ctx context.Context, q rowQuerier, body []byte, sp *spans.Span) error {
	rid, err := decodeSpanBodyResource(body, sp)
	if err != nil || rid == 0 {
		return err
	}
	sp.Resource, err = s.resource(ctx, q, rid)
	return err
}

var sqlGetResource = mustSQL("get_resource.sql")
