package analysis

import (
	"strings"
	"testing"

	"github.com/stagescope/stagescope/spans"
)

// TestPlantedBottleneck plants latency in one place of an otherwise balanced
// pipeline and requires the first finding to name it.
func TestPlantedBottleneck(t *testing.T) {
	cases := []struct {
		name    string
		plant   func(p *pipeline)
		stage   spans.Stage
		kind    string
		mention string // the recommendation must quote this
	}{
		{"retrieve", func(p *pipeline) { p.extraByStage[spans.StageRetrieve] = 40 }, spans.StageRetrieve, "latency", "retrieval.top_k from 20 (attribute retrieval.top_k of the outermost retrieve spans) to 10"},
		{"rerank", func(p *pipeline) { p.extraByStage[spans.StageRerank] = 40 }, spans.StageRerank, "latency", "rerank.top_n from 10 (attribute rerank.top_n of the rerank spans) to 5"},
		{"synth", func(p *pipeline) { p.extraByStage[spans.StageSynth] = 40 }, spans.StageSynth, "latency", `synthesize.mode from "refine"`},
		{"llm", func(p *pipeline) { p.extraByStage[spans.StageLLM] = 40 }, spans.StageLLM, "latency", `faster model than "gpt-4o-mini"`},
		{"pool", func(p *pipeline) { p.workers = 1 }, spans.StagePool, "pool", "raise pool.workers from 1 (attribute pool.workers of the pool spans) to"},
		{"retry", func(p *pipeline) { p.failures, p.backoff = 3, 20 }, spans.StageRetry, "retry", "keep the cap at 4 (now up to 4: the most attempts seen in one call, from the retry.attempt spans): at 3, requests that give up would go from 0.0% to 100.0%"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := basePipeline(11)
			c.plant(&p)
			r := Analyze(p.traces(300))
			if len(r.Findings) == 0 {
				t.Fatal("no findings")
			}
			f := r.Findings[0]
			if f.Stage != c.stage || f.Kind != c.kind {
				for i, g := range r.Findings {
					t.Logf("finding %d: %s %s %s score %v", i, g.Kind, g.Stage, g.Subject, g.Score)
				}
				t.Fatalf("first finding names %s (%s), want %s (%s)", f.Stage, f.Kind, c.stage, c.kind)
			}
			if !strings.Contains(f.Recommendation, c.mention) {
				t.Fatalf("recommendation %q does not say %q", f.Recommendation, c.mention)
			}
			if len(f.Exemplars) != DefaultMaxExemplars || f.Title == "" || f.Detail == "" || !strings.HasSuffix(f.Recommendation, ".") {
				t.Fatalf("finding incomplete: %+v", f)
			}
			// The runner-up must be clearly behind the planted stage.
			if len(r.Findings) > 1 && r.Findings[1].Kind != "cost" && r.Findings[1].Score*3/2 > f.Score {
				t.Fatalf("runner-up %s %v too close to %s %v", r.Findings[1].Stage, r.Findings[1].Score, f.Stage, f.Score)
			}
		})
	}
	// Unplanted, the largest stage (llm, 15 ms of ≈ 50) leads.
	r := Analyze(basePipeline(11).traces(300))
	if f := r.Findings[0]; f.Stage != spans.StageLLM {
		t.Fatalf("baseline first finding = %s", f.Stage)
	}
	for _, f := range r.Findings {
		if f.Kind == "pool" || f.Kind == "retry" {
			t.Fatalf("healthy pipeline reported %s: %+v", f.Kind, f)
		}
	}
}
