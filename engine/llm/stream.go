package llm

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/spans"
)

// Stream is a streamed answer. Call Next until it returns io.EOF, then
// Response; Close it in any case (closing early ends the call's span as not
// drained). A Stream is for one reader goroutine.
type Stream struct {
	inner *dispatcher.Stream[string]
	ctx   context.Context // the call span's context
	in    *instrument
	req   Request
	start time.Time

	// source yields deltas ("" deltas are skipped) and io.EOF at the end;
	// usage reports provider token counts once drained (0, 0 if none).
	source    func(ctx context.Context) (string, error)
	usage     func() (prompt, completion int, finish string)
	closeBody func() error

	mu       sync.Mutex
	content  strings.Builder
	deltas   int
	ttft     time.Duration
	resp     *Response
	finished bool
}

func newStream(ctx context.Context, in *instrument, req Request) *Stream {
	s := &Stream{in: in, req: req, start: time.Now()}
	s.ctx, s.inner = dispatcher.StartStream(ctx, in.d, SpanName, spans.StageLLM, s.next, s.close)
	s.inner.Span().SetAttributes(in.startAttrs(req, true)...)
	in.emitStart(s.ctx, req, true)
	return s
}

// fail ends the stream's span with err before any delta was read (the
// request itself failed).
func (s *Stream) fail(err error) {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		s.inner.Span().Drop(err.Error())
		return
	}
	s.inner.Span().EndErr(err)
}

func (s *Stream) next(ctx context.Context) (string, error) {
	for {
		d, err := s.source(ctx)
		if errors.Is(err, io.EOF) {
			s.complete("")
			return "", io.EOF
		}
		if err != nil {
			return "", err
		}
		if d == "" {
			continue
		}
		s.mu.Lock()
		if s.deltas == 0 {
			s.ttft = time.Since(s.start)
		}
		idx := s.deltas
		s.deltas++
		s.content.WriteString(d)
		s.mu.Unlock()
		if s.in.d.EventsEnabled() {
			s.in.d.Emit(s.ctx, &event.LLMStreamDelta{Model: s.in.model, Index: idx, Delta: d})
		}
		return d, nil
	}
}

// complete builds the response and records it on the span, once.
func (s *Stream) complete(fallbackFinish string) {
	s.mu.Lock()
	if s.finished {
		s.mu.Unlock()
		return
	}
	s.finished = true
	resp := &Response{Content: s.content.String(), TimeToFirstToken: s.ttft}
	var pp, pc int
	if s.usage != nil {
		pp, pc, resp.FinishReason = s.usage()
	}
	if resp.FinishReason == "" {
		resp.FinishReason = fallbackFinish
	}
	s.in.fillTokens(resp, s.req, pp, pc)
	s.resp = resp
	s.mu.Unlock()
	s.in.finish(s.ctx, s.inner.Span(), resp)
}

func (s *Stream) close() error {
	// Closed before the end: record what was read so far.
	s.complete("closed")
	if s.closeBody != nil {
		return s.closeBody()
	}
	return nil
}

// Next returns the next piece of the answer, or io.EOF at the end.
func (s *Stream) Next(ctx context.Context) (string, error) { return s.inner.Next(ctx) }

// Close releases the stream; it ends the call's span if the stream was not
// drained.
func (s *Stream) Close() error { return s.inner.Close() }

// Response returns the complete response once Next has returned io.EOF (or
// what was read, after Close), and nil before.
func (s *Stream) Response() *Response {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.resp
}

// ReadAll drains s, closes it and returns its response.
func ReadAll(ctx context.Context, s *Stream) (*Response, error) {
	defer s.Close()
	for {
		_, err := s.Next(ctx)
		if errors.Is(err, io.EOF) {
			return s.Response(), nil
		}
		if err != nil {
			return nil, err
		}
	}
}
