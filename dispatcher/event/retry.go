package event

import (
	"time"

	"github.com/stagescope/stagescope/spans"
)

// AttemptStarted: attempt number Attempt (1-based) of operation Op began.
type AttemptStarted struct {
	Header
	Op      string `json:"op"`
	Attempt int    `json:"attempt"`
}

func (*AttemptStarted) Name() string       { return "retry.attempt_started" }
func (*AttemptStarted) Stage() spans.Stage { return spans.StageRetry }
func (e *AttemptStarted) Attrs() []spans.Attribute {
	return []spans.Attribute{spans.String("retry.op", e.Op), spans.Int("retry.attempt", e.Attempt)}
}

// AttemptFailed: an attempt returned an error.
type AttemptFailed struct {
	Header
	Op        string        `json:"op"`
	Attempt   int           `json:"attempt"`
	Err       string        `json:"error"`
	Retryable bool          `json:"retryable"`
	Elapsed   time.Duration `json:"elapsed"`
}

func (*AttemptFailed) Name() string       { return "retry.attempt_failed" }
func (*AttemptFailed) Stage() spans.Stage { return spans.StageRetry }
func (e *AttemptFailed) Attrs() []spans.Attribute {
	return []spans.Attribute{spans.String("retry.op", e.Op), spans.Int("retry.attempt", e.Attempt), spans.String("error", e.Err), spans.Bool("retry.retryable", e.Retryable), spans.Int64("retry.elapsed_ns", int64(e.Elapsed))}
}

// BackoffScheduled: the retrier will sleep Delay before attempt Attempt+1.
type BackoffScheduled struct {
	Header
	Op      string        `json:"op"`
	Attempt int           `json:"attempt"`
	Delay   time.Duration `json:"delay"`
}

func (*BackoffScheduled) Name() string       { return "retry.backoff" }
func (*BackoffScheduled) Stage() spans.Stage { return spans.StageRetry }
func (e *BackoffScheduled) Attrs() []spans.Attribute {
	return []spans.Attribute{spans.String("retry.op", e.Op), spans.Int("retry.attempt", e.Attempt), spans.Int64("retry.delay_ns", int64(e.Delay))}
}

// GaveUp: the retrier stopped without success.
type GaveUp struct {
	Header
	Op       string `json:"op"`
	Attempts int    `json:"attempts"`
	Err      string `json:"error"`
	Reason   string `json:"reason"` // "max_tries", "not_retryable", "context"
}

func (*GaveUp) Name() string       { return "retry.gave_up" }
func (*GaveUp) Stage() spans.Stage { return spans.StageRetry }
func (e *GaveUp) Attrs() []spans.Attribute {
	return []spans.Attribute{spans.String("retry.op", e.Op), spans.Int("retry.attempts", e.Attempts), spans.String("error", e.Err), spans.String("retry.reason", e.Reason)}
}
