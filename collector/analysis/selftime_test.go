package analysis

import (
	"testing"

	"github.com/stagescope/stagescope/spans"
)

// Self time in the report is tracetree's: children clipped to the parent,
// overlaps counted once. (The computation itself is tested in tracetree.)
func TestSelfTimeOverlappingAndOutsideChildren(t *testing.T) {
	b := newTrace()
	p := b.span(nil, "synth", spans.StageSynth, 0, 100)
	b.span(p, "a", spans.StageLLM, 10, 40)
	b.span(p, "b", spans.StageLLM, 30, 60)   // overlaps a
	b.span(p, "c", spans.StageLLM, 90, 120)  // runs past the parent's end
	b.span(p, "d", spans.StageLLM, -10, 5)   // starts before the parent
	b.span(p, "e", spans.StageLLM, 200, 300) // wholly outside
	b.span(p, "f", spans.StageLLM, 15, 20)   // inside a
	// covered: [0,5] + [10,60] + [90,100] = 65 → self 35
	r := Analyze([]Trace{b.trace()})
	ss, ok := stageStats(r, spans.StageSynth)
	if !ok || ss.Self.P50 != msDur(35) || ss.Total.P50 != msDur(100) {
		t.Fatalf("synth stats = %+v", ss)
	}
	if ss.Self.P50Ms != 35 || ss.Total.P50Ms != 100 {
		t.Fatalf("synth ms = %v / %v, want 35 / 100", ss.Self.P50Ms, ss.Total.P50Ms)
	}
	// The LLM spans ran their own code during 0–5, 10–60 and 90–100 of
	// the request (e, after the root ended, does not count): 65%.
	if ls, _ := stageStats(r, spans.StageLLM); ls.ShareOfE2E != 0.65 {
		t.Fatalf("llm share of e2e = %v, want 0.65", ls.ShareOfE2E)
	}
}

func TestSelfTimeManyChildren(t *testing.T) {
	// More than the insertion-sort cut-off, in reverse order, half overlapping.
	b := newTrace()
	p := b.span(nil, "pool", spans.StagePool, 0, 1000)
	for i := 49; i >= 0; i-- {
		b.span(p, "job", spans.StageEmbed, float64(i*20), float64(i*20+10))
		b.span(p, "job", spans.StageEmbed, float64(i*20+5), float64(i*20+10))
	}
	r := Analyze([]Trace{b.trace()})
	if ss, _ := stageStats(r, spans.StagePool); ss.SelfSum != msDur(500) {
		t.Fatalf("pool self = %v, want 500ms", ss.SelfSum)
	}
}
