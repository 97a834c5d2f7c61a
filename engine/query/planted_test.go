package query

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/engine/faultinject"
	"github.com/stagescope/stagescope/spans"
)

// A plant in each stage reaches that stage in a real query: its fault span
// is under a span of the stage (for storage, which has no span of its own
// in a query, under the vector retrieval), once per call of the stage.
func TestPlantInEveryStage(t *testing.T) {
	p := goPipeline(t)
	const planted = 3 * time.Millisecond
	// Where the fault span sits and how many calls of the stage one query
	// makes.
	want := map[spans.Stage]struct {
		parent spans.Stage
		calls  int
	}{
		spans.StageEmbed:    {spans.StageEmbed, 1},    // the query's embedding
		spans.StageRetrieve: {spans.StageRetrieve, 1}, // the hybrid retrieval only
		spans.StageRerank:   {spans.StageRerank, 1},
		spans.StageSynth:    {spans.StageSynth, 1},
		spans.StageLLM:      {spans.StageLLM, 1}, // compact mode: one model call
		spans.StageStorage:  {spans.StageRetrieve, 1},
		spans.StagePool:     {spans.StagePool, 2}, // the hybrid pool's two jobs
	}
	if len(want) != len(faultinject.Stages) {
		t.Fatalf("test covers %d stages, faultinject.Stages has %d", len(want), len(faultinject.Stages))
	}
	for _, stage := range faultinject.Stages {
		t.Run(stage.String(), func(t *testing.T) {
			inj := faultinject.New(faultinject.WithLatency(faultinject.Constant(planted)))
			e, err := New(p.Index.Hybrid, p.Engine.reranker, p.Engine.model.(*retryingLLM).inner,
				WithFaults(faultinject.Plan{stage: inj}))
			if err != nil {
				t.Fatal(err)
			}
			rec := dispatcher.NewRecorder(0)
			remove := dispatcher.Root().AddSpanHandler(rec)
			_, err = e.Query(context.Background(), p.Corpus.Questions[0].Query)
			remove()
			if err != nil {
				t.Fatal(err)
			}
			tr := newTree(rec.Spans())
			var faults []*spans.Span
			for _, s := range rec.Spans() {
				if s.Name == FaultSpanName {
					faults = append(faults, s)
				}
			}
			w := want[stage]
			if calls, _, _ := inj.Stats(); len(faults) != w.calls || calls != int64(w.calls) {
				t.Fatalf("%d fault spans, %d calls; want %d", len(faults), calls, w.calls)
			}
			for _, f := range faults {
				parent := tr.byID[f.ParentID]
				if f.Stage != stage || parent == nil || parent.Stage != w.parent {
					t.Fatalf("fault span of stage %s under %v", f.Stage, parent)
				}
				if v, _ := f.Attr(faultinject.KeyInjected); !v.AsBool() || f.Duration() < planted {
					t.Fatalf("fault span: injected %v, %v", v.AsBool(), f.Duration())
				}
				// The stage span (not the retrieval a storage fault sits
				// under) records the fault it received.
				_, marked := parent.Attr(spans.KeyFaultLatencyNanos)
				if marked != (parent.Stage == stage) {
					t.Fatalf("%s span marked %v", parent.Stage, marked)
				}
			}
		})
	}
}

// An error planted in a stage fails that stage's span and the query.
func TestPlantedErrorFailsTheStage(t *testing.T) {
	p := goPipeline(t)
	for _, stage := range []spans.Stage{spans.StageEmbed, spans.StageRerank, spans.StagePool, spans.StageStorage} {
		t.Run(stage.String(), func(t *testing.T) {
			e, err := New(p.Index.Hybrid, p.Engine.reranker, p.Engine.model.(*retryingLLM).inner,
				WithFaults(faultinject.Plan{stage: faultinject.New(faultinject.WithErrorRate(1))}))
			if err != nil {
				t.Fatal(err)
			}
			rec := dispatcher.NewRecorder(0)
			remove := dispatcher.Root().AddSpanHandler(rec)
			_, err = e.Query(context.Background(), p.Corpus.Questions[1].Query)
			remove()
			if !errors.Is(err, faultinject.ErrInjected) {
				t.Fatalf("err = %v", err)
			}
			tr := newTree(rec.Spans())
			var failedFaults int
			for _, s := range rec.Spans() {
				if s.Name != FaultSpanName {
					continue
				}
				parent := tr.byID[s.ParentID]
				if s.Status != spans.StatusError || parent == nil || parent.Status != spans.StatusError {
					t.Fatalf("fault span %v under %v", s.Status, parent)
				}
				if v, _ := s.Attr(spans.KeyFaultError); !v.AsBool() {
					t.Fatal("failed fault span lacks fault.error=true")
				}
				failedFaults++
			}
			if failedFaults == 0 {
				t.Fatal("no failed fault span")
			}
			if q := tr.children[spans.SpanID{}]; len(q) != 1 || q[0].Status != spans.StatusError {
				t.Fatal("the query did not fail")
			}
		})
	}
}
