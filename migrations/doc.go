// Package migrations holds stagescope's SQLite schema as versioned SQL files
// (NNNN_name.sql, embedded with go:embed) and the small runner that applies
// them.
//
// The runner keeps the schema version in SQLite's own PRAGMA user_version and
// applies every file numbered above it, each in its own transaction together
// with the version bump, so a crash between two files leaves the database at
// a clean earlier version. A dedicated migration library (goose) was
// considered: its provider API would add a module, a version table and
// dialect machinery for one embedded database with forward-only migrations,
// while user_version is atomic with the schema change, costs no table and
// needs only database/sql. Down migrations are deliberately absent: the
// database is a cache of traces, and a downgrade is a fresh file.
//
// The package depends on the standard library only. It must not know about
// spans or the collector; it only creates and alters tables. The collector
// calls Apply before it accepts a single span.
package migrations
