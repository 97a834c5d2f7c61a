package query

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/engine/faultinject"
	"github.com/stagescope/stagescope/engine/llm"
	"github.com/stagescope/stagescope/engine/pool"
	"github.com/stagescope/stagescope/engine/rerank"
	"github.com/stagescope/stagescope/engine/retrieve"
	"github.com/stagescope/stagescope/engine/retry"
	"github.com/stagescope/stagescope/engine/synth"
	"github.com/stagescope/stagescope/spans"
)

// DispatcherName is the dispatcher the query engine reports through.
const DispatcherName = "engine.query"

// SpanName is the name of the span of one query.
const SpanName = "query"

// Response is the answer to one query and the passages it was drawn from,
// best first. A source's Score is the reranker's (the retriever's when
// there is no reranker).
type Response struct {
	Query            string
	Answer           string
	Sources          []retrieve.Hit
	LLMCalls         int
	PromptTokens     int
	CompletionTokens int
}

// Engine runs retrieve → rerank → synthesize. It is safe for concurrent
// use when its stages are.
type Engine struct {
	retriever retrieve.Retriever
	reranker  rerank.Reranker
	model     llm.LLM
	synth     *synth.Synthesizer

	topK, topN int
	mode       synth.Mode
	workers    int
	faults     faultinject.Plan
	retryOpts  []retry.Option
	synthOpts  []synth.Option
}

// New returns an engine over retriever, reranker (nil: keep the first topN
// retrieved) and model.
func New(retriever retrieve.Retriever, reranker rerank.Reranker, model llm.LLM, opts ...Option) (*Engine, error) {
	e := &Engine{retriever: retriever, reranker: reranker, topK: DefaultTopK, topN: DefaultTopN, mode: DefaultMode,
		workers: DefaultWorkers, faults: faultinject.Plan{}}
	for _, o := range opts {
		o(e)
	}
	switch {
	case retriever == nil:
		return nil, errors.New("query engine: no retriever")
	case model == nil:
		return nil, errors.New("query engine: no model")
	case e.topK < 1 || e.topN < 1:
		return nil, fmt.Errorf("query engine: top_k %d and top_n %d must be positive", e.topK, e.topN)
	}
	if _, err := synth.ParseMode(string(e.mode)); err != nil {
		return nil, fmt.Errorf("query engine: %w", err)
	}
	for s := range e.faults {
		if !slices.Contains(faultinject.Stages, s) {
			return nil, fmt.Errorf("query engine: cannot plant faults in stage %s", s)
		}
	}
	e.model = &retryingLLM{inner: model, opts: e.retryOpts}
	e.synth = synth.New(e.model, append(append([]synth.Option(nil), e.synthOpts...), synth.WithMode(e.mode))...)
	return e, nil
}

// TopK returns the number of candidates retrieved per query.
func (e *Engine) TopK() int { return e.topK }

// TopN returns the number of passages kept for synthesis.
func (e *Engine) TopN() int { return e.topN }

// Query answers one query.
func (e *Engine) Query(ctx context.Context, q string) (_ *Response, err error) {
	d := dispatcher.Get(DispatcherName)
	ctx = faultinject.WithPlan(ctx, e.faults)
	ctx, span := d.Start(ctx, SpanName, spans.StageQuery, spans.String(spans.KeyQueryText, q),
		spans.Int(spans.KeyRetrievalTopK, e.topK), spans.Int(spans.KeyRerankTopN, e.topN), spans.String(spans.KeySynthMode, string(e.mode)))
	defer span.Done(&err)
	events := d.EventsEnabled()
	if events {
		d.Emit(ctx, &event.QueryStart{Query: q})
	}

	hits, err := e.retriever.Retrieve(ctx, q, e.topK)
	if err != nil {
		return nil, fmt.Errorf("query %q: retrieve: %w", q, err)
	}

	sources, err := e.rerank(ctx, q, hits)
	if err != nil {
		return nil, fmt.Errorf("query %q: rerank: %w", q, err)
	}

	chunks := make([]string, len(sources))
	for i, s := range sources {
		chunks[i] = s.Text
	}
	res, err := e.synth.Synthesize(ctx, q, chunks)
	if err != nil {
		return nil, fmt.Errorf("query %q: synthesize: %w", q, err)
	}
	resp := &Response{Query: q, Answer: res.Response, Sources: sources, LLMCalls: res.LLMCalls,
		PromptTokens: res.PromptTokens, CompletionTokens: res.CompletionTokens}
	span.SetAttributes(spans.Int("query.sources", len(sources)), spans.Int(spans.KeyLLMPromptTokens, res.PromptTokens),
		spans.Int(spans.KeyLLMCompletionTokens, res.CompletionTokens))
	if events {
		d.Emit(ctx, &event.QueryEnd{Query: q, Response: resp.Answer, Sources: len(sources)})
	}
	return resp, nil
}

func (e *Engine) rerank(ctx context.Context, q string, hits []retrieve.Hit) ([]retrieve.Hit, error) {
	if e.reranker == nil {
		return hits[:min(e.topN, len(hits))], nil
	}
	passages := make([]rerank.Passage, len(hits))
	byID := make(map[string]retrieve.Hit, len(hits))
	for i, h := range hits {
		passages[i] = rerank.Passage{ID: h.NodeID, Text: h.Text, Score: h.Score}
		byID[h.NodeID] = h
	}
	ranked, err := e.reranker.Rerank(ctx, q, passages, e.topN)
	if err != nil {
		return nil, err
	}
	out := make([]retrieve.Hit, 0, len(ranked))
	for _, p := range ranked {
		h, ok := byID[p.ID]
		if !ok {
			return nil, fmt.Errorf("reranker returned passage %q that was not retrieved", p.ID)
		}
		h.Score = p.Score
		out = append(out, h)
	}
	return out, nil
}

// QueryBatch answers queries on up to WithWorkers of them at once, through
// engine/pool, and returns the responses in input order. Every query runs
// even if some fail; the failures come back as a *pool.JobErrors and their
// responses are nil.
func (e *Engine) QueryBatch(ctx context.Context, queries []string) ([]*Response, error) {
	jobs := make([]pool.Job[*Response], len(queries))
	for i, q := range queries {
		jobs[i] = func(ctx context.Context) (*Response, error) { return e.Query(ctx, q) }
	}
	return pool.RunJobs(ctx, jobs, pool.WithWorkers(e.workers), pool.WithName("query.batch"), pool.WithCollectErrors())
}
