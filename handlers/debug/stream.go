package debug

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/stagescope/stagescope/collector/otlpconv"
	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/dispatcher/flight"
	"github.com/stagescope/stagescope/spans"
)

// StreamContentType is the media type of a stream: one JSON Frame per line.
const StreamContentType = "application/x-ndjson"

// Frame is one line of a stream.
type Frame struct {
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	// Attached, in the first frame, is when the stream started taking
	// spans: every span that ended after it is sent or counted in Dropped.
	Attached time.Time `json:"attached,omitzero"`
	Service  string    `json:"service,omitempty"`
	Spans    int       `json:"spans"` // spans in this frame
	// OTLP holds this frame's spans and their events as an
	// ExportTraceServiceRequest in the protobuf encoding (base64 in JSON).
	OTLP []byte `json:"otlp,omitempty"`
	// Sent counts the spans sent so far; Dropped those the pipeline could
	// not hand over because the client was too slow (never waited for).
	Sent          uint64 `json:"sent"`
	Dropped       uint64 `json:"dropped"`
	EventsDropped uint64 `json:"events_dropped"`
	// Final marks the last frame of a stream that ended on purpose (detach
	// or ?for): every span that ended between Attached and Cutoff was sent
	// or counted in Dropped.
	Final  bool      `json:"final,omitempty"`
	Cutoff time.Time `json:"cutoff,omitzero"`
	Reason string    `json:"reason,omitempty"`
}

// StreamEnd says how a stream ended.
type StreamEnd struct {
	Attached, Cutoff time.Time
	Sent, Dropped    uint64
	Final            bool   // it ended on purpose and said so
	Reason           string // "detach", "for", "client gone", …
}

// activeStream is the stream attached now.
type activeStream struct {
	stop chan struct{} // closed by /detach
}

// maxPendingEvents bounds the events kept waiting for their span.
const maxPendingEvents = 1 << 14

func (s *server) stream(w http.ResponseWriter, r *http.Request) {
	var limit time.Duration
	if v := r.URL.Query().Get("for"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			fail(w, http.StatusBadRequest, "for must be a positive duration, not %q", v)
			return
		}
		limit = d
	}
	sub, err := s.rec.Subscribe(s.buffer)
	if errors.Is(err, flight.ErrSubscribed) {
		fail(w, http.StatusConflict, "another client is attached to this program; one at a time (it can be ended with POST detach)")
		return
	}
	if err != nil {
		fail(w, http.StatusInternalServerError, "cannot attach: %v", err)
		return
	}
	act := &activeStream{stop: make(chan struct{})}
	s.mu.Lock()
	s.active = act
	s.mu.Unlock()
	st := &streamer{server: s, w: w, rc: http.NewResponseController(w), sub: sub, pending: map[spans.SpanID][]event.Record{}}
	end := st.run(r, act, limit)
	sub.Detach()
	s.mu.Lock()
	if s.active == act {
		s.active = nil
	}
	s.mu.Unlock()
	if s.onStreamEnded != nil {
		s.onStreamEnded(end)
	}
}

// detach ends the attached stream cleanly.
func (s *server) detach(w http.ResponseWriter) {
	s.mu.Lock()
	act := s.active
	if act != nil {
		s.active = nil
		close(act.stop)
	}
	s.mu.Unlock()
	if act == nil {
		fail(w, http.StatusNotFound, "no client is attached")
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"detaching": true})
}

type streamer struct {
	*server
	w       http.ResponseWriter
	rc      *http.ResponseController
	sub     *flight.Subscription
	seq     uint64
	sent    uint64
	batch   []*spans.Span
	pending map[spans.SpanID][]event.Record
	events  []event.Record
}

func (st *streamer) run(r *http.Request, act *activeStream, limit time.Duration) StreamEnd {
	end := StreamEnd{Attached: st.sub.Attached}
	h := st.w.Header()
	h.Set("Content-Type", StreamContentType)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if err := st.write(Frame{Attached: st.sub.Attached, Service: st.service}); err != nil {
		end.Reason = "client gone"
		return end
	}
	var deadline <-chan time.Time
	if limit > 0 {
		t := time.NewTimer(limit)
		defer t.Stop()
		deadline = t.C
	}
	flush := time.NewTicker(st.flush)
	defer flush.Stop()
	lastWrite := time.Now()
	finish := func(reason string) StreamEnd {
		end.Reason = reason
		cut := st.sub.Stop()
		// Spans that ended before the cutoff may still be on their way
		// through other handlers: take them for a moment, then detach.
		grace := time.NewTimer(st.detachGrace)
		defer grace.Stop()
	wait:
		for {
			select {
			case s := <-st.sub.Spans():
				st.add(s)
			case e := <-st.sub.Events():
				st.addEvent(e)
			case <-grace.C:
				break wait
			}
		}
		st.sub.Detach()
		st.drain()
		end.Cutoff = cut
		if err := st.send(); err != nil {
			end.Reason = "client gone"
			return end
		}
		err := st.write(Frame{Final: true, Cutoff: cut, Reason: reason})
		end.Final = err == nil
		end.Sent, end.Dropped = st.sent, st.sub.Dropped()
		return end
	}
	for {
		select {
		case s := <-st.sub.Spans():
			st.add(s)
			if len(st.batch) >= maxFrameSpans {
				if err := st.send(); err != nil {
					return st.gone(end)
				}
				lastWrite = time.Now()
			}
		case e := <-st.sub.Events():
			st.addEvent(e)
		case <-flush.C:
			if len(st.batch) == 0 && time.Since(lastWrite) < st.beat {
				continue
			}
			if err := st.send(); err != nil {
				return st.gone(end)
			}
			lastWrite = time.Now()
		case <-r.Context().Done():
			return st.gone(end)
		case <-act.stop:
			return finish("detach")
		case <-deadline:
			return finish("for")
		}
	}
}

func (st *streamer) gone(end StreamEnd) StreamEnd {
	end.Reason, end.Sent, end.Dropped = "client gone", st.sent, st.sub.Dropped()
	return end
}

func (st *streamer) add(s *spans.Span) {
	st.batch = append(st.batch, s)
	if evs, ok := st.pending[s.SpanID]; ok {
		st.events = append(st.events, evs...)
		delete(st.pending, s.SpanID)
	}
}

// addEvent keeps an event until its span ends (events are emitted while
// their span runs); the oldest waiting are forgotten beyond a bound.
func (st *streamer) addEvent(e event.Event) {
	rec := event.ToRecord(e)
	if len(st.pending) >= maxPendingEvents {
		for k := range st.pending { // any one: a bound, not an order
			delete(st.pending, k)
			break
		}
	}
	st.pending[rec.SpanID] = append(st.pending[rec.SpanID], rec)
}

// drain takes what the channels still hold, without waiting.
func (st *streamer) drain() {
	for {
		select {
		case s := <-st.sub.Spans():
			st.add(s)
		case e := <-st.sub.Events():
			st.addEvent(e)
		default:
			return
		}
	}
}

// send writes the batch (possibly empty: a heartbeat) as one frame.
func (st *streamer) send() error {
	f := Frame{Spans: len(st.batch)}
	if len(st.batch) > 0 {
		req := &coltracepb.ExportTraceServiceRequest{ResourceSpans: otlpconv.ToResourceSpans(st.batch, st.events, st.service)}
		b, err := proto.Marshal(req)
		if err != nil {
			return err
		}
		f.OTLP = b
	}
	st.sent += uint64(len(st.batch))
	clear(st.batch)
	st.batch, st.events = st.batch[:0], st.events[:0]
	return st.write(f)
}

func (st *streamer) write(f Frame) error {
	st.seq++
	f.Seq, f.Time = st.seq, time.Now()
	f.Sent, f.Dropped, f.EventsDropped = st.sent, st.sub.Dropped(), st.sub.EventsDropped()
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	// A client that does not read must not hold the stream (and its tap)
	// for ever: each frame gets a deadline.
	_ = st.rc.SetWriteDeadline(time.Now().Add(st.writeTimeout))
	if _, err := st.w.Write(b); err != nil {
		return errClientGone
	}
	if err := st.rc.Flush(); err != nil {
		return errClientGone
	}
	return nil
}
