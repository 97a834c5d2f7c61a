package analysis

import (
	"math"
	"testing"

	"github.com/stagescope/stagescope/spans"
)

func costTrace() Trace {
	b := newTrace()
	q := b.span(nil, "query", spans.StageQuery, 0, 100)
	b.span(q, "embed", spans.StageEmbed, 0, 10, spans.String(spans.KeyEmbeddingModel, "text-embedding-3-small"), spans.Int(spans.KeyEmbeddingTokens, 500))
	// The synth span repeats its children's totals: it must not be counted.
	s := b.span(q, "synth", spans.StageSynth, 10, 100, spans.Int(spans.KeyLLMPromptTokens, 2000), spans.Int(spans.KeyLLMCompletionTokens, 400))
	for i := range 2 {
		b.span(s, "llm", spans.StageLLM, float64(10+40*i), float64(50+40*i), spans.String(spans.KeyLLMModel, "gpt-4o-mini-2024-07-18"),
			spans.Int(spans.KeyLLMPromptTokens, 1000), spans.Int(spans.KeyLLMCompletionTokens, 200))
	}
	b.span(q, "rerank", spans.StageRerank, 0, 5, spans.String(spans.KeyLLMModel, "in-house-reranker"), spans.Int(spans.KeyLLMPromptTokens, 300))
	return b.trace()
}

func TestCostPerStageAndModel(t *testing.T) {
	r := Analyze([]Trace{costTrace(), costTrace()})
	byKey := map[string]CostStats{}
	for _, c := range r.Cost {
		byKey[c.Stage.String()+"/"+c.Model] = c
	}
	if len(byKey) != 3 {
		t.Fatalf("cost rows = %+v (synth must not double count)", r.Cost)
	}
	llm := byKey["llm/gpt-4o-mini-2024-07-18"]
	// Prefix price gpt-4o-mini: 4000×0.15 + 800×0.60 per Mtok = $0.00108.
	if llm.Calls != 4 || llm.PromptTokens != 4000 || llm.CompletionTokens != 800 || llm.USD != 0.00108 || llm.USDPerTrace != 0.00054 || !llm.Priced {
		t.Fatalf("llm cost = %+v", llm)
	}
	emb := byKey["embed/text-embedding-3-small"]
	if emb.EmbeddingTokens != 1000 || emb.USD != 0.00002 {
		t.Fatalf("embed cost = %+v", emb)
	}
	rr := byKey["rerank/in-house-reranker"]
	if rr.Priced || rr.USD != 0 || rr.PromptTokens != 600 {
		t.Fatalf("rerank cost = %+v", rr)
	}
	if r.CostTotalUSD != 0.0011 || len(r.UnpricedModels) != 1 || r.UnpricedModels[0] != "in-house-reranker" {
		t.Fatalf("total $%v unpriced %v", r.CostTotalUSD, r.UnpricedModels)
	}
	if r.Cost[0].Model != "gpt-4o-mini-2024-07-18" {
		t.Fatalf("most expensive first: %+v", r.Cost[0])
	}
	var costFindings []Finding
	for _, f := range r.Findings {
		if f.Kind == "cost" {
			costFindings = append(costFindings, f)
		}
	}
	// llm ($0.00108) and embed ($0.00002, under 5 % of spend: left out), then the unpriced model.
	if len(costFindings) != 2 || costFindings[0].Subject != "gpt-4o-mini-2024-07-18" || costFindings[1].Title != "no price for 1 model" {
		t.Fatalf("cost findings = %+v", costFindings)
	}
	if r.Findings[len(r.Findings)-1].Kind != "cost" || r.Findings[0].Kind == "cost" {
		t.Fatalf("cost findings must come after latency findings")
	}
}

func TestCustomPriceTable(t *testing.T) {
	r := Analyze([]Trace{costTrace()}, WithPriceTable(map[string]Price{
		"gpt-4o":            {PromptPerMTok: 100, CompletionPerMTok: 1000},
		"in-house-reranker": {PromptPerMTok: 10},
	}))
	var total float64
	for _, c := range r.Cost {
		if !c.Priced && c.Model != "text-embedding-3-small" {
			t.Fatalf("%s not priced", c.Model)
		}
		total += c.USD
	}
	// llm priced by prefix "gpt-4o": 2000×100 + 400×1000 = 600000 → $0.6;
	// rerank 300×10 → $0.003; embeddings unpriced now.
	if math.Abs(total-0.603) > 1e-9 || r.CostTotalUSD != 0.603 {
		t.Fatalf("total = %v / %v, want 0.603", total, r.CostTotalUSD)
	}
	if p, ok := newConfig(nil).priceFor("gpt-4o-mini-x"); !ok || p.PromptPerMTok != 0.15 {
		t.Fatalf("longest prefix must win: %+v", p)
	}
	if _, ok := newConfig(nil).priceFor(""); ok {
		t.Fatalf("empty model must not match")
	}
}
