package collector

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Bounds of the service list.
const (
	// MaxServices bounds how many services one list returns: names come
	// from the pipelines, so their number is not ours to trust.
	MaxServices = 1000
	// ServiceCountCap bounds each service's trace count; a count at the cap
	// means "at least".
	ServiceCountCap = 1_000_000
)

// ServiceCount is one service and how many of its traces started in the
// window.
type ServiceCount struct {
	Service string `json:"service"`
	Traces  int64  `json:"traces"`
	// AtLeast is set when Traces reached ServiceCountCap and counting stopped.
	AtLeast bool `json:"at_least,omitempty"`
}

// ServiceList is the answer of Services.
type ServiceList struct {
	Services []ServiceCount `json:"services"`
	// Truncated is set when there were more than MaxServices services.
	Truncated bool `json:"truncated,omitempty"`
	// Partial is set when, without the traces_by_service index, the scan of
	// the window stopped at TraceScanBudget traces: only traces that started
	// at or after ScannedTo were counted.
	Partial   bool      `json:"partial,omitempty"`
	ScannedTo time.Time `json:"scanned_to,omitzero"`
}

// Services lists the services whose traces started in [from, to] (zero
// times are open ends), by name, with their trace counts. With the
// traces_by_service index it skips from one service to the next in the
// index and counts each one's window in the index alone; without it, it
// counts the newest TraceScanBudget traces of the window.
func (s *SQLiteStore) Services(ctx context.Context, from, to time.Time) (ServiceList, error) {
	lo, hi := int64(minNanos), int64(maxNanos)
	if !from.IsZero() {
		lo = from.UnixNano()
	}
	if !to.IsZero() {
		hi = to.UnixNano()
	}
	out := ServiceList{Services: []ServiceCount{}}
	indexed, err := s.hasServiceIndex(ctx)
	if err != nil {
		return out, err
	}
	if !indexed {
		return s.servicesByScan(ctx, lo, hi)
	}
	var name sql.NullString
	err = s.db.QueryRowContext(ctx, "SELECT min(service) FROM traces WHERE service IS NOT NULL").Scan(&name)
	for err == nil && name.Valid {
		if len(out.Services) == MaxServices {
			out.Truncated = true
			break
		}
		var n int64
		err = s.db.QueryRowContext(ctx, sqlServiceCount, name.String, lo, hi, ServiceCountCap).Scan(&n)
		if err != nil {
			break
		}
		if n > 0 {
			out.Services = append(out.Services, ServiceCount{Service: name.String, Traces: n, AtLeast: n >= ServiceCountCap})
		}
		err = s.db.QueryRowContext(ctx, "SELECT min(service) FROM traces WHERE service > ?", name.String).Scan(&name)
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return out, fmt.Errorf("cannot list services: %w", err)
	}
	return out, nil
}

// CountServiceTraces counts one service's traces that started in [from,
// to], up to ServiceCountCap (atLeast is then set). ok is false on a
// database without the traces_by_service index, where only a scan could
// count them.
func (s *SQLiteStore) CountServiceTraces(ctx context.Context, service string, from, to time.Time) (n int64, atLeast, ok bool, err error) {
	indexed, err := s.hasServiceIndex(ctx)
	if err != nil || !indexed {
		return 0, false, false, err
	}
	lo, hi := int64(minNanos), int64(maxNanos)
	if !from.IsZero() {
		lo = from.UnixNano()
	}
	if !to.IsZero() {
		hi = to.UnixNano()
	}
	if err := s.db.QueryRowContext(ctx, sqlServiceCount, service, lo, hi, ServiceCountCap).Scan(&n); err != nil {
		return 0, false, false, fmt.Errorf("cannot count the traces of service %q: %w", service, err)
	}
	return n, n >= ServiceCountCap, true, nil
}

// servicesByScan counts services over the newest TraceScanBudget traces of
// [lo, hi], along traces_by_start.
func (s *SQLiteStore) servicesByScan(ctx context.Context, lo, hi int64) (ServiceList, error) {
	out := ServiceList{Services: []ServiceCount{}}
	rows, err := s.db.QueryContext(ctx, sqlServicesScan, lo, hi, TraceScanBudget)
	if err != nil {
		return out, fmt.Errorf("cannot list services: %w", err)
	}
	defer rows.Close()
	var scanned, oldest int64
	for rows.Next() {
		var name string
		var n, first int64
		if err := rows.Scan(&name, &n, &first); err != nil {
			return out, fmt.Errorf("cannot list services: %w", err)
		}
		scanned += n
		if oldest == 0 || first < oldest {
			oldest = first
		}
		if name != "" {
			out.Services = append(out.Services, ServiceCount{Service: name, Traces: n})
		}
	}
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("cannot list services: %w", err)
	}
	if scanned >= TraceScanBudget {
		out.Partial, out.ScannedTo = true, fromNanos(oldest)
	}
	slices.SortFunc(out.Services, func(a, b ServiceCount) int { return strings.Compare(a.Service, b.Service) })
	if len(out.Services) > MaxServices {
		out.Services, out.Truncated = out.Services[:MaxServices], true
	}
	return out, nil
}

// The open ends of a window, in Unix nanoseconds.
const (
	minNanos = -1 << 63
	maxNanos = 1<<63 - 1
)

var (
	sqlServiceCount = mustSQL("service_count.sql")
	sqlServicesScan = mustSQL("services_scan.sql")
)
