package analysis

import (
	"slices"
	"strings"

	"github.com/stagescope/stagescope/spans"
	"github.com/stagescope/stagescope/spans/semconv"
)

type costKey struct {
	stage spans.Stage
	model string
}

type costAcc struct {
	calls                         int
	prompt, completion, embedding int64
	usd                           float64
	usdW                          float64 // usd weighted by the traces' weights
	priced                        bool
}

// tokenSum is the tokens and cost counted in a span's subtree.
type tokenSum struct {
	tokens int64
	usd    float64
	has    bool
}

// unknownModel names token use whose span carries no model attribute.
const unknownModel = "unknown"

// addTokens counts the tokens of the current trace per stage and model. A
// span's own token attributes count only when none of its descendants carry
// any, so a parent that repeats its children's totals is not counted twice.
func (a *accumulator) addTokens(traceID spans.TraceID) {
	tr := a.tree
	a.tokens = slices.Grow(a.tokens[:0], len(tr.nodes))[:len(tr.nodes)]
	clear(a.tokens)
	for i := len(tr.order) - 1; i >= 0; i-- {
		v := tr.order[i]
		n := &tr.nodes[v]
		var sub tokenSum
		for _, c := range tr.children(v) {
			cs := a.tokens[c]
			sub.tokens += cs.tokens
			sub.usd += cs.usd
			sub.has = sub.has || cs.has
		}
		if !sub.has && n.span != nil {
			if own, ok := a.countSpanTokens(n); ok {
				sub = own
			}
		}
		a.tokens[v] = sub
	}
}

// countSpanTokens adds one span's token attributes to the cost table.
func (a *accumulator) countSpanTokens(n *node) (tokenSum, bool) {
	s := n.span
	u := semconv.UsageOf(s)
	if u.Zero() {
		return tokenSum{}, false
	}
	prompt, completion, embedding := u.Prompt, u.Completion, u.Embedding
	model := semconv.Model(s)
	if model == "" {
		model = unknownModel
	}
	key := costKey{n.stage, model}
	acc := a.cost[key]
	if acc == nil {
		acc = &costAcc{}
		_, acc.priced = a.cfg.priceFor(model)
		a.cost[key] = acc
	}
	p, _ := a.cfg.priceFor(model)
	usd := p.Cost(prompt, completion, embedding)
	acc.calls++
	acc.prompt += prompt
	acc.completion += completion
	acc.embedding += embedding
	acc.usd += usd
	acc.usdW += usd * a.curW
	return tokenSum{tokens: prompt + completion + embedding, usd: usd, has: true}, true
}

// costStats orders the cost table by spend, then tokens, then name.
func (a *accumulator) costStats(traces float64) ([]CostStats, float64, []string) {
	out := make([]CostStats, 0, len(a.cost))
	unpriced := []string{}
	var total float64
	for k, c := range a.cost {
		out = append(out, CostStats{
			Stage: k.stage, Model: k.model, Calls: c.calls,
			PromptTokens: c.prompt, CompletionTokens: c.completion, EmbeddingTokens: c.embedding,
			USD: roundUSD(c.usd), USDPerTrace: roundUSD(ratio(c.usdW, traces)), Priced: c.priced,
		})
		total += c.usd
		if !c.priced && !slices.Contains(unpriced, k.model) {
			unpriced = append(unpriced, k.model)
		}
	}
	slices.SortFunc(out, func(x, y CostStats) int {
		switch {
		case x.USD != y.USD:
			if x.USD > y.USD {
				return -1
			}
			return 1
		case x.PromptTokens+x.CompletionTokens+x.EmbeddingTokens != y.PromptTokens+y.CompletionTokens+y.EmbeddingTokens:
			if x.PromptTokens+x.CompletionTokens+x.EmbeddingTokens > y.PromptTokens+y.CompletionTokens+y.EmbeddingTokens {
				return -1
			}
			return 1
		case x.Stage != y.Stage:
			return int(x.Stage) - int(y.Stage)
		}
		return strings.Compare(x.Model, y.Model)
	})
	slices.Sort(unpriced)
	return out, roundUSD(total), unpriced
}

// roundUSD keeps micro-dollars.
func roundUSD(f float64) float64 { return float64(int64(f*1e6+0.5)) / 1e6 }
