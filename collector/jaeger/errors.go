package jaeger

import (
	"errors"
	"fmt"
	"time"
)

// Retry schedule of the OTLP exporter when retries are on.
const (
	retryInitial = 500 * time.Millisecond
	retryMax     = 5 * time.Second
	retryElapsed = 30 * time.Second
)

var (
	// ErrShutdown is returned by an exporter used after Shutdown.
	ErrShutdown = errors.New("jaeger exporter is shut down")
	// ErrTraceNotFound is returned by GetTrace when Jaeger has no such trace.
	ErrTraceNotFound = errors.New("trace not found in Jaeger")
	// ErrMalformedAnswer wraps answers of the query API that cannot be
	// decoded.
	ErrMalformedAnswer = errors.New("malformed answer from Jaeger")
)

// StatusError is a non-200 answer of the Jaeger query API.
type StatusError struct {
	URL     string
	Code    int    // HTTP status
	Message string // Jaeger's error message, or the start of the body

	fromJaeger bool // the body was Jaeger's own error object
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("jaeger query %s answered %d: %s", e.URL, e.Code, e.Message)
}
