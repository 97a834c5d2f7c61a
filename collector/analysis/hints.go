package analysis

import (
	"strings"

	"github.com/stagescope/stagescope/spans"
	"github.com/stagescope/stagescope/spans/semconv"
)

// hints collects the settings the recommendations quote (top_k, top_n,
// models, synthesis mode), so a finding can say "lower rerank.top_n from 10
// to 5" with the number actually used.
type hints struct {
	topK, topN                                 counter[int64]
	synthMode, llmModel, rerankModel, embModel counter[string]
	llmCalls, completionTokens                 int64
}

// counter counts occurrences of values; the zero value is ready.
type counter[T int64 | string] struct{ m map[T]int }

func (c *counter[T]) add(v T) {
	if c.m == nil {
		c.m = make(map[T]int)
	}
	c.m[v]++
}

// mode returns the most frequent value (the smallest on ties, so reports are
// stable) and whether there was any.
func (c *counter[T]) mode() (T, bool) {
	var best T
	n := 0
	for v, k := range c.m {
		if k > n || (k == n && v < best) {
			best, n = v, k
		}
	}
	return best, n > 0
}

func (h *hints) observe(s *spans.Span) {
	if len(s.Attrs) == 0 {
		return
	}
	switch s.Stage {
	case spans.StageRetrieve:
		if v := intAttr(s, spans.KeyRetrievalTopK); v > 0 {
			h.topK.add(v)
		}
	case spans.StageRerank:
		if v := intAttr(s, spans.KeyRerankTopN); v > 0 {
			h.topN.add(v)
		}
		if v, ok := s.Attr(spans.KeyRerankModel); ok && v.AsString() != "" {
			h.rerankModel.add(v.AsString())
		}
	case spans.StageSynth:
		if v, ok := s.Attr(spans.KeySynthMode); ok && v.AsString() != "" {
			h.synthMode.add(v.AsString())
		}
	case spans.StageLLM:
		if m := semconv.Model(s); m != "" {
			h.llmModel.add(m)
		}
		if v := semconv.UsageOf(s).Completion; v > 0 {
			h.llmCalls++
			h.completionTokens += v
		}
	case spans.StageEmbed:
		if v, ok := s.Attr(spans.KeyEmbeddingModel); ok && v.AsString() != "" {
			h.embModel.add(v.AsString())
		}
	}
}

// quote wraps s in typographic-free double quotes for messages.
func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `'`) + `"` }
