package retry

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/spans"
)

// Do calls fn until it succeeds, the error is not retryable, the attempts
// are used up or ctx is done. attempt is 1-based; the ctx fn receives
// carries the attempt's span as parent. Between attempts Do sleeps a full
// jitter backoff, rand[0, min(max, min·2^(attempt-1))], or the delay a
// RetryAfter error asks for (capped by the maximum backoff); the sleep ends
// early when ctx is done.
//
// On failure the returned error is an *Error that wraps the last error and
// says how many attempts were made.
func Do[T any](ctx context.Context, op string, fn func(ctx context.Context, attempt int) (T, error), opts ...Option) (T, error) {
	c := newConfig(opts)
	d := c.d
	lctx, span := d.Start(ctx, "retry "+op, spans.StageRetry, spans.String(spans.KeyRetryOp, op))
	events := d.EventsEnabled()

	var rng *rand.Rand
	if c.seed != nil {
		rng = rand.New(rand.NewPCG(*c.seed, *c.seed^0x9e3779b97f4a7c15))
	}
	var (
		zero    T
		last    error
		backoff time.Duration
		attempt int
	)
	finish := func(reason string, ctxErr error) (T, error) {
		gerr := &Error{Op: op, Attempts: attempt, Reason: reason, Last: last, Ctx: ctxErr}
		if events {
			d.Emit(lctx, &event.GaveUp{Op: op, Attempts: attempt, Err: gerr.Error(), Reason: reason})
		}
		span.SetAttributes(spans.Int(spans.KeyRetryAttempts, attempt), spans.Int64(spans.KeyRetryBackoffNanos, int64(backoff)),
			spans.Bool(spans.KeyRetryGaveUp, true), spans.String("retry.reason", reason))
		if ctxErr != nil {
			span.Drop(gerr.Error())
		} else {
			span.EndErr(gerr)
		}
		return zero, gerr
	}

	for attempt = 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			attempt--
			return finish(ReasonContext, err)
		}
		actx, aspan := d.Start(lctx, op, c.stage, spans.Int(spans.KeyRetryAttempt, attempt))
		if events {
			d.Emit(actx, &event.AttemptStarted{Op: op, Attempt: attempt})
		}
		began := time.Now()
		v, err := fn(actx, attempt)
		if err == nil {
			aspan.End()
			span.SetAttributes(spans.Int(spans.KeyRetryAttempts, attempt), spans.Int64(spans.KeyRetryBackoffNanos, int64(backoff)), spans.Bool(spans.KeyRetryGaveUp, false))
			span.End()
			return v, nil
		}
		last = err
		retryable := !IsPermanent(err) && !isContextErr(err) && (c.retryIf == nil || c.retryIf(err))
		if events {
			d.Emit(actx, &event.AttemptFailed{Op: op, Attempt: attempt, Err: err.Error(), Retryable: retryable, Elapsed: time.Since(began)})
		}
		aspan.Done(&err)
		if ctxErr := ctx.Err(); ctxErr != nil {
			return finish(ReasonContext, ctxErr)
		}
		if !retryable {
			return finish(ReasonNotRetryable, nil)
		}
		if attempt >= c.maxTries {
			return finish(ReasonMaxTries, nil)
		}
		delay := c.delay(attempt, err, rng)
		if events {
			d.Emit(lctx, &event.BackoffScheduled{Op: op, Attempt: attempt, Delay: delay})
		}
		slept, ctxErr := sleep(ctx, delay)
		backoff += slept
		if ctxErr != nil {
			return finish(ReasonContext, ctxErr)
		}
	}
}

// delay is the sleep before attempt+1.
func (c *config) delay(attempt int, err error, rng *rand.Rand) time.Duration {
	var ra RetryAfter
	if errors.As(err, &ra) {
		if d := ra.RetryAfter(); d > 0 {
			return min(d, c.maxBackoff)
		}
	}
	ceiling := c.maxBackoff
	if shift := attempt - 1; shift < 62 {
		if grown := c.minBackoff << shift; grown>>shift == c.minBackoff && grown < ceiling {
			ceiling = grown
		}
	}
	if ceiling <= 0 {
		return 0
	}
	if rng != nil {
		return time.Duration(rng.Int64N(int64(ceiling) + 1))
	}
	return time.Duration(rand.Int64N(int64(ceiling) + 1))
}

// sleep waits d or until ctx is done, and reports how long it slept.
func sleep(ctx context.Context, d time.Duration) (time.Duration, error) {
	if d <= 0 {
		return 0, ctx.Err()
	}
	start := time.Now()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return time.Since(start), nil
	case <-ctx.Done():
		return time.Since(start), ctx.Err()
	}
}
