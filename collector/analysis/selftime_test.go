package analysis

import (
	"testing"

	"github.com/stagescope/stagescope/spans"
)

func TestSelfTimeOverlappingAndOutsideChildren(t *testing.T) {
	b := newTrace()
	p := b.span(nil, "synth", spans.StageSynth, 0, 100)
	kids := []*spans.Span{
		b.span(p, "a", spans.StageLLM, 10, 40),
		b.span(p, "b", spans.StageLLM, 30, 60),   // overlaps a
		b.span(p, "c", spans.StageLLM, 90, 120),  // runs past the parent's end
		b.span(p, "d", spans.StageLLM, -10, 5),   // starts before the parent
		b.span(p, "e", spans.StageLLM, 200, 300), // wholly outside
		b.span(p, "f", spans.StageLLM, 15, 20),   // inside a
	}
	// covered: [0,5] + [10,60] + [90,100] = 65 → self 35
	if got, want := SelfTime(p, kids), msDur(35); got != want {
		t.Fatalf("SelfTime = %v, want %v", got, want)
	}
	if got := SelfTime(p, nil); got != msDur(100) {
		t.Fatalf("SelfTime without children = %v, want 100ms", got)
	}
	// The same through Analyze: synth self p50 is 35 ms.
	r := Analyze([]Trace{b.trace()})
	ss, ok := stageStats(r, spans.StageSynth)
	if !ok || ss.Self.P50 != msDur(35) || ss.Total.P50 != msDur(100) {
		t.Fatalf("synth stats = %+v", ss)
	}
	if ss.Self.P50Ms != 35 || ss.Total.P50Ms != 100 {
		t.Fatalf("synth ms = %v / %v, want 35 / 100", ss.Self.P50Ms, ss.Total.P50Ms)
	}
}

func TestSelfTimeManyChildren(t *testing.T) {
	// More than the insertion-sort cut-off, in reverse order, half overlapping.
	b := newTrace()
	p := b.span(nil, "pool", spans.StagePool, 0, 1000)
	var kids []*spans.Span
	for i := 49; i >= 0; i-- {
		kids = append(kids, b.span(p, "job", spans.StagePool, float64(i*20), float64(i*20+10)))
		kids = append(kids, b.span(p, "job", spans.StagePool, float64(i*20+5), float64(i*20+10)))
	}
	if got, want := SelfTime(p, kids), msDur(500); got != want {
		t.Fatalf("SelfTime = %v, want %v", got, want)
	}
}

func TestSelfTimeUnendedSpan(t *testing.T) {
	s := &spans.Span{Start: epoch}
	if got := SelfTime(s, nil); got != 0 {
		t.Fatalf("SelfTime of unended span = %v, want 0", got)
	}
	if got := SelfTime(nil, nil); got != 0 {
		t.Fatalf("SelfTime(nil) = %v", got)
	}
}
