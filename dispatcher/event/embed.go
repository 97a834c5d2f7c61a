package event

import "github.com/stagescope/stagescope/spans"

// EmbeddingStart: a batch of Chunks texts is about to be embedded.
type EmbeddingStart struct {
	Header
	Model  string `json:"model"`
	Chunks int    `json:"chunks"`
}

func (*EmbeddingStart) Name() string       { return "embedding.start" }
func (*EmbeddingStart) Stage() spans.Stage { return spans.StageEmbed }
func (e *EmbeddingStart) Attrs() []spans.Attribute {
	return []spans.Attribute{spans.String("embedding.model", e.Model), spans.Int("embedding.chunks", e.Chunks)}
}

// EmbeddingEnd: the batch is embedded.
type EmbeddingEnd struct {
	Header
	Model      string `json:"model"`
	Chunks     int    `json:"chunks"`
	Tokens     int    `json:"tokens"`
	Dimensions int    `json:"dimensions"`
}

func (*EmbeddingEnd) Name() string       { return "embedding.end" }
func (*EmbeddingEnd) Stage() spans.Stage { return spans.StageEmbed }
func (e *EmbeddingEnd) Attrs() []spans.Attribute {
	return []spans.Attribute{spans.String("embedding.model", e.Model), spans.Int("embedding.chunks", e.Chunks), spans.Int("embedding.tokens", e.Tokens), spans.Int("embedding.dimensions", e.Dimensions)}
}
