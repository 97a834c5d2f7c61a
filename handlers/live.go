package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/spans"
)

const (
	// liveListLimit is how many of the newest traces one poll reads.
	liveListLimit = 500
	// livePendingPolls is how many polls a trace whose root span has not
	// arrived waits before it is announced anyway.
	livePendingPolls = 3
	// liveWriteTimeout bounds one write to a live client.
	liveWriteTimeout = 10 * time.Second
	// liveRetry is the reconnection delay the browser is told to use.
	liveRetry = 3 * time.Second
)

var (
	errLiveClosed  = errors.New("server is shutting down")
	errLiveTooMany = errors.New("too many live streams")
)

// liveHub finds newly arrived traces by polling the store (so it also sees
// traces written by other processes into the same database) and fans them
// out to subscribers. It polls only while someone listens. Each subscriber
// has a bounded buffer; one that falls behind is disconnected rather than
// slowing the others or growing memory.
type liveHub struct {
	src collector.Source
	cfg config
	log *slog.Logger

	ctx    context.Context // cancelled by close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	subs    map[*liveSub]struct{}
	closed  bool
	running bool
	seen    map[spans.TraceID]*seenTrace // touched by the poller, or under mu before it starts

	dropped atomic.Int64
}

type liveSub struct {
	ch      chan []byte // closed by the hub when the subscriber is dropped
	service string      // only traces of this service; "" for all
}

// liveMsg is one announced trace: its TraceRow in JSON and its service.
type liveMsg struct {
	service string
	data    []byte
}

type seenTrace struct {
	start     time.Time
	announced bool
	pending   int
}

func newLiveHub(src collector.Source, cfg config, log *slog.Logger) *liveHub {
	ctx, cancel := context.WithCancel(context.Background())
	return &liveHub{src: src, cfg: cfg, log: log, ctx: ctx, cancel: cancel, subs: map[*liveSub]struct{}{}}
}

func (h *liveHub) clients() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// subscribe registers a client. When nobody listened before, it records the
// traces already present before returning, so that everything arriving
// after the call is announced.
func (h *liveHub) subscribe(ctx context.Context, service string) (*liveSub, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, errLiveClosed
	}
	if len(h.subs) >= h.cfg.maxLive {
		return nil, errLiveTooMany
	}
	if !h.running {
		seen := map[spans.TraceID]*seenTrace{}
		page, err := h.list(ctx)
		if err != nil {
			return nil, err
		}
		for _, t := range page.Traces {
			seen[t.TraceID] = &seenTrace{start: t.Start, announced: true}
		}
		h.seen = seen
		h.running = true
		h.wg.Add(1)
		go h.poll()
	}
	sub := &liveSub{ch: make(chan []byte, h.cfg.liveBuffer), service: service}
	h.subs[sub] = struct{}{}
	return sub, nil
}

func (h *liveHub) unsubscribe(sub *liveSub) {
	h.mu.Lock()
	delete(h.subs, sub)
	h.mu.Unlock()
}

// close ends every stream and the poller, and waits for the poller.
func (h *liveHub) close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	h.cancel()
	h.mu.Unlock()
	h.wg.Wait()
}

func (h *liveHub) list(ctx context.Context) (collector.TracePage, error) {
	return h.src.ListTraces(ctx, collector.TraceQuery{From: time.Now().Add(-h.cfg.liveLookback), Limit: liveListLimit})
}

// poll runs while there are subscribers.
func (h *liveHub) poll() {
	defer h.wg.Done()
	tick := time.NewTicker(h.cfg.livePoll)
	defer tick.Stop()
	for {
		select {
		case <-h.ctx.Done():
			h.stop()
			return
		case <-tick.C:
		}
		h.mu.Lock()
		idle := len(h.subs) == 0
		if idle {
			h.running, h.seen = false, nil
		}
		h.mu.Unlock()
		if idle {
			return
		}
		msgs, err := h.fresh()
		if err != nil {
			if h.ctx.Err() == nil {
				h.log.Warn("live stream: cannot list new traces", "err", err)
			}
			continue
		}
		if len(msgs) > 0 {
			h.broadcast(msgs)
		}
	}
}

func (h *liveHub) stop() {
	h.mu.Lock()
	h.running, h.seen = false, nil
	h.mu.Unlock()
}

// fresh returns the JSON of the traces not announced yet, oldest first.
func (h *liveHub) fresh() ([]liveMsg, error) {
	ctx, cancel := context.WithTimeout(h.ctx, h.cfg.requestTimeout)
	defer cancel()
	page, err := h.list(ctx)
	if err != nil {
		return nil, err
	}
	var msgs []liveMsg
	for _, t := range slices.Backward(page.Traces) {
		st := h.seen[t.TraceID]
		if st == nil {
			st = &seenTrace{start: t.Start}
			h.seen[t.TraceID] = st
		}
		if st.announced {
			continue
		}
		if t.RootName == "" && st.pending < livePendingPolls {
			st.pending++ // its root span may still be on its way
			continue
		}
		st.announced = true
		b, err := json.Marshal(toRow(t))
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, liveMsg{service: t.Service, data: b})
	}
	cutoff := time.Now().Add(-h.cfg.liveLookback - time.Minute)
	for id, st := range h.seen {
		if st.start.Before(cutoff) {
			delete(h.seen, id)
		}
	}
	return msgs, nil
}

// broadcast hands msgs to every subscriber of their service without
// blocking; a subscriber whose buffer is full is dropped.
func (h *liveHub) broadcast(msgs []liveMsg) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.subs {
		for _, m := range msgs {
			if sub.service != "" && m.service != sub.service {
				continue
			}
			select {
			case sub.ch <- m.data:
				continue
			default:
			}
			close(sub.ch)
			delete(h.subs, sub)
			h.dropped.Add(1)
			break
		}
	}
}

// liveStream handles GET /api/live: Server-Sent Events, one "trace" event
// (data: a TraceRow) per newly arrived trace (of one service, with
// service), a comment as heartbeat, a "dropped" event before closing a
// client that fell behind, and a "bye" event when the server shuts down.
func (s *Server) liveStream(c echo.Context) error {
	p, err := parseParams(c, "service")
	if err != nil {
		return err
	}
	service, err := p.service("service")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	sub, err := s.live.subscribe(ctx, service)
	switch {
	case errors.Is(err, errLiveClosed), errors.Is(err, errLiveTooMany):
		c.Response().Header().Set("Retry-After", "5")
		return &apiError{status: http.StatusServiceUnavailable, msg: "live stream unavailable: " + err.Error()}
	case err != nil:
		return storeError("new traces", err)
	}
	defer s.live.unsubscribe(sub)

	w := c.Response()
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	send := func(format string, args ...any) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(liveWriteTimeout)) // unsupported by some writers: fine
		if _, err := fmt.Fprintf(w, format, args...); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send("retry: %d\n: connected\n\n", liveRetry.Milliseconds()) {
		return nil
	}
	heartbeat := time.NewTicker(s.cfg.liveHeartbeat)
	defer heartbeat.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.live.ctx.Done():
			send("event: bye\ndata: {\"reason\":\"server shutting down\"}\n\n")
			return nil
		case m, ok := <-sub.ch:
			if !ok {
				send("event: dropped\ndata: {\"reason\":\"client fell behind\"}\n\n")
				return nil
			}
			if !send("event: trace\ndata: %s\n\n", m) {
				return nil
			}
		case <-heartbeat.C:
			if !send(": heartbeat\n\n") {
				return nil
			}
		}
	}
}

var _ io.Writer = (*echo.Response)(nil)
