package collector

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Run is a benchmark run (or a demo session): the traces whose spans carry
// its ID in the stagescope.run_id attribute or tag belong to it.
type Run struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Sweep is the id shared by the runs of one benchmark sweep (one
	// `stagescope bench`); "" for a run outside a sweep.
	Sweep    string          `json:"sweep,omitempty"`
	Config   json.RawMessage `json:"config,omitempty"`
	Started  time.Time       `json:"started"`
	Finished time.Time       `json:"finished,omitzero"`
	Summary  json.RawMessage `json:"summary,omitempty"`
}

// NewID returns a random id for a run or a sweep: 16 hex digits.
func NewID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func jsonText(raw json.RawMessage, what string) (any, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	if !json.Valid(raw) {
		return nil, fmt.Errorf("run %s is not valid JSON", what)
	}
	return string(raw), nil
}

// CreateRun records a run. An empty ID gets a random one and a zero Started
// the current time; the stored run is returned.
func (s *SQLiteStore) CreateRun(ctx context.Context, r Run) (Run, error) {
	if r.ID == "" {
		r.ID = NewID()
	}
	if r.Started.IsZero() {
		r.Started = time.Now()
	}
	cfg, err := jsonText(r.Config, "config")
	if err != nil {
		return Run{}, err
	}
	sum, err := jsonText(r.Summary, "summary")
	if err != nil {
		return Run{}, err
	}
	var fin any
	if !r.Finished.IsZero() {
		fin = r.Finished.UnixNano()
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO runs (id, name, config, started_ns, finished_ns, summary, sweep_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
			r.ID, r.Name, cfg, r.Started.UnixNano(), fin, sum, nullString(r.Sweep))
		return err
	})
	if err != nil {
		return Run{}, fmt.Errorf("cannot create run %q: %w", r.ID, err)
	}
	return s.Run(ctx, r.ID)
}

// FinishRun marks the run finished now and stores its summary (JSON, may be
// nil).
func (s *SQLiteStore) FinishRun(ctx context.Context, id string, summary json.RawMessage) error {
	sum, err := jsonText(summary, "summary")
	if err != nil {
		return err
	}
	var n int64
	err = s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE runs SET finished_ns = ?, summary = coalesce(?, summary) WHERE id = ?", time.Now().UnixNano(), sum, id)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return fmt.Errorf("cannot finish run %q: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("cannot finish run %q: %w", id, ErrNotFound)
	}
	return nil
}

const runColumns = "id, name, config, started_ns, finished_ns, summary, sweep_id"

func scanRun(sc interface{ Scan(...any) error }) (Run, error) {
	var r Run
	var cfg, sum, sweep sql.NullString
	var started int64
	var fin sql.NullInt64
	if err := sc.Scan(&r.ID, &r.Name, &cfg, &started, &fin, &sum, &sweep); err != nil {
		return Run{}, err
	}
	r.Sweep = sweep.String
	r.Started = fromNanos(started)
	if fin.Valid {
		r.Finished = fromNanos(fin.Int64)
	}
	if cfg.Valid {
		r.Config = json.RawMessage(cfg.String)
	}
	if sum.Valid {
		r.Summary = json.RawMessage(sum.String)
	}
	return r, nil
}

// Run returns one run, or ErrNotFound.
func (s *SQLiteStore) Run(ctx context.Context, id string) (Run, error) {
	r, err := scanRun(s.db.QueryRowContext(ctx, "SELECT "+runColumns+" FROM runs WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, fmt.Errorf("run %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return Run{}, fmt.Errorf("cannot read run %q: %w", id, err)
	}
	return r, nil
}

// Runs lists runs, newest first.
func (s *SQLiteStore) Runs(ctx context.Context) ([]Run, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT "+runColumns+" FROM runs ORDER BY started_ns DESC, id")
	if err != nil {
		return nil, fmt.Errorf("cannot list runs: %w", err)
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("cannot list runs: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
