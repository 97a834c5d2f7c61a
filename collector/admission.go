package collector

import (
	"context"
	"errors"
	"net/http"
	"time"

	"golang.org/x/sync/semaphore"
)

// Defaults of admission control: what bounds the memory of OTLP ingest
// whatever the clients do.
const (
	// DefaultDecodeBudget bounds the request bodies that are being read,
	// decoded or held until their spans are committed, all requests
	// together. A request reserves its share before its body is read (its
	// Content-Length, or the body limit when the length is unknown or the
	// body is compressed; a JSON body, which decodes into several times
	// more memory, counts jsonDecodeWeight times). Decoding takes about 12
	// times a protobuf body at its peak (8 MiB of spans become 61 MB of
	// messages, then 29 MB of spans), so the default, one maximum-size
	// request or many small ones, keeps ingest near 100 MB of heap.
	DefaultDecodeBudget = DefaultMaxBodyBytes
	// DefaultAdmissionWait is how long a request waits for its share
	// before it is answered 429 (retry later).
	DefaultAdmissionWait = 5 * time.Second
)

// jsonDecodeWeight is how many bytes of the decode budget one byte of an
// OTLP/JSON body takes: decoding JSON builds a generic tree before the
// protobuf messages, and measured peaks run about three times those of the
// same spans in protobuf.
const jsonDecodeWeight = 3

// ErrBusy is returned when a request could not get its share of the decode
// budget in time; OTLP clients are told to retry later.
var ErrBusy = errors.New("collector busy decoding other requests")

// admission is a weighted semaphore over the bytes of request bodies in
// memory. Waiters are served in arrival order, so a large request is not
// starved by small ones.
type admission struct {
	budget int64
	wait   time.Duration
	sem    *semaphore.Weighted
}

func newAdmission(budget int64, wait time.Duration) *admission {
	return &admission{budget: budget, wait: wait, sem: semaphore.NewWeighted(budget)}
}

// cost is the share of the budget a request reserves before its body is
// read.
func (a *admission) cost(r *http.Request, json bool, maxBody int64) int64 {
	n := maxBody
	if r.ContentLength >= 0 && r.ContentLength < maxBody && contentCoding(r) == "" {
		n = r.ContentLength
	}
	if json {
		n *= jsonDecodeWeight
	}
	return min(max(n, 1), a.budget)
}

// acquire waits (at most a.wait, or until ctx ends) for n bytes of the
// budget and returns the function that gives them back.
func (a *admission) acquire(ctx context.Context, n int64) (release func(), err error) {
	if a.sem.TryAcquire(n) {
		return func() { a.sem.Release(n) }, nil
	}
	wctx, cancel := context.WithTimeout(ctx, a.wait)
	defer cancel()
	if err := a.sem.Acquire(wctx, n); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, ErrBusy
	}
	return func() { a.sem.Release(n) }, nil
}

// WithDecodeBudget sets how many bytes of OTLP request bodies may be in
// memory at once (DefaultDecodeBudget); see DefaultDecodeBudget for how a
// request is counted. It bounds ingest memory: the decoded spans of a
// request stay in memory until committed, and take a multiple of its body.
func WithDecodeBudget(n int64) Option {
	return func(c *config) {
		if n > 0 {
			c.decodeBudget = n
		}
	}
}

// WithAdmissionWait sets how long an OTLP request waits for its share of
// the decode budget before a 429 (DefaultAdmissionWait).
func WithAdmissionWait(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.admissionWait = d
		}
	}
}
