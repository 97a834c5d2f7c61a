package event

import "github.com/stagescope/stagescope/spans"

// RetrievalStart: a retriever was asked for the TopK best documents.
type RetrievalStart struct {
	Header
	Retriever string `json:"retriever"`
	Query     string `json:"query"`
	TopK      int    `json:"top_k"`
}

func (*RetrievalStart) Name() string       { return "retrieval.start" }
func (*RetrievalStart) Stage() spans.Stage { return spans.StageRetrieve }
func (e *RetrievalStart) Attrs() []spans.Attribute {
	return []spans.Attribute{spans.String("retrieval.retriever", e.Retriever), spans.String("retrieval.query", e.Query), spans.Int("retrieval.top_k", e.TopK)}
}

// RetrievalEnd: the retriever answered with Docs, best first.
type RetrievalEnd struct {
	Header
	Retriever string      `json:"retriever"`
	Query     string      `json:"query"`
	TopK      int         `json:"top_k"`
	Docs      []ScoredDoc `json:"docs"`
}

func (*RetrievalEnd) Name() string       { return "retrieval.end" }
func (*RetrievalEnd) Stage() spans.Stage { return spans.StageRetrieve }
func (e *RetrievalEnd) Attrs() []spans.Attribute {
	return []spans.Attribute{spans.String("retrieval.retriever", e.Retriever), spans.String("retrieval.query", e.Query), spans.Int("retrieval.top_k", e.TopK),
		spans.Strings("retrieval.document_ids", docIDs(e.Docs)), spans.Float64s("retrieval.document_scores", docScores(e.Docs))}
}
