package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// FS holds the migration files, named NNNN_description.sql.
//
//go:embed *.sql
var FS embed.FS

// Migration is one versioned schema change.
type Migration struct {
	Version int    // the NNNN prefix of the file name, from 1 upwards without gaps
	Name    string // the file name
	SQL     string // the statements
}

// All returns every migration, in version order. It panics if the embedded
// files are misnamed or have a gap, which a test catches at build time.
func All() []Migration {
	ms, err := parse(FS)
	if err != nil {
		panic(err)
	}
	return ms
}

// Latest returns the highest version.
func Latest() int {
	ms := All()
	return ms[len(ms)-1].Version
}

func parse(fsys fs.FS) ([]Migration, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, fmt.Errorf("cannot list migrations: %w", err)
	}
	var ms []Migration
	for _, n := range names {
		prefix, _, ok := strings.Cut(path.Base(n), "_")
		v, err := strconv.Atoi(prefix)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration file %q: want NNNN_name.sql", n)
		}
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, fmt.Errorf("cannot read migration %q: %w", n, err)
		}
		ms = append(ms, Migration{Version: v, Name: n, SQL: string(b)})
	}
	slices.SortFunc(ms, func(a, b Migration) int { return a.Version - b.Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration %q: version %d where %d was expected (gap or duplicate)", m.Name, m.Version, i+1)
		}
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("no migrations embedded")
	}
	return ms, nil
}

// Version returns the schema version recorded in db (0 for a new file).
func Version(ctx context.Context, db *sql.DB) (int, error) {
	var v int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("cannot read schema version: %w", err)
	}
	return v, nil
}

// Apply brings db to the latest version.
func Apply(ctx context.Context, db *sql.DB) (applied int, err error) {
	return ApplyTo(ctx, db, Latest())
}

// ApplyTo brings db up to version target (used by tests to build every
// earlier version). It returns how many migrations ran. A database newer than
// this binary is an error: its tables may mean something this code does not
// know.
func ApplyTo(ctx context.Context, db *sql.DB, target int) (applied int, err error) {
	ms := All()
	if target < 0 || target > len(ms) {
		return 0, fmt.Errorf("cannot migrate to version %d: known versions are 0..%d", target, len(ms))
	}
	cur, err := Version(ctx, db)
	if err != nil {
		return 0, err
	}
	if cur > len(ms) {
		return 0, fmt.Errorf("database schema version %d is newer than this binary's %d", cur, len(ms))
	}
	for _, m := range ms[cur:target] {
		if err := applyOne(ctx, db, m); err != nil {
			return applied, err
		}
		applied++
	}
	return applied, nil
}

func applyOne(ctx context.Context, db *sql.DB, m Migration) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migration %s: cannot begin: %w", m.Name, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return fmt.Errorf("migration %s failed: %w", m.Name, err)
	}
	// PRAGMA takes no bound parameters; the version is an int we made.
	if _, err := tx.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(m.Version)); err != nil {
		return fmt.Errorf("migration %s: cannot record version: %w", m.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migration %s: cannot commit: %w", m.Name, err)
	}
	return nil
}
