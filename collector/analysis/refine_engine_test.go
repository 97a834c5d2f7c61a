package analysis_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stagescope/stagescope/collector/analysis"
	"github.com/stagescope/stagescope/engine/llm"
	"github.com/stagescope/stagescope/engine/query"
	"github.com/stagescope/stagescope/engine/rerank"
	"github.com/stagescope/stagescope/engine/synth"
	"github.com/stagescope/stagescope/spans"
)

// A token-heavy refine run of the real engine: with synthesize.mode refine
// every kept passage is a model call of its own, each resending the answer
// so far. The report leads with the model calls, says how many a request
// makes and why, and says to switch the mode to compact — in the latency
// advice and in the cost finding; the same pipeline in compact mode makes one
// call a request and gets no such advice.
func TestTokenHeavyRefineRunIsDiagnosed(t *testing.T) {
	p := goPipeline(t)
	const topN, queries = 4, 12
	run := func(mode synth.Mode) *analysis.Report {
		e, err := query.New(p.Index.Hybrid, rerank.NewLocalReranker(),
			llm.NewExtractive(llm.WithFirstTokenLatency(40*time.Millisecond)),
			query.WithTopK(10), query.WithTopN(topN), query.WithResponseMode(mode))
		if err != nil {
			t.Fatal(err)
		}
		traces := record(t, func(ctx context.Context) {
			for _, q := range p.Corpus.Questions[:queries] {
				if _, err := e.Query(ctx, q.Query); err != nil {
					t.Errorf("query: %v", err)
				}
			}
		})
		return analysis.Analyze(traces, analysis.WithPriceTable(map[string]analysis.Price{"stagescope-extractive": {PromptPerMTok: 1, CompletionPerMTok: 4}}))
	}
	llmCalls := func(r *analysis.Report) int {
		for _, c := range r.Cost {
			if c.Stage == spans.StageLLM {
				return c.Calls
			}
		}
		return 0
	}
	refine := run(synth.Refine)
	if calls := llmCalls(refine); calls < queries*2 {
		t.Fatalf("refine made %d model calls for %d queries", calls, queries)
	}
	perRequest := fmt.Sprintf("each request makes %.1f model calls because synthesize.mode is \"refine\"", float64(llmCalls(refine))/queries)
	first := refine.Findings[0]
	if first.Stage != spans.StageLLM || first.Kind != "latency" || !strings.Contains(first.Recommendation, perRequest) ||
		!strings.Contains(first.Recommendation, `switch it to "compact"`) {
		t.Errorf("first finding %s/%s: %s\nwant llm latency advice with %q", first.Kind, first.Stage, first.Recommendation, perRequest)
	}
	var cost *analysis.Finding
	for i, f := range refine.Findings {
		if f.Kind == "cost" && f.Stage == spans.StageLLM {
			cost = &refine.Findings[i]
		}
	}
	if cost == nil || !strings.Contains(cost.Recommendation, perRequest) {
		t.Errorf("cost finding %+v, want it to say %q", cost, perRequest)
	}

	compact := run(synth.Compact)
	if calls := llmCalls(compact); calls != queries {
		t.Errorf("compact made %d model calls for %d queries", calls, queries)
	}
	for _, f := range compact.Findings {
		if strings.Contains(f.Recommendation, "synthesize.mode") {
			t.Errorf("compact run told to change its mode: %s", f.Recommendation)
		}
	}
}
