package flight_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stagescope/stagescope/dispatcher/flight"
	"github.com/stagescope/stagescope/spans"
)

func TestSlowerThanFreezesOnceAndNamesTheSpan(t *testing.T) {
	r := flight.New(flight.WithTrigger(flight.SlowerThan(100*time.Millisecond, spans.StageRerank)), flight.WithCooldown(time.Minute))
	now := time.Now()
	r.SpanEnded(ended("fast", spans.StageRerank, now, 10*time.Millisecond, spans.StatusOK))
	r.SpanEnded(ended("slow llm", spans.StageLLM, now, time.Second, spans.StatusOK)) // other stage
	if n := len(r.Frozen()); n != 0 {
		t.Fatalf("%d snapshots frozen before any slow rerank", n)
	}
	r.SpanEnded(ended("slow rerank", spans.StageRerank, now.Add(time.Millisecond), 300*time.Millisecond, spans.StatusOK))
	r.SpanEnded(ended("slow rerank 2", spans.StageRerank, now.Add(2*time.Millisecond), 300*time.Millisecond, spans.StatusOK)) // within the cooldown
	fr := r.Frozen()
	if len(fr) != 1 {
		t.Fatalf("%d snapshots frozen, want 1 (the second slow span falls in the cooldown)", len(fr))
	}
	if !strings.Contains(fr[0].Reason, `"slow rerank"`) || !strings.Contains(fr[0].Reason, "slower than 100ms in rerank") {
		t.Fatalf("reason = %q", fr[0].Reason)
	}
	if n := len(fr[0].Spans); n < 3 {
		t.Fatalf("frozen snapshot holds %d spans, want at least the 3 before it", n)
	}
	// After the cooldown another one freezes.
	r.SpanEnded(ended("slow rerank 3", spans.StageRerank, now.Add(2*time.Minute), 300*time.Millisecond, spans.StatusOK))
	if n := len(r.Frozen()); n != 2 {
		t.Fatalf("%d snapshots frozen after the cooldown, want 2", n)
	}
}

func TestErrorInFiresOnErrorsOfItsStagesOnly(t *testing.T) {
	r := flight.New(flight.WithTrigger(flight.ErrorIn(spans.StageLLM)), flight.WithKeepFrozen(1), flight.WithCooldown(time.Nanosecond))
	now := time.Now()
	r.SpanEnded(ended("retrieve", spans.StageRetrieve, now, time.Millisecond, spans.StatusError))
	r.SpanEnded(ended("chat", spans.StageLLM, now, time.Millisecond, spans.StatusDropped))
	if n := len(r.Frozen()); n != 0 {
		t.Fatalf("froze %d snapshots on an error elsewhere or a dropped span", n)
	}
	r.SpanEnded(ended("chat", spans.StageLLM, now.Add(time.Millisecond), time.Millisecond, spans.StatusError))
	r.SpanEnded(ended("chat again", spans.StageLLM, now.Add(2*time.Millisecond), time.Millisecond, spans.StatusError))
	fr := r.Frozen()
	if len(fr) != 1 || !strings.Contains(fr[0].Reason, `"chat again"`) {
		t.Fatalf("frozen = %d, want only the newest kept; reason %q", len(fr), reasonOf(fr))
	}
}

func reasonOf(fr []*flight.Snapshot) string {
	if len(fr) == 0 {
		return ""
	}
	return fr[len(fr)-1].Reason
}

func TestP95AboveFiresWhenTheMinutesTailCrossesTheBound(t *testing.T) {
	r := flight.New(flight.WithTrigger(flight.P95Above(spans.StageRetrieve, 50*time.Millisecond)), flight.WithCooldown(time.Nanosecond))
	base := time.Unix(1_700_000_000, 0) // the start of a ten-second period
	// 100 spans in one second at 10ms: p95 = 10ms, below the bound.
	for i := range 100 {
		r.SpanEnded(ended("r", spans.StageRetrieve, base.Add(time.Duration(i)*10*time.Millisecond), 10*time.Millisecond, spans.StatusOK))
	}
	if n := len(r.Frozen()); n != 0 {
		t.Fatalf("froze %d snapshots at p95 10ms", n)
	}
	// 10 more at 200ms (10 of 111 ≥ 5%, so the p95 is 200ms), and one at
	// 10ms more than a second after the last check, which runs the next.
	for i := range 10 {
		r.SpanEnded(ended("r", spans.StageRetrieve, base.Add(1500*time.Millisecond+time.Duration(i)*time.Millisecond), 200*time.Millisecond, spans.StatusOK))
	}
	if n := len(r.Frozen()); n != 0 {
		t.Fatalf("froze %d snapshots before the check was due", n)
	}
	r.SpanEnded(ended("r", spans.StageRetrieve, base.Add(2600*time.Millisecond), 10*time.Millisecond, spans.StatusOK))
	fr := r.Frozen()
	if len(fr) != 1 || !strings.Contains(fr[0].Reason, "p95 of retrieve over the last 1m0s above 50ms") {
		t.Fatalf("frozen %d, reason %q", len(fr), reasonOf(fr))
	}
	// Two minutes later the slow spans have left the window: the next
	// check sees 25 spans at 10ms only.
	later := base.Add(2 * time.Minute)
	for i := range 25 {
		r.SpanEnded(ended("r", spans.StageRetrieve, later.Add(time.Duration(i)*50*time.Millisecond), 10*time.Millisecond, spans.StatusOK))
	}
	if n := len(r.Frozen()); n != 1 {
		t.Fatalf("froze again (%d) after the slow spans left the minute", n)
	}
}

func TestFreezeOnDemandIsKept(t *testing.T) {
	r := flight.New()
	r.SpanEnded(ended("a", spans.StageQuery, time.Now(), time.Millisecond, spans.StatusOK))
	snap := r.Freeze("operator asked")
	fr := r.Frozen()
	if len(fr) != 1 || fr[0] != snap || snap.Reason != "operator asked" || len(snap.Spans) != 1 {
		t.Fatalf("frozen = %+v", fr)
	}
}
