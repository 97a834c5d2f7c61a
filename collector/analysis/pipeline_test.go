package analysis

import (
	"math/rand/v2"

	"github.com/stagescope/stagescope/spans"
)

// pipeline describes a synthetic RAG query the way the engine traces one:
// query → embed → a pool of retrieval shard jobs → rerank → synth (with a
// retried llm call inside). Durations are in ms; extra* plant latency.
type pipeline struct {
	seed         uint64
	jitter       float64 // each duration × (1 + jitter·U[0,1))
	shards       int
	workers      int
	retrieve     float64
	rerank       float64
	synthSelf    float64
	llm          float64
	failures     int     // failed llm attempts before the success
	backoff      float64 // ms slept after each failure
	extraByStage map[spans.Stage]float64
}

func basePipeline(seed uint64) pipeline {
	return pipeline{seed: seed, jitter: 0.2, shards: 8, workers: 8, retrieve: 10, rerank: 8, synthSelf: 3, llm: 15, extraByStage: map[spans.Stage]float64{}}
}

func (p pipeline) traces(n int) []Trace {
	rng := rand.New(rand.NewPCG(p.seed, 77))
	out := make([]Trace, n)
	for i := range out {
		out[i] = p.one(rng, nil)
	}
	return out
}

// one builds one trace; extra, when set, adds per-trace planted latency.
func (p pipeline) one(rng *rand.Rand, extra map[spans.Stage]float64) Trace {
	d := func(base float64, st spans.Stage) float64 {
		v := base*(1+p.jitter*rng.Float64()) + p.extraByStage[st]
		return v + extra[st]
	}
	b := newTrace()
	q := b.span(nil, "query", spans.StageQuery, 0, 0, spans.String(spans.KeyQueryText, "what is a span?"))
	t := 0.5
	e := d(4, spans.StageEmbed)
	b.span(q, "embed query", spans.StageEmbed, t, t+e, spans.String(spans.KeyEmbeddingModel, "text-embedding-3-small"), spans.Int(spans.KeyEmbeddingTokens, 8))
	t += e
	// The retrieval pool: jobs queued at t, each taken by the earliest free worker.
	pool := b.span(q, "pool retrieve", spans.StagePool, t, 0, spans.String(spans.KeyPoolName, "retrieve"),
		spans.Int(spans.KeyPoolWorkers, p.workers), spans.Int(spans.KeyPoolJobs, p.shards))
	free := make([]float64, p.workers)
	for w := range free {
		free[w] = t
	}
	end := t
	for j := range p.shards {
		w := 0
		for k := range free {
			if free[k] < free[w] {
				w = k
			}
		}
		start, run := free[w], d(p.retrieve, spans.StageRetrieve)
		wait := start - t
		job := b.span(pool, "job", spans.StagePool, start, start+run, spans.Int(spans.KeyPoolJob, j),
			spans.Int64(spans.KeyPoolQueueNanos, int64(msDur(wait))), spans.Int64(spans.KeyPoolRunNanos, int64(msDur(run))))
		b.span(job, "retrieve shard", spans.StageRetrieve, start, start+run, spans.Int(spans.KeyRetrievalTopK, 20))
		free[w] = start + run
		end = max(end, start+run)
	}
	pool.End = msAt(end)
	t = end
	r := d(p.rerank, spans.StageRerank)
	b.span(q, "rerank", spans.StageRerank, t, t+r, spans.Int(spans.KeyRerankTopN, 10), spans.String(spans.KeyRerankModel, "bge-reranker-base"))
	t += r
	synth := b.span(q, "synthesize", spans.StageSynth, t, 0, spans.String(spans.KeySynthMode, "refine"))
	self := d(p.synthSelf, spans.StageSynth)
	t += self / 2
	call := b.span(synth, "retry llm.complete", spans.StageRetry, t, 0, spans.String(spans.KeyRetryOp, "llm.complete"),
		spans.Int(spans.KeyRetryAttempts, p.failures+1), spans.Int64(spans.KeyRetryBackoffNanos, int64(msDur(p.backoff*float64(p.failures)))))
	for a := 0; a <= p.failures; a++ {
		l := d(p.llm, spans.StageLLM)
		at := b.span(call, "attempt", spans.StageRetry, t, t+l, spans.Int(spans.KeyRetryAttempt, a+1))
		ls := b.span(at, "llm chat", spans.StageLLM, t, t+l, spans.String(spans.KeyLLMModel, "gpt-4o-mini"),
			spans.Int(spans.KeyLLMPromptTokens, 1200), spans.Int(spans.KeyLLMCompletionTokens, 150))
		t += l
		if a < p.failures {
			at.Status, ls.Status = spans.StatusError, spans.StatusError
			t += p.backoff
		}
	}
	call.End = msAt(t)
	t += self / 2
	synth.End = msAt(t)
	t += 0.5
	q.End = msAt(t)
	return b.trace()
}
