package flight_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/dispatcher/dispatchertest"
	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/dispatcher/flight"
	"github.com/stagescope/stagescope/spans"
)

// ended returns a finished span of stage that ended at end after d.
func ended(name string, stage spans.Stage, end time.Time, d time.Duration, st spans.Status) *spans.Span {
	return &spans.Span{TraceID: spans.NewTraceID(), SpanID: spans.NewSpanID(), Name: name, Stage: stage,
		Start: end.Add(-d), End: end, Status: st}
}

func TestRecorderKeepsTheLastSpansInEndOrder(t *testing.T) {
	r := flight.New(flight.WithCapacity(5), flight.WithWindow(0))
	if r.Capacity() != 8 {
		t.Fatalf("capacity 5 should round up to 8, got %d", r.Capacity())
	}
	base := time.Now()
	var all []*spans.Span
	for i := range 11 {
		s := ended("op", spans.StageRetrieve, base.Add(time.Duration(i)*time.Millisecond), time.Millisecond, spans.StatusOK)
		all = append(all, s)
		r.SpanEnded(s)
	}
	snap := r.Snapshot()
	if len(snap.Spans) != 8 {
		t.Fatalf("snapshot holds %d spans, want the ring's 8", len(snap.Spans))
	}
	for i, s := range snap.Spans {
		if s != all[3+i] {
			t.Fatalf("span %d of the snapshot is not the %dth recorded", i, 3+i)
		}
	}
	if snap.SpansOverwritten != 3 {
		t.Fatalf("overwritten = %d, want 3", snap.SpansOverwritten)
	}
	st := r.Stats()
	if st.SpansRecorded != 11 || st.SpansOverwritten != 3 || st.Subscribed {
		t.Fatalf("stats = %+v", st)
	}
}

func TestSnapshotLeavesOutSpansOlderThanTheWindow(t *testing.T) {
	r := flight.New(flight.WithWindow(time.Minute))
	now := time.Now()
	old := ended("old", spans.StageLLM, now.Add(-2*time.Minute), time.Second, spans.StatusOK)
	recent := ended("recent", spans.StageLLM, now.Add(-time.Second), time.Second, spans.StatusOK)
	r.SpanEnded(old)
	r.SpanEnded(recent)
	snap := r.Snapshot()
	if len(snap.Spans) != 1 || snap.Spans[0] != recent {
		t.Fatalf("snapshot = %v, want only the span of the last minute", names(snap.Spans))
	}
	if snap.Window != time.Minute {
		t.Fatalf("window = %v", snap.Window)
	}
}

func names(ss []*spans.Span) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.Name)
	}
	return out
}

func TestRecorderAttachedToADispatcherKeepsSpansAndEvents(t *testing.T) {
	d := dispatcher.Get(dispatchertest.UniqueName("flight"))
	d.SetPropagate(false)
	r := flight.New()
	defer d.AddSpanHandler(r)()
	defer d.AddEventHandler(r)()
	ctx, root := d.Start(context.Background(), "query", spans.StageQuery)
	_, child := d.Start(ctx, "retrieve", spans.StageRetrieve)
	child.Emit(&event.RetrievalEnd{})
	child.EndErr(errors.New("index offline"))
	root.End()
	snap := r.Snapshot()
	if got := names(snap.Spans); strings.Join(got, ",") != "retrieve,query" {
		t.Fatalf("spans = %v, want retrieve then query", got)
	}
	// The error adds an exception event to the retrieval.end one.
	if len(snap.Events) != 2 || snap.Events[0].Name != "retrieval.end" || snap.Events[1].Name != "exception" {
		t.Fatalf("events = %+v", snap.Events)
	}
	if snap.Events[0].SpanID != child.SpanContext().SpanID {
		t.Fatalf("event belongs to span %s, want %s", snap.Events[0].SpanID, child.SpanContext().SpanID)
	}
}

// TestConcurrentWritersAndSnapshots runs under -race: writers on many
// goroutines, snapshots at the same time; every span kept is whole and the
// count is exact.
func TestConcurrentWritersAndSnapshots(t *testing.T) {
	r := flight.New(flight.WithCapacity(1024), flight.WithEventCapacity(64), flight.WithWindow(0))
	const writers, per = 8, 2000
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var snaps sync.WaitGroup
	snaps.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			for _, s := range r.Snapshot().Spans {
				if s.Name != "w" || s.End.Before(s.Start) {
					t.Errorf("torn span %+v", s)
					return
				}
			}
		}
	})
	for range writers {
		wg.Go(func() {
			for range per {
				r.SpanEnded(ended("w", spans.StagePool, time.Now(), time.Microsecond, spans.StatusOK))
				r.HandleEvent(&event.AttemptStarted{})
			}
		})
	}
	wg.Wait()
	close(stop)
	snaps.Wait()
	st := r.Stats()
	if st.SpansRecorded != writers*per || st.EventsRecorded != writers*per {
		t.Fatalf("recorded %d spans and %d events, want %d each", st.SpansRecorded, st.EventsRecorded, writers*per)
	}
	if n := len(r.Snapshot().Spans); n != 1024 {
		t.Fatalf("a full ring snapshot holds %d spans, want 1024", n)
	}
}

func TestRecordingAllocatesNothing(t *testing.T) {
	r := flight.New(flight.WithTrigger(flight.SlowerThan(time.Hour)), flight.WithTrigger(flight.ErrorIn(spans.StageLLM)),
		flight.WithTrigger(flight.P95Above(spans.StageRetrieve, time.Hour)))
	s := ended("op", spans.StageRetrieve, time.Now(), time.Millisecond, spans.StatusOK)
	e := &event.AttemptStarted{}
	if n := testing.AllocsPerRun(1000, func() { r.SpanEnded(s); r.HandleEvent(e) }); n != 0 {
		t.Fatalf("recording allocates %v times per span", n)
	}
	sub, err := r.Subscribe(16)
	if err != nil {
		t.Fatal(err)
	}
	// With a subscriber whose channel is full: still nothing, and counted.
	if n := testing.AllocsPerRun(1000, func() { r.SpanEnded(s) }); n != 0 {
		t.Fatalf("recording with a subscriber allocates %v times per span", n)
	}
	if sub.Dropped() == 0 {
		t.Fatal("a full subscription dropped nothing")
	}
	sub.Detach()
}
