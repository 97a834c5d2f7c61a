package retry

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Reasons for giving up, as GaveUp events and Error report them.
const (
	ReasonMaxTries     = "max_tries"
	ReasonNotRetryable = "not_retryable"
	ReasonContext      = "context"
)

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying; errors.Is and errors.As still
// see through it. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err, or an error it wraps, was marked with
// Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// RetryAfter is implemented by errors that know how long to wait before the
// next attempt (an HTTP 429 with a Retry-After header, say). Do honours the
// delay, capped by the maximum backoff, instead of its own jitter.
type RetryAfter interface {
	RetryAfter() time.Duration
}

// Error is what Do returns when it gives up. It wraps the last attempt's
// error, and the context's error when the context ended the retries, so
// errors.Is works for both.
type Error struct {
	Op       string
	Attempts int    // attempts made
	Reason   string // ReasonMaxTries, ReasonNotRetryable or ReasonContext
	Last     error  // the last attempt's error (nil if none was made)
	Ctx      error  // the context's error, for ReasonContext
}

func (e *Error) Error() string {
	switch {
	case e.Reason == ReasonContext && e.Last != nil:
		return fmt.Sprintf("retry %s: stopped after %d attempts: %v (last error: %v)", e.Op, e.Attempts, e.Ctx, e.Last)
	case e.Reason == ReasonContext:
		return fmt.Sprintf("retry %s: stopped after %d attempts: %v", e.Op, e.Attempts, e.Ctx)
	case e.Reason == ReasonNotRetryable:
		return fmt.Sprintf("retry %s: not retryable, gave up after %d attempts: %v", e.Op, e.Attempts, e.Last)
	}
	return fmt.Sprintf("retry %s: gave up after %d attempts: %v", e.Op, e.Attempts, e.Last)
}

// Unwrap returns the context error (if any) and the last attempt's error.
func (e *Error) Unwrap() []error {
	out := make([]error, 0, 2)
	if e.Ctx != nil {
		out = append(out, e.Ctx)
	}
	if e.Last != nil {
		out = append(out, e.Last)
	}
	return out
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
