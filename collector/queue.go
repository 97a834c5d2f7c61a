package collector

import (
	"context"
	"sync"

	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/spans"
)

// item is one queued span or event. Spans handed to dispatcher handlers are
// immutable once ended, so the queue keeps the pointer instead of copying:
// the compact record of an in-process span is the span itself.
type item struct {
	span *spans.Span
	ev   *event.Record
	req  *ingestRequest // set for Ingest, to report a failed write back
}

// ingestRequest is shared by the items of one Ingest call. err, dupSpans and
// dupEvents are written by the writer before it advances progress past the
// request's items.
type ingestRequest struct {
	err error
	// dupSpans and dupEvents are the request's spans and events the writer
	// dropped as copies of stored ones (idempotent ingest).
	dupSpans  map[*spans.Span]bool
	dupEvents map[*event.Record]bool
}

// queue is a bounded FIFO of items. Producers append under a short mutex
// and never wait for anything else; the writer swaps the whole buffer out.
// Items the writer holds but has not committed still count against the
// capacity, so memory stays bounded by it.
type queue struct {
	mu       sync.Mutex
	buf      []item
	spare    []item
	inflight int
	capacity int
	enq      uint64 // items ever accepted: the sequence number Flush waits for
	closed   bool
}

func newQueue(capacity int) *queue {
	return &queue{capacity: capacity, buf: make([]item, 0, min(capacity, 1<<14))}
}

// push appends one item; false when the queue is full or closed.
func (q *queue) push(it item) (depth int, ok bool) {
	q.mu.Lock()
	if q.closed || len(q.buf)+q.inflight >= q.capacity {
		q.mu.Unlock()
		return 0, false
	}
	q.buf = append(q.buf, it)
	q.enq++
	depth = len(q.buf)
	q.mu.Unlock()
	return depth, true
}

// pushAll appends n items made by mk, all or none.
func (q *queue) pushAll(n int, mk func(i int) item) (seq uint64, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return 0, ErrClosed
	}
	if len(q.buf)+q.inflight+n > q.capacity {
		return 0, ErrQueueFull
	}
	for i := 0; i < n; i++ {
		q.buf = append(q.buf, mk(i))
	}
	q.enq += uint64(n)
	return q.enq, nil
}

// take hands every queued item to the writer, which must call done for
// each of them once written.
func (q *queue) take() []item {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.buf
	q.buf = q.spare[:0]
	q.spare = nil
	q.inflight += len(out)
	return out
}

// done releases n items' capacity; buf may be recycled.
func (q *queue) done(n int, buf []item) {
	q.mu.Lock()
	q.inflight -= n
	if buf != nil && q.spare == nil {
		clear(buf)
		q.spare = buf[:0]
	}
	q.mu.Unlock()
}

func (q *queue) depth() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.buf) + q.inflight
}

func (q *queue) seq() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.enq
}

func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
}

// progress counts items the writer has finished with (written or failed), in
// queue order, and lets callers wait for a sequence number.
type progress struct {
	mu   sync.Mutex
	done uint64
	ch   chan struct{}
}

func newProgress() *progress { return &progress{ch: make(chan struct{})} }

func (p *progress) advance(n int) {
	p.mu.Lock()
	p.done += uint64(n)
	close(p.ch)
	p.ch = make(chan struct{})
	p.mu.Unlock()
}

// changed returns a channel closed the next time progress advances.
func (p *progress) changed() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ch
}

func (p *progress) wait(ctx context.Context, target uint64) error {
	for {
		p.mu.Lock()
		if p.done >= target {
			p.mu.Unlock()
			return nil
		}
		ch := p.ch
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
