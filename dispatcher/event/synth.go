package event

import "github.com/stagescope/stagescope/spans"

// SynthesizeStart: a response is about to be synthesized from Chunks chunks.
type SynthesizeStart struct {
	Header
	Query  string `json:"query"`
	Mode   string `json:"mode"` // compact, refine, tree_summarize
	Chunks int    `json:"chunks"`
}

func (*SynthesizeStart) Name() string       { return "synthesize.start" }
func (*SynthesizeStart) Stage() spans.Stage { return spans.StageSynth }
func (e *SynthesizeStart) Attrs() []spans.Attribute {
	return []spans.Attribute{spans.String("synthesize.query", e.Query), spans.String("synthesize.mode", e.Mode), spans.Int("synthesize.chunks", e.Chunks)}
}

// SynthesizeEnd: the response is ready; LLMCalls counts the model calls made.
type SynthesizeEnd struct {
	Header
	Query    string `json:"query"`
	Mode     string `json:"mode"`
	Chunks   int    `json:"chunks"`
	LLMCalls int    `json:"llm_calls"`
	Response string `json:"response"`
}

func (*SynthesizeEnd) Name() string       { return "synthesize.end" }
func (*SynthesizeEnd) Stage() spans.Stage { return spans.StageSynth }
func (e *SynthesizeEnd) Attrs() []spans.Attribute {
	return []spans.Attribute{spans.String("synthesize.query", e.Query), spans.String("synthesize.mode", e.Mode), spans.Int("synthesize.chunks", e.Chunks), spans.Int("synthesize.llm_calls", e.LLMCalls), spans.String("synthesize.response", e.Response)}
}
