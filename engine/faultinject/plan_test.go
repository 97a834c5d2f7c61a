package faultinject

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/spans"
)

// recordAll records every span (stage spans of the test's dispatcher and
// fault spans of DispatcherName) until the test ends.
func recordAll(t *testing.T) *dispatcher.Recorder {
	rec := dispatcher.NewRecorder(0)
	t.Cleanup(dispatcher.Root().AddSpanHandler(rec))
	return rec
}

func attrInt(s *spans.Span, key string) (int64, bool) {
	v, ok := s.Attr(key)
	return v.AsInt64(), ok
}

func attrBool(s *spans.Span, key string) (bool, bool) {
	v, ok := s.Attr(key)
	return v.AsBool(), ok
}

func TestInjectRunsTheFaultInAChildOfTheStageSpan(t *testing.T) {
	rec := recordAll(t)
	d := dispatcher.Get("test.plan")
	plan := Plan{
		spans.StageRerank: New(WithLatency(Constant(2 * time.Millisecond))),
		spans.StageLLM:    New(WithErrorRate(1)),
	}
	ctx := WithPlan(context.Background(), plan)

	// Latency: the fault span is a child of the rerank span, of stage
	// rerank, marked injected; the rerank span records what it received.
	rctx, rr := d.Start(ctx, "rerank", spans.StageRerank)
	if _, err := Inject(rctx, spans.StageRerank); err != nil {
		t.Fatal(err)
	}
	rr.End()
	// Error: the fault span and the llm span both fail.
	lctx, call := d.Start(ctx, "llm", spans.StageLLM)
	_, err := Inject(lctx, spans.StageLLM)
	if !errors.Is(err, ErrInjected) {
		t.Fatalf("err = %v", err)
	}
	call.EndErr(err)

	byName := map[string][]*spans.Span{}
	for _, s := range rec.Spans() {
		byName[s.Name] = append(byName[s.Name], s)
	}
	faults := byName[SpanName]
	if len(faults) != 2 || len(byName["rerank"]) != 1 || len(byName["llm"]) != 1 {
		t.Fatalf("spans %v", byName)
	}
	stage := map[spans.SpanID]*spans.Span{byName["rerank"][0].SpanID: byName["rerank"][0], byName["llm"][0].SpanID: byName["llm"][0]}
	for _, f := range faults {
		parent := stage[f.ParentID]
		if parent == nil || parent.Stage != f.Stage || f.Scope != DispatcherName {
			t.Fatalf("fault span %+v is not a child of its stage's span", f)
		}
		if inj, ok := attrBool(f, KeyInjected); !ok || !inj {
			t.Errorf("%s fault span not marked %s", f.Stage, KeyInjected)
		}
		if _, ok := parent.Attr(KeyInjected); ok {
			t.Errorf("%s span marked %s: only the fault span is planted as a whole", parent.Stage, KeyInjected)
		}
		fl, _ := attrInt(f, spans.KeyFaultLatencyNanos)
		pl, _ := attrInt(parent, spans.KeyFaultLatencyNanos)
		fe, _ := attrBool(f, spans.KeyFaultError)
		pe, ok := attrBool(parent, spans.KeyFaultError)
		if fl != pl || fe != pe || !ok {
			t.Errorf("%s: fault span latency %d error %v, stage span %d %v", f.Stage, fl, fe, pl, pe)
		}
		switch f.Stage {
		case spans.StageRerank:
			if fl != int64(2*time.Millisecond) || fe || f.Status != spans.StatusOK || f.Duration() < 2*time.Millisecond || parent.Duration() < f.Duration() {
				t.Errorf("latency fault: %d ns, error %v, status %v, %v in a %v stage span", fl, fe, f.Status, f.Duration(), parent.Duration())
			}
		case spans.StageLLM:
			if fl != 0 || !fe || f.Status != spans.StatusError || parent.Status != spans.StatusError {
				t.Errorf("error fault: %d ns, error %v, status %v (stage span %v)", fl, fe, f.Status, parent.Status)
			}
		}
	}
}

func TestInjectNestingAndMisses(t *testing.T) {
	rec := recordAll(t)
	d := dispatcher.Get("test.plan")
	retrieve := New(WithLatency(Constant(time.Microsecond)))
	miss := New(WithLatency(Constant(time.Hour)), WithLatencyRate(0))
	storage := New(WithLatency(Constant(time.Microsecond)))
	ctx := WithPlan(context.Background(), Plan{spans.StageRetrieve: retrieve, spans.StageEmbed: miss, spans.StageStorage: storage})

	// Without a plan nothing happens and the context is the same.
	bare := context.Background()
	if got, err := Inject(bare, spans.StageRetrieve); got != bare || err != nil {
		t.Fatal("Inject without a plan changed something")
	}

	outerCtx, outer := d.Start(ctx, "hybrid", spans.StageRetrieve)
	outerCtx, err := Inject(outerCtx, spans.StageRetrieve)
	if err != nil {
		t.Fatal(err)
	}
	// A retrieval nested in the planted one is not planted again; the
	// other stages still are.
	innerCtx, inner := d.Start(outerCtx, "vector", spans.StageRetrieve)
	if _, err := Inject(innerCtx, spans.StageRetrieve); err != nil {
		t.Fatal(err)
	}
	// A call that draws no fault records nothing (no span, no attribute).
	ectx, emb := d.Start(innerCtx, "embed", spans.StageEmbed)
	if _, err := Inject(ectx, spans.StageEmbed); err != nil {
		t.Fatal(err)
	}
	emb.End()
	// Storage has no span of its own under a retrieval: the fault span is
	// the storage span, and the retrieval is not marked.
	if _, err := Inject(innerCtx, spans.StageStorage); err != nil {
		t.Fatal(err)
	}
	inner.End()
	outer.End()

	if calls, _, _ := retrieve.Stats(); calls != 1 {
		t.Errorf("retrieve injector called %d times, want once per outermost retrieval", calls)
	}
	if calls, _, _ := miss.Stats(); calls != 1 || miss.Delayed() != 0 {
		t.Errorf("rate 0: %d calls, %d delayed", calls, miss.Delayed())
	}
	if PlanFromContext(outerCtx)[spans.StageRetrieve] != nil || PlanFromContext(outerCtx)[spans.StageEmbed] != miss ||
		PlanFromContext(ctx)[spans.StageRetrieve] != retrieve {
		t.Error("Inject must drop only its own stage, from the returned context only")
	}
	ids := map[string]*spans.Span{}
	var faults []*spans.Span
	for _, s := range rec.Spans() {
		if s.Name == SpanName {
			faults = append(faults, s)
		} else {
			ids[s.Name] = s
		}
	}
	if len(faults) != 2 {
		t.Fatalf("%d fault spans, want 2 (outer retrieval, storage)", len(faults))
	}
	for _, f := range faults {
		want := map[spans.Stage]string{spans.StageRetrieve: "hybrid", spans.StageStorage: "vector"}[f.Stage]
		if f.ParentID != ids[want].SpanID {
			t.Errorf("%s fault span is not under %s", f.Stage, want)
		}
	}
	if _, ok := ids["embed"].Attr(spans.KeyFaultLatencyNanos); ok {
		t.Error("an embed call that drew no fault is marked")
	}
	if _, ok := ids["vector"].Attr(spans.KeyFaultLatencyNanos); ok {
		t.Error("the vector retrieval is marked although neither its own stage's fault nor a fault of its stage hit it")
	}
	if v, _ := attrInt(ids["hybrid"], spans.KeyFaultLatencyNanos); v != int64(time.Microsecond) {
		t.Errorf("hybrid retrieval fault.latency_ns = %d", v)
	}
}

// A latency rate plants a tail: the fraction of calls delayed is the rate,
// and only those calls get a fault span. The seed fixes the draws, so the
// bounds (five standard deviations of the binomial) hold on every run.
func TestInjectLatencyRate(t *testing.T) {
	rec := recordAll(t)
	d := dispatcher.Get("test.plan")
	inj := New(WithLatency(Constant(time.Nanosecond)), WithLatencyRate(0.05), WithSeed(11))
	ctx := WithPlan(context.Background(), Plan{spans.StageRerank: inj})
	const n = 2000
	for range n {
		sctx, s := d.Start(ctx, "rerank", spans.StageRerank)
		if _, err := Inject(sctx, spans.StageRerank); err != nil {
			t.Fatal(err)
		}
		s.End()
	}
	var faults, marked int
	for _, s := range rec.Spans() {
		if s.Name == SpanName {
			faults++
		} else if _, ok := s.Attr(spans.KeyFaultLatencyNanos); ok {
			marked++
		}
	}
	// n·p = 100, σ = √(n·p·(1-p)) ≈ 9.7.
	if got := inj.Delayed(); got < 51 || got > 149 || int64(faults) != got || int64(marked) != got {
		t.Fatalf("%d of %d calls delayed at rate 0.05, %d fault spans, %d stage spans marked", got, n, faults, marked)
	}
}
