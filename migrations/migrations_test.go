package migrations

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	_ "github.com/mattn/go-sqlite3"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func openDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

func tables(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query("SELECT name FROM sqlite_master WHERE type IN ('table','index') AND name NOT LIKE 'sqlite_%' ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	return out
}

func TestFromScratch(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	n, err := Apply(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if n != Latest() || Latest() != 9 {
		t.Fatalf("applied %d of latest %d, want 9", n, Latest())
	}
	got := strings.Join(tables(t, db), ",")
	want := "chunk_dicts,chunks,drops,events,resources,resources_by_hash,runs,spans,stage_rollups,token_rollups,trace_blocks,trace_ids,traces,traces_by_chunk,traces_by_run,traces_by_service,traces_by_start"
	if got != want {
		t.Fatalf("tables %s, want %s", got, want)
	}
	// Applying again is a no-op.
	if n, err := Apply(ctx, db); err != nil || n != 0 {
		t.Fatalf("second Apply: %d, %v", n, err)
	}
}

// TestUpgradeFromEveryVersion builds a database at each earlier version, puts
// data in it, and upgrades: the data survives and the version is the latest.
func TestUpgradeFromEveryVersion(t *testing.T) {
	ctx := context.Background()
	for from := 0; from < Latest(); from++ {
		db := openDB(t)
		if _, err := ApplyTo(ctx, db, from); err != nil {
			t.Fatal(err)
		}
		if v, _ := Version(ctx, db); v != from {
			t.Fatalf("at version %d, want %d", v, from)
		}
		if from >= 1 {
			if _, err := db.Exec(`INSERT INTO spans(id,trace_id,span_id,name,stage,start_ns,end_ns,status) VALUES (7,x'01',x'02','q',9,1,2,1)`); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(`INSERT INTO traces(trace_id,start_ns,end_ns,span_count,error_count,stages,run_id) VALUES (x'01',1,2,1,0,512,'r1')`); err != nil {
				t.Fatal(err)
			}
		}
		if from >= 2 {
			if _, err := db.Exec(`INSERT INTO drops(minute,spans) VALUES (5,3)`); err != nil {
				t.Fatal(err)
			}
		}
		n, err := Apply(ctx, db)
		if err != nil {
			t.Fatalf("upgrade from %d: %v", from, err)
		}
		if n != Latest()-from {
			t.Fatalf("upgrade from %d ran %d migrations, want %d", from, n, Latest()-from)
		}
		if v, _ := Version(ctx, db); v != Latest() {
			t.Fatalf("after upgrade from %d: version %d", from, v)
		}
		if from >= 1 {
			var name string
			var run string
			if err := db.QueryRow(`SELECT s.name, t.run_id FROM spans s JOIN traces t ON t.trace_id = s.trace_id WHERE s.id = 7`).Scan(&name, &run); err != nil || name != "q" || run != "r1" {
				t.Fatalf("upgrade from %d lost data: %q %q %v", from, name, run, err)
			}
			// The index added later covers the old row.
			var c int
			if err := db.QueryRow(`SELECT count(*) FROM traces INDEXED BY traces_by_run WHERE run_id = 'r1'`).Scan(&c); err != nil || c != 1 {
				t.Fatalf("run index after upgrade from %d: %d %v", from, c, err)
			}
		}
		if from >= 2 {
			var c int
			if err := db.QueryRow(`SELECT spans FROM drops WHERE minute = 5`).Scan(&c); err != nil || c != 3 {
				t.Fatalf("drops after upgrade from %d: %d %v", from, c, err)
			}
		}
		db.Close()
	}
}

func TestNewerDatabaseIsRefused(t *testing.T) {
	db := openDB(t)
	if _, err := db.Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	_, err := Apply(context.Background(), db)
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("want a 'newer' error, got %v", err)
	}
}

func TestFailedMigrationLeavesEarlierVersion(t *testing.T) {
	// A broken statement in a later file must roll back that file whole.
	ms, err := parse(fstest.MapFS{
		"0001_a.sql": {Data: []byte("CREATE TABLE a (x);")},
		"0002_b.sql": {Data: []byte("CREATE TABLE b (x); CREATE TABLE a (y);")},
	})
	if err != nil {
		t.Fatal(err)
	}
	db := openDB(t)
	ctx := context.Background()
	if err := applyOne(ctx, db, ms[0]); err != nil {
		t.Fatal(err)
	}
	if err := applyOne(ctx, db, ms[1]); err == nil {
		t.Fatal("broken migration succeeded")
	}
	if v, _ := Version(ctx, db); v != 1 {
		t.Fatalf("version %d after failed migration, want 1", v)
	}
	if got := strings.Join(tables(t, db), ","); got != "a" {
		t.Fatalf("tables %q: table b of the failed migration survived", got)
	}
}

func TestParseRejectsGapsAndBadNames(t *testing.T) {
	for name, fsys := range map[string]fstest.MapFS{
		"gap":     {"0001_a.sql": {}, "0003_c.sql": {}},
		"dup":     {"0001_a.sql": {}, "0001_b.sql": {}},
		"badname": {"first.sql": {}},
		"empty":   {},
	} {
		if _, err := parse(fsys); err == nil {
			t.Errorf("%s: parse accepted it", name)
		}
	}
	ms, err := parse(FS)
	if err != nil || len(ms) != Latest() {
		t.Fatalf("embedded migrations: %d, %v", len(ms), err)
	}
}
