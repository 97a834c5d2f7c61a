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
	// topK and topN are read from the outermost retrieve spans (a hybrid
	// retriever asks its inner retrievers for more candidates than the
	// query's top_k) and the rerank spans; queryTopK and queryTopN from the
	// query spans, which carry the pipeline's own setting and win.
	topK, topN, queryTopK, queryTopN           counter[int64]
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

// observe reads the settings of node v of tr.
func (h *hints) observe(tr *tree, v int32) {
	s := tr.nodes[v].span
	if len(s.Attrs) == 0 {
		return
	}
	switch s.Stage {
	case spans.StageQuery:
		if k := intAttr(s, spans.KeyRetrievalTopK); k > 0 {
			h.queryTopK.add(k)
		}
		if n := intAttr(s, spans.KeyRerankTopN); n > 0 {
			h.queryTopN.add(n)
		}
	case spans.StageRetrieve:
		if k := intAttr(s, spans.KeyRetrievalTopK); k > 0 && !tr.under(v, spans.StageRetrieve) {
			h.topK.add(k)
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

// retrievalTopK returns the retrieval top_k the traces ran with and where
// it was read.
func (h *hints) retrievalTopK() (int64, string, bool) {
	if k, ok := h.queryTopK.mode(); ok {
		return k, "attribute retrieval.top_k of the query spans", true
	}
	k, ok := h.topK.mode()
	return k, "attribute retrieval.top_k of the outermost retrieve spans", ok
}

// rerankTopN returns the rerank top_n the traces ran with and where it was
// read.
func (h *hints) rerankTopN() (int64, string, bool) {
	if n, ok := h.queryTopN.mode(); ok {
		return n, "attribute rerank.top_n of the query spans", true
	}
	n, ok := h.topN.mode()
	return n, "attribute rerank.top_n of the rerank spans", ok
}

// under reports whether an ancestor of v has stage st.
func (tr *tree) under(v int32, st spans.Stage) bool {
	for p := tr.nodes[v].parent; p >= 0; p = tr.nodes[p].parent {
		if tr.nodes[p].stage == st {
			return true
		}
	}
	return false
}

// quote wraps s in typographic-free double quotes for messages.
func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `'`) + `"` }
