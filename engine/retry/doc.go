// Package retry runs an operation again when it fails, with exponential
// backoff and full jitter, a predicate that decides which errors are worth
// another attempt, and a sleep that wakes up as soon as the context is done
// (the async retry loop of LlamaIndex blocks its event loop instead).
//
// A call to Do is one logical span ("retry "+op, stage retry) with one child
// span per attempt, and it emits AttemptStarted, AttemptFailed,
// BackoffScheduled and GaveUp events, so that the analysis can measure retry
// amplification: attempts per logical call and time lost in failed attempts
// and backoff.
//
// The package must not know what it retries: HTTP status codes and provider
// quirks belong to the callers (see engine/llm), which classify errors with
// Permanent and the RetryAfter interface.
package retry
