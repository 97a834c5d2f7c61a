package flight_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/dispatcher/flight"
	"github.com/stagescope/stagescope/spans"
)

func TestOneSubscriberAtATime(t *testing.T) {
	r := flight.New()
	sub, err := r.Subscribe(4)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Subscribe(4); !errors.Is(err, flight.ErrSubscribed) {
		t.Fatalf("second Subscribe: %v, want ErrSubscribed", err)
	}
	if !r.Stats().Subscribed {
		t.Fatal("stats do not show the subscriber")
	}
	sub.Detach()
	sub.Detach()
	if r.Stats().Subscribed {
		t.Fatal("still subscribed after Detach")
	}
	again, err := r.Subscribe(4)
	if err != nil {
		t.Fatalf("Subscribe after Detach: %v", err)
	}
	again.Detach()
}

func TestSubscriptionDeliversDropsAndStops(t *testing.T) {
	r := flight.New()
	before := ended("before", spans.StageLLM, time.Now(), time.Millisecond, spans.StatusOK)
	r.SpanEnded(before)
	sub, err := r.Subscribe(3)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i := range 5 {
		r.SpanEnded(ended("during", spans.StageLLM, now, time.Millisecond, spans.StatusOK))
		_ = i
	}
	r.HandleEvent(&event.AttemptStarted{Header: event.Header{Time: now}})
	if got := len(sub.Spans()); got != 3 {
		t.Fatalf("channel holds %d spans, want 3 (its size)", got)
	}
	if sub.Dropped() != 2 {
		t.Fatalf("dropped = %d, want 2", sub.Dropped())
	}
	if len(sub.Events()) != 1 {
		t.Fatalf("events delivered = %d, want 1", len(sub.Events()))
	}
	for range 3 {
		<-sub.Spans()
	}
	cut := sub.Stop()
	// A span that ended before the cutoff but is handed over late is still
	// delivered; one that ended after is not.
	r.SpanEnded(ended("late but in", spans.StageLLM, cut.Add(-time.Millisecond), time.Millisecond, spans.StatusOK))
	r.SpanEnded(ended("after", spans.StageLLM, cut.Add(time.Millisecond), time.Millisecond, spans.StatusOK))
	if got := len(sub.Spans()); got != 1 {
		t.Fatalf("after Stop the channel got %d spans, want 1", got)
	}
	if s := <-sub.Spans(); s.Name != "late but in" {
		t.Fatalf("delivered %q", s.Name)
	}
	sub.Detach()
	r.SpanEnded(ended("detached", spans.StageLLM, cut.Add(-time.Millisecond), time.Millisecond, spans.StatusOK))
	if len(sub.Spans()) != 0 {
		t.Fatal("a detached subscription still receives spans")
	}
}
