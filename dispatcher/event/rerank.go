package event

import "github.com/stagescope/stagescope/spans"

// RerankStart: In is about to be reranked down to TopN.
type RerankStart struct {
	Header
	Model string      `json:"model"`
	Query string      `json:"query"`
	TopN  int         `json:"top_n"`
	In    []ScoredDoc `json:"in"`
}

func (*RerankStart) Name() string       { return "rerank.start" }
func (*RerankStart) Stage() spans.Stage { return spans.StageRerank }
func (e *RerankStart) Attrs() []spans.Attribute {
	return []spans.Attribute{spans.String("rerank.model", e.Model), spans.String("rerank.query", e.Query), spans.Int("rerank.top_n", e.TopN),
		spans.Strings("rerank.input_ids", docIDs(e.In))}
}

// RerankEnd: Out is the reranked selection, best first.
type RerankEnd struct {
	Header
	Model string      `json:"model"`
	Query string      `json:"query"`
	TopN  int         `json:"top_n"`
	In    []ScoredDoc `json:"in"`
	Out   []ScoredDoc `json:"out"`
}

func (*RerankEnd) Name() string       { return "rerank.end" }
func (*RerankEnd) Stage() spans.Stage { return spans.StageRerank }
func (e *RerankEnd) Attrs() []spans.Attribute {
	return []spans.Attribute{spans.String("rerank.model", e.Model), spans.String("rerank.query", e.Query), spans.Int("rerank.top_n", e.TopN),
		spans.Strings("rerank.input_ids", docIDs(e.In)), spans.Strings("rerank.output_ids", docIDs(e.Out)), spans.Float64s("rerank.output_scores", docScores(e.Out))}
}
