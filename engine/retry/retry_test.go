package retry

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/dispatcher/dispatchertest"
	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/spans"
)

// recorded gives each test its own dispatcher with a recorder attached.
func recorded(t *testing.T) (*dispatcher.Dispatcher, *dispatcher.Recorder) {
	return dispatchertest.Isolated(t, "test.retry")
}

func eventsOf[E event.Event](rec *dispatcher.Recorder) []E {
	var out []E
	for _, e := range rec.Events() {
		if x, ok := e.(E); ok {
			out = append(out, x)
		}
	}
	return out
}

func attrInt(s *spans.Span, key string) int64 {
	v, ok := s.Attr(key)
	if !ok {
		return -1
	}
	return v.AsInt64()
}

var errTransient = errors.New("transient")

func TestSucceedsAfterFailuresWithSpanTree(t *testing.T) {
	d, rec := recorded(t)
	inner := dispatcher.Get("test.retry.inner")
	t.Cleanup(inner.AddSpanHandler(rec))
	ctx, parent := d.Start(context.Background(), "caller", spans.StageQuery)
	got, err := Do(ctx, "fetch", func(ctx context.Context, attempt int) (string, error) {
		_, s := inner.Start(ctx, "work", spans.StageOther)
		s.End()
		if attempt < 3 {
			return "", errTransient
		}
		return "ok", nil
	}, WithDispatcher(d), WithMinBackoff(time.Millisecond), WithMaxBackoff(2*time.Millisecond), WithSeed(1))
	parent.End()
	if err != nil || got != "ok" {
		t.Fatalf("Do = %q, %v", got, err)
	}
	byName := map[string][]*spans.Span{}
	for _, s := range rec.Spans() {
		byName[s.Name] = append(byName[s.Name], s)
	}
	logical := byName["retry fetch"]
	if len(logical) != 1 {
		t.Fatalf("logical spans = %d", len(logical))
	}
	l := logical[0]
	if l.ParentID != parent.Record().SpanID || l.Stage != spans.StageRetry || l.Status != spans.StatusOK {
		t.Errorf("logical span parent/stage/status wrong: %+v", l)
	}
	if attrInt(l, spans.KeyRetryAttempts) != 3 {
		t.Errorf("retry.attempts = %d", attrInt(l, spans.KeyRetryAttempts))
	}
	if v, _ := l.Attr(spans.KeyRetryGaveUp); v.AsBool() {
		t.Error("gave_up must be false")
	}
	attempts := byName["fetch"]
	if len(attempts) != 3 {
		t.Fatalf("attempt spans = %d", len(attempts))
	}
	for i, a := range attempts {
		if a.ParentID != l.SpanID {
			t.Errorf("attempt %d is not a child of the logical span", i+1)
		}
		if attrInt(a, spans.KeyRetryAttempt) != int64(i+1) {
			t.Errorf("attempt span %d has retry.attempt %d", i, attrInt(a, spans.KeyRetryAttempt))
		}
		want := spans.StatusError
		if i == 2 {
			want = spans.StatusOK
		}
		if a.Status != want {
			t.Errorf("attempt %d status %v, want %v", i+1, a.Status, want)
		}
	}
	works := byName["work"]
	if len(works) != 3 {
		t.Fatalf("inner spans = %d", len(works))
	}
	for i, w := range works {
		if w.ParentID != attempts[i].SpanID {
			t.Errorf("inner span %d is not under attempt %d", i, i+1)
		}
	}
	if n := len(eventsOf[*event.AttemptStarted](rec)); n != 3 {
		t.Errorf("AttemptStarted events = %d", n)
	}
	failed := eventsOf[*event.AttemptFailed](rec)
	if len(failed) != 2 || !failed[0].Retryable || failed[0].Err != "transient" {
		t.Errorf("AttemptFailed events = %+v", failed)
	}
	backoffs := eventsOf[*event.BackoffScheduled](rec)
	if len(backoffs) != 2 {
		t.Fatalf("BackoffScheduled events = %d", len(backoffs))
	}
	var sum time.Duration
	for _, b := range backoffs {
		sum += b.Delay
	}
	if bn := attrInt(l, spans.KeyRetryBackoffNanos); bn < int64(sum) {
		t.Errorf("retry.backoff_ns = %d, less than the scheduled %d", bn, sum)
	}
	if len(eventsOf[*event.GaveUp](rec)) != 0 {
		t.Error("no GaveUp expected")
	}
}

func TestGivesUpAfterMaxTries(t *testing.T) {
	d, rec := recorded(t)
	calls := 0
	_, err := Do(context.Background(), "flaky", func(context.Context, int) (int, error) {
		calls++
		return 0, errTransient
	}, WithDispatcher(d), WithMaxTries(4), WithMinBackoff(0))
	if calls != 4 {
		t.Errorf("calls = %d, want 4", calls)
	}
	if !errors.Is(err, errTransient) {
		t.Errorf("give-up error %v does not wrap the last error", err)
	}
	var re *Error
	if !errors.As(err, &re) || re.Attempts != 4 || re.Reason != ReasonMaxTries {
		t.Errorf("error = %#v", re)
	}
	if !strings.Contains(err.Error(), "4 attempts") || !strings.Contains(err.Error(), "flaky") {
		t.Errorf("error text %q must name the op and the attempts", err)
	}
	gave := eventsOf[*event.GaveUp](rec)
	if len(gave) != 1 || gave[0].Attempts != 4 || gave[0].Reason != ReasonMaxTries {
		t.Errorf("GaveUp = %+v", gave)
	}
	var logical *spans.Span
	for _, s := range rec.Spans() {
		if s.Name == "retry flaky" {
			logical = s
		}
	}
	if logical == nil || logical.Status != spans.StatusError {
		t.Fatalf("logical span = %+v", logical)
	}
	if v, _ := logical.Attr(spans.KeyRetryGaveUp); !v.AsBool() {
		t.Error("gave_up must be true")
	}
}

func TestPermanentAndPredicate(t *testing.T) {
	d, rec := recorded(t)
	errFatal := errors.New("bad request")
	calls := 0
	_, err := Do(context.Background(), "perm", func(context.Context, int) (int, error) {
		calls++
		return 0, Permanent(errFatal)
	}, WithDispatcher(d), WithMinBackoff(0))
	if calls != 1 || !errors.Is(err, errFatal) || !IsPermanent(err) {
		t.Errorf("permanent: calls=%d err=%v", calls, err)
	}
	var re *Error
	if !errors.As(err, &re) || re.Reason != ReasonNotRetryable {
		t.Errorf("reason = %v", re)
	}
	if f := eventsOf[*event.AttemptFailed](rec); len(f) != 1 || f[0].Retryable {
		t.Errorf("AttemptFailed = %+v", f)
	}

	// The predicate retries only transient errors.
	calls = 0
	_, err = Do(context.Background(), "pred", func(_ context.Context, attempt int) (int, error) {
		calls++
		if attempt == 1 {
			return 0, errTransient
		}
		return 0, errFatal
	}, WithDispatcher(d), WithMinBackoff(0), WithMaxTries(5), WithRetryIf(func(err error) bool { return errors.Is(err, errTransient) }))
	if calls != 2 || !errors.Is(err, errFatal) {
		t.Errorf("predicate: calls=%d err=%v", calls, err)
	}
	if Permanent(nil) != nil {
		t.Error("Permanent(nil) must be nil")
	}
}

// A context error from the operation itself is not retried.
func TestContextErrorFromOperationNotRetried(t *testing.T) {
	d, _ := recorded(t)
	calls := 0
	_, err := Do(context.Background(), "ctx", func(context.Context, int) (int, error) {
		calls++
		return 0, fmt.Errorf("dial: %w", context.DeadlineExceeded)
	}, WithDispatcher(d), WithMinBackoff(0))
	if calls != 1 || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("calls=%d err=%v", calls, err)
	}
}

type cancelOnBackoff struct{ cancel context.CancelFunc }

func (c *cancelOnBackoff) HandleEvent(e event.Event) {
	if _, ok := e.(*event.BackoffScheduled); ok {
		c.cancel()
	}
}

// The backoff is an hour: the test finishes only because the sleep wakes up
// when the context is cancelled.
func TestCancelDuringBackoffReturnsPromptly(t *testing.T) {
	d, rec := recorded(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	t.Cleanup(d.AddEventHandler(&cancelOnBackoff{cancel: cancel}))
	calls := 0
	_, err := Do(ctx, "slow", func(context.Context, int) (int, error) {
		calls++
		return 0, errTransient
	}, WithDispatcher(d), WithMinBackoff(time.Hour), WithMaxBackoff(time.Hour), WithSeed(7), WithRetryIf(func(error) bool { return true }))
	if calls != 1 {
		t.Errorf("calls = %d", calls)
	}
	if !errors.Is(err, context.Canceled) || !errors.Is(err, errTransient) {
		t.Errorf("err = %v, want both context.Canceled and the last error", err)
	}
	gave := eventsOf[*event.GaveUp](rec)
	if len(gave) != 1 || gave[0].Reason != ReasonContext || gave[0].Attempts != 1 {
		t.Errorf("GaveUp = %+v", gave)
	}
	for _, s := range rec.Spans() {
		if s.Name == "retry slow" && s.Status != spans.StatusDropped {
			t.Errorf("logical span status = %v, want dropped", s.Status)
		}
	}

	// Already cancelled: no attempt at all.
	calls = 0
	_, err = Do(ctx, "never", func(context.Context, int) (int, error) { calls++; return 0, nil }, WithDispatcher(d))
	if calls != 0 || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled before start: calls=%d err=%v", calls, err)
	}
}

func delays(t *testing.T, seed uint64) []time.Duration {
	d, rec := recorded(t)
	_, _ = Do(context.Background(), "jitter", func(context.Context, int) (int, error) { return 0, errTransient },
		WithDispatcher(d), WithMaxTries(6), WithMinBackoff(100*time.Microsecond), WithMaxBackoff(time.Millisecond), WithSeed(seed))
	var out []time.Duration
	for _, b := range eventsOf[*event.BackoffScheduled](rec) {
		out = append(out, b.Delay)
	}
	return out
}

func TestDeterministicFullJitter(t *testing.T) {
	a, b, c := delays(t, 42), delays(t, 42), delays(t, 43)
	if len(a) != 5 {
		t.Fatalf("backoffs = %d, want 5", len(a))
	}
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("same seed gave %v and %v", a, b)
	}
	if fmt.Sprint(a) == fmt.Sprint(c) {
		t.Errorf("different seeds gave the same delays %v", a)
	}
	// Ceilings: 100µs, 200µs, 400µs, 800µs, then capped at 1ms.
	ceil := []time.Duration{100 * time.Microsecond, 200 * time.Microsecond, 400 * time.Microsecond, 800 * time.Microsecond, time.Millisecond}
	for i, x := range append(a, c...) {
		if x < 0 || x > ceil[i%5] {
			t.Errorf("delay %d = %v outside [0, %v]", i%5+1, x, ceil[i%5])
		}
	}
}

type retryAfterErr struct{ d time.Duration }

func (e *retryAfterErr) Error() string             { return "rate limited" }
func (e *retryAfterErr) RetryAfter() time.Duration { return e.d }

func TestRetryAfterHonouredAndCapped(t *testing.T) {
	for _, c := range []struct {
		after, max, want time.Duration
	}{
		{3 * time.Millisecond, time.Second, 3 * time.Millisecond},
		{time.Hour, 4 * time.Millisecond, 4 * time.Millisecond},
	} {
		d, rec := recorded(t)
		_, err := Do(context.Background(), "limited", func(_ context.Context, attempt int) (int, error) {
			if attempt == 1 {
				return 0, fmt.Errorf("call: %w", &retryAfterErr{d: c.after})
			}
			return 7, nil
		}, WithDispatcher(d), WithMaxBackoff(c.max))
		if err != nil {
			t.Fatal(err)
		}
		b := eventsOf[*event.BackoffScheduled](rec)
		if len(b) != 1 || b[0].Delay != c.want {
			t.Errorf("Retry-After %v max %v: backoff events %+v, want delay %v", c.after, c.max, b, c.want)
		}
	}
}

func TestNoHandlerStillRetries(t *testing.T) {
	d := dispatcher.Get("test.retry.silent")
	d.SetPropagate(false)
	n, err := Do(context.Background(), "quiet", func(_ context.Context, attempt int) (int, error) {
		if attempt < 2 {
			return 0, errTransient
		}
		return attempt, nil
	}, WithDispatcher(d), WithMinBackoff(0))
	if err != nil || n != 2 {
		t.Errorf("Do = %d, %v", n, err)
	}
}
