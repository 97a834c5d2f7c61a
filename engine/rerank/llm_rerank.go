package rerank

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/engine/llm"
	"github.com/stagescope/stagescope/engine/pool"
	"github.com/stagescope/stagescope/spans"
)

// Defaults of the LLM reranker.
const (
	// DefaultLLMRerankBatchSize is how many passages one prompt shows.
	DefaultLLMRerankBatchSize = 10
	// DefaultLLMRerankWorkers is how many batches are judged at once.
	DefaultLLMRerankWorkers = 4
)

// LLMReranker lets a model choose and score the relevant passages, in the
// style of LlamaIndex's LLMRerank: passages are shown to the model in
// numbered batches, it answers with lines "Doc: N, Relevance: S" (S from 1
// to 10), and the passages it names are ranked by S across batches.
//
// The answer is parsed leniently: junk lines, numbers outside the batch and
// repeated documents are ignored. A batch whose answer names no valid
// document keeps its passages in input order, after every passage the model
// did score, with score 0; the span records it (rerank.llm.fallback_batches).
type LLMReranker struct {
	model     llm.LLM
	topN      int
	batchSize int
	workers   int
}

var _ Reranker = (*LLMReranker)(nil)

// LLMRerankOption configures an LLMReranker.
type LLMRerankOption func(*LLMReranker)

// WithLLMRerankTopN sets how many passages Rerank keeps when its topN
// argument is ≤ 0 (default 0: all).
func WithLLMRerankTopN(n int) LLMRerankOption { return func(r *LLMReranker) { r.topN = n } }

// WithLLMRerankBatchSize sets how many passages one prompt shows (default
// DefaultLLMRerankBatchSize).
func WithLLMRerankBatchSize(n int) LLMRerankOption {
	return func(r *LLMReranker) { r.batchSize = n }
}

// WithLLMRerankWorkers sets how many batches are judged at once (default
// DefaultLLMRerankWorkers).
func WithLLMRerankWorkers(n int) LLMRerankOption { return func(r *LLMReranker) { r.workers = n } }

// NewLLMReranker returns a reranker that asks model.
func NewLLMReranker(model llm.LLM, opts ...LLMRerankOption) *LLMReranker {
	r := &LLMReranker{model: model, batchSize: DefaultLLMRerankBatchSize, workers: DefaultLLMRerankWorkers}
	for _, o := range opts {
		o(r)
	}
	r.batchSize = max(1, r.batchSize)
	r.workers = max(1, r.workers)
	return r
}

// choicePrompt is this reranker's own wording; the extractive local LLM
// recognises the "Document N:" blocks and the "Relevance:" answer format.
const choicePrompt = "Below are numbered passages and a question. Pick the passages that help answer the question " +
	"and rate each from 1 (barely relevant) to 10 (answers it). Reply with one line per helpful passage, " +
	"most relevant first, in exactly this form:\nDoc: <number>, Relevance: <score>\n" +
	"Leave out passages that do not help.\n\n%s\nQuestion: %s\nAnswer:\n"

func buildChoicePrompt(query string, batch []Passage) string {
	var b strings.Builder
	for i, p := range batch {
		fmt.Fprintf(&b, "Document %d:\n%s\n\n", i+1, strings.TrimSpace(p.Text))
	}
	return fmt.Sprintf(choicePrompt, b.String(), query)
}

// choiceLine matches "Doc: 3, Relevance: 8" and the variants models write:
// "Document 3 - relevance score: 8.5", "doc #3; Relevance=7".
var choiceLine = regexp.MustCompile(`(?i)\bdoc(?:ument)?\s*(?:#|no\.?)?\s*:?\s*(\d+)\s*[,;:\-–]?\s*(?:\(|\s)*relevance(?:\s+score)?\s*[:=]?\s*(\d+(?:\.\d+)?)`)

type choice struct {
	index int // 0-based position in the batch
	score float64
}

// parseChoices reads the model's answer for a batch of n passages.
func parseChoices(answer string, n int) []choice {
	var out []choice
	seen := map[int]bool{}
	for _, m := range choiceLine.FindAllStringSubmatch(answer, -1) {
		num, err := strconv.Atoi(m[1])
		if err != nil || num < 1 || num > n || seen[num] {
			continue
		}
		score, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			continue
		}
		seen[num] = true
		out = append(out, choice{index: num - 1, score: score})
	}
	return out
}

type batchResult struct {
	choices  []choice
	fallback bool
	tokens   int
}

// Rerank asks the model about passages in batches and returns the topN it
// scored highest (every passage when topN ≤ 0 and no default is set).
func (r *LLMReranker) Rerank(ctx context.Context, query string, passages []Passage, topN int) ([]Passage, error) {
	if topN <= 0 {
		topN = r.topN
	}
	return Instrument(ctx, r.model.Model(), query, passages, topN, func(ctx context.Context) ([]Passage, error) {
		nBatches := (len(passages) + r.batchSize - 1) / r.batchSize
		jobs := make([]pool.Job[batchResult], nBatches)
		for b := range jobs {
			batch := passages[b*r.batchSize : min(len(passages), (b+1)*r.batchSize)]
			jobs[b] = func(ctx context.Context) (batchResult, error) {
				resp, err := r.model.Complete(ctx, llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: buildChoicePrompt(query, batch)}}})
				if err != nil {
					return batchResult{}, fmt.Errorf("llm rerank: model %s failed on passages %d-%d: %w", r.model.Model(), b*r.batchSize+1, b*r.batchSize+len(batch), err)
				}
				cs := parseChoices(resp.Content, len(batch))
				return batchResult{choices: cs, fallback: len(cs) == 0, tokens: resp.PromptTokens + resp.CompletionTokens}, nil
			}
		}
		results, err := pool.RunJobs(ctx, jobs, pool.WithWorkers(r.workers), pool.WithName("rerank.llm"))
		if err != nil {
			return nil, err
		}
		type ranked struct {
			p     Passage
			order int // batch, then the model's listing order
			score float64
		}
		var scored, rest []ranked
		fallbacks, tokens := 0, 0
		for b, res := range results {
			base := b * r.batchSize
			tokens += res.tokens
			if res.fallback {
				fallbacks++
				for i := base; i < min(len(passages), base+r.batchSize); i++ {
					rest = append(rest, ranked{p: passages[i], order: i})
				}
				continue
			}
			for k, c := range res.choices {
				scored = append(scored, ranked{p: passages[base+c.index], order: base + k, score: c.score})
			}
		}
		slices.SortStableFunc(scored, func(a, b ranked) int {
			switch {
			case a.score > b.score:
				return -1
			case a.score < b.score:
				return 1
			}
			return a.order - b.order
		})
		all := append(scored, rest...)
		keep := len(all)
		if topN > 0 {
			keep = min(keep, topN)
		}
		out := make([]Passage, keep)
		for i := range out {
			out[i] = all[i].p
			out[i].Score = all[i].score
		}
		dispatcher.SpanFromContext(ctx).SetAttributes(
			spans.Int("rerank.llm.batches", nBatches),
			spans.Int("rerank.llm.scored", len(scored)),
			spans.Int("rerank.llm.fallback_batches", fallbacks),
			spans.Bool("rerank.llm.fallback", fallbacks > 0),
			spans.Int("rerank.llm.tokens", tokens),
		)
		return out, nil
	})
}
