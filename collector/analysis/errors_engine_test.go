package analysis_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stagescope/stagescope/collector/analysis"
	"github.com/stagescope/stagescope/engine/faultinject"
	"github.com/stagescope/stagescope/engine/llm"
	"github.com/stagescope/stagescope/engine/query"
	"github.com/stagescope/stagescope/engine/rerank"
	"github.com/stagescope/stagescope/spans"
)

// An error-only plant in the real engine: a share of rerank calls fail, and
// the report says how many requests rerank failed — exactly the queries that
// returned an error — with exemplars.
func TestPlantedRerankErrorsAreAFinding(t *testing.T) {
	p := goPipeline(t)
	e, err := query.New(p.Index.Hybrid, rerank.NewLocalReranker(), llm.NewExtractive(), query.WithTopK(10), query.WithTopN(3),
		query.WithFaults(map[spans.Stage]*faultinject.Injector{spans.StageRerank: faultinject.New(faultinject.WithErrorRate(0.3), faultinject.WithSeed(5))}))
	if err != nil {
		t.Fatal(err)
	}
	questions := p.Corpus.Questions
	failed := 0
	traces := record(t, func(ctx context.Context) {
		for _, q := range questions {
			if _, err := e.Query(ctx, q.Query); err != nil {
				failed++
			}
		}
	})
	if failed == 0 || failed == len(questions) {
		t.Fatalf("%d of %d queries failed: the plant did not bite (or bit everything)", failed, len(questions))
	}
	rep := analysis.Analyze(traces)
	es := rep.Errors
	if es.FailedTraces != failed || len(es.Stages) == 0 || es.Stages[0].Stage != spans.StageRerank || es.Stages[0].FailedRequests != failed {
		t.Fatalf("%d queries failed; report: %d failed traces, stages %+v", failed, es.FailedTraces, es.Stages)
	}
	if es.Stages[0].Injected == 0 {
		t.Errorf("planted failures not recognised: %+v", es.Stages[0])
	}
	var f *analysis.Finding
	for i := range rep.Findings {
		if rep.Findings[i].Kind == "error" {
			f = &rep.Findings[i]
			break
		}
	}
	if f == nil || f.Stage != spans.StageRerank || len(f.Exemplars) == 0 || !strings.Contains(f.Title, "rerank failures failed") {
		t.Fatalf("error finding %+v", f)
	}
	if share := float64(failed) / float64(len(questions)); share >= 0.05 && rep.Findings[0].Kind != "error" {
		t.Errorf("%.0f%% of requests failed, yet the first finding is %s/%s", 100*share, rep.Findings[0].Kind, rep.Findings[0].Stage)
	}
	t.Logf("%d of %d queries failed; %s — %s", failed, len(questions), f.Title, f.Detail)
}
