package dispatcher

import (
	"context"
	"errors"
	"io"
	"iter"
	"sync"

	"github.com/stagescope/stagescope/spans"
)

// Stream wraps a pull-style stream (an LLM token stream, a document
// iterator) in a span that ends when the stream is drained (Next returns
// io.EOF), fails, or is closed — not when the function that opened it
// returns. This is the fix for the classic instrumentation bug where the span
// of a streamed response ends before a single token has been read.
type Stream[T any] struct {
	span    *Span
	next    func(ctx context.Context) (T, error)
	close   func() error
	mu      sync.Mutex
	items   int
	drained bool
}

// StartStream starts a span named name and returns a Stream that reads from
// next (which returns io.EOF at the end) and calls closeFn (may be nil) on
// Close. The span's context is returned for the producer, so that work it
// does (an HTTP request, say) becomes a child.
func StartStream[T any](ctx context.Context, d *Dispatcher, name string, stage spans.Stage, next func(ctx context.Context) (T, error), closeFn func() error) (context.Context, *Stream[T]) {
	ctx, s := d.Start(ctx, name, stage, spans.Bool("stream", true))
	return ctx, &Stream[T]{span: s, next: next, close: closeFn}
}

// Span returns the stream's span (nil when nobody listens).
func (st *Stream[T]) Span() *Span { return st.span }

// Next returns the next item. At the end it returns io.EOF and ends the span
// normally; any other error ends the span with that error.
func (st *Stream[T]) Next(ctx context.Context) (T, error) {
	v, err := st.next(ctx)
	st.mu.Lock()
	defer st.mu.Unlock()
	switch {
	case err == nil:
		st.items++
	case errors.Is(err, io.EOF):
		st.drained = true
		st.span.SetAttributes(spans.Int("stream.items", st.items), spans.Bool("stream.drained", true))
		st.span.End()
	default:
		st.span.SetAttributes(spans.Int("stream.items", st.items), spans.Bool("stream.drained", false))
		st.span.EndErr(err)
	}
	return v, err
}

// Close releases the stream. If it was not drained, the span ends here with
// stream.drained=false (StatusOK: the reader chose to stop), or with the
// close error.
func (st *Stream[T]) Close() error {
	var err error
	if st.close != nil {
		err = st.close()
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.span.Recording() {
		st.span.SetAttributes(spans.Int("stream.items", st.items), spans.Bool("stream.drained", st.drained))
		st.span.EndErr(err)
	}
	return err
}

// TraceSeq wraps a push iterator in a span that starts when iteration starts
// and ends when the loop finishes, breaks or the sequence yields an error.
// Each range over the result is its own span.
func TraceSeq[T any](ctx context.Context, d *Dispatcher, name string, stage spans.Stage, seq func(ctx context.Context) iter.Seq2[T, error]) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		ctx, s := d.Start(ctx, name, stage, spans.Bool("stream", true))
		items, drained := 0, true
		var failed error
		defer func() {
			if r := recover(); r != nil {
				s.finish(spans.StatusError, "panic during stream")
				panic(r)
			}
			s.SetAttributes(spans.Int("stream.items", items), spans.Bool("stream.drained", drained && failed == nil))
			s.EndErr(failed)
		}()
		for v, err := range seq(ctx) {
			if err != nil {
				failed = err
			} else {
				items++
			}
			if !yield(v, err) {
				drained = false
				return
			}
			if err != nil {
				return
			}
		}
	}
}
