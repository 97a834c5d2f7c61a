package prom

import (
	"errors"
	"fmt"
)

var (
	// ErrUnavailable wraps failures to get an answer from Prometheus: a
	// refused connection, a timeout, an answer that is not Prometheus'.
	ErrUnavailable = errors.New("prometheus is unavailable")
	// ErrNoSpanMetrics is returned when Prometheus holds none of the
	// spanmetrics series the reader needs: the collectors lack the
	// spanmetrics connector, or Prometheus does not scrape them.
	ErrNoSpanMetrics = errors.New("no spanmetrics series in prometheus")
)

// QueryError is an error answer of Prometheus' query API: a query it
// rejected or could not run.
type QueryError struct {
	URL       string
	Code      int    // HTTP status
	ErrorType string // Prometheus' errorType, e.g. bad_data, timeout
	Message   string
}

func (e *QueryError) Error() string {
	return fmt.Sprintf("prometheus query %s answered %d (%s): %s", e.URL, e.Code, e.ErrorType, e.Message)
}
