package collector

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/stagescope/stagescope/spans"
)

// DefaultSyntheticWindow is the span of time GenerateSynthetic spreads its
// traces over, ending now.
const DefaultSyntheticWindow = 24 * time.Hour

// syntheticBatch is how many spans GenerateSynthetic commits at a time.
const syntheticBatch = 4096

// GenerateSynthetic writes traces RAG-shaped traces into s, for dashboard
// and query benchmarks and demos: query → embed, retrieve → pool → three
// parallel jobs, rerank, synth → retry → one or two llm attempts (the first
// fails in one trace of ten), about eleven spans a trace, spread evenly over
// the DefaultSyntheticWindow before now, with run id "synthetic-<seed>" as a
// tag. The same seed gives the same durations and shapes (ids are random).
// It writes through the collector's batch writer, so rows, rollups and self
// times are exactly what live ingest produces. It returns the number of
// spans written.
func GenerateSynthetic(ctx context.Context, s *SQLiteStore, traces int, seed int64) (int, error) {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5eed))
	w := newBatchWriter(s, "synthetic-rag", false)
	end := time.Now()
	start := end.Add(-DefaultSyntheticWindow)
	step := DefaultSyntheticWindow / time.Duration(max(traces, 1))
	tags := []spans.Tag{{Key: spans.KeyRunID, Value: fmt.Sprintf("synthetic-%d", seed)}}
	buf := make([]spans.Span, 0, syntheticBatch+16)
	ptrs := make([]*spans.Span, 0, syntheticBatch+16)
	written := 0
	flush := func() error {
		ptrs = ptrs[:0]
		for i := range buf {
			ptrs = append(ptrs, &buf[i])
		}
		if err := w.write(&batch{spans: ptrs}); err != nil {
			return fmt.Errorf("cannot write synthetic batch: %w", err)
		}
		written += len(buf)
		buf = buf[:0]
		return nil
	}
	for i := 0; i < traces; i++ {
		if i%1024 == 0 && ctx.Err() != nil {
			return written, ctx.Err()
		}
		buf = appendRAGTrace(buf, rng, start.Add(time.Duration(i)*step), tags)
		if len(buf) >= syntheticBatch {
			if err := flush(); err != nil {
				return written, err
			}
		}
	}
	if len(buf) > 0 {
		if err := flush(); err != nil {
			return written, err
		}
	}
	return written, nil
}

// jitter returns d scaled by a log-normal factor (median 1, σ = sigma).
func jitter(rng *rand.Rand, d time.Duration, sigma float64) time.Duration {
	return time.Duration(float64(d) * math.Exp(rng.NormFloat64()*sigma))
}

func appendRAGTrace(buf []spans.Span, rng *rand.Rand, t time.Time, tags []spans.Tag) []spans.Span {
	tid := spans.NewTraceID()
	rootIdx := len(buf)
	mk := func(parent spans.SpanID, name string, st spans.Stage, from time.Time, d time.Duration, attrs ...spans.Attribute) spans.SpanID {
		id := spans.NewSpanID()
		buf = append(buf, spans.Span{TraceID: tid, SpanID: id, ParentID: parent, Name: name, Scope: "engine." + st.String(), Stage: st,
			Start: from, End: from.Add(d), Status: spans.StatusOK, Attrs: attrs, Tags: tags})
		return id
	}
	root := mk(spans.SpanID{}, "query", spans.StageQuery, t, 0, spans.String(spans.KeyQueryText, "what does the contract say about renewals?"))
	cur := t.Add(jitter(rng, 200*time.Microsecond, 0.3))
	d := jitter(rng, 8*time.Millisecond, 0.4)
	mk(root, "embed", spans.StageEmbed, cur, d, spans.String(spans.KeyEmbeddingModel, "text-embedding-3-small"), spans.Int(spans.KeyEmbeddingTokens, 12))
	cur = cur.Add(d)

	retDur := time.Duration(0)
	retStart := cur
	ret := spans.NewSpanID()
	buf = append(buf, spans.Span{}) // placeholder, filled once the jobs are known
	retIdx := len(buf) - 1
	poolStart := retStart.Add(50 * time.Microsecond)
	pool := spans.NewSpanID()
	buf = append(buf, spans.Span{})
	poolIdx := len(buf) - 1
	var poolEnd time.Time
	for j := 0; j < 3; j++ {
		qw := jitter(rng, 300*time.Microsecond, 1.0)
		jd := jitter(rng, 15*time.Millisecond, 0.5)
		js := poolStart.Add(qw)
		mk(pool, "pool.job", spans.StagePool, js, jd, spans.Int(spans.KeyPoolJob, j), spans.Int64(spans.KeyPoolQueueNanos, int64(qw)), spans.Int64(spans.KeyPoolRunNanos, int64(jd)))
		if e := js.Add(jd); e.After(poolEnd) {
			poolEnd = e
		}
	}
	poolEnd = poolEnd.Add(30 * time.Microsecond)
	buf[poolIdx] = spans.Span{TraceID: tid, SpanID: pool, ParentID: ret, Name: "pool.run", Scope: "engine.pool", Stage: spans.StagePool, Start: poolStart, End: poolEnd, Status: spans.StatusOK,
		Attrs: []spans.Attribute{spans.String(spans.KeyPoolName, "retrieve"), spans.Int(spans.KeyPoolWorkers, 3), spans.Int(spans.KeyPoolJobs, 3)}, Tags: tags}
	retDur = poolEnd.Sub(retStart) + jitter(rng, 500*time.Microsecond, 0.5)
	buf[retIdx] = spans.Span{TraceID: tid, SpanID: ret, ParentID: root, Name: "retrieve", Scope: "engine.retrieve", Stage: spans.StageRetrieve, Start: retStart, End: retStart.Add(retDur), Status: spans.StatusOK,
		Attrs: []spans.Attribute{spans.Int(spans.KeyRetrievalTopK, 10)}, Tags: tags}
	cur = retStart.Add(retDur)

	d = jitter(rng, 25*time.Millisecond, 0.6)
	mk(root, "rerank", spans.StageRerank, cur, d, spans.Int(spans.KeyRerankTopN, 5), spans.String(spans.KeyRerankModel, "cross-encoder"))
	cur = cur.Add(d)

	synStart := cur
	syn := spans.NewSpanID()
	buf = append(buf, spans.Span{})
	synIdx := len(buf) - 1
	retryStart := synStart.Add(100 * time.Microsecond)
	retry := spans.NewSpanID()
	buf = append(buf, spans.Span{})
	retryIdx := len(buf) - 1
	attempts := 1
	if rng.IntN(10) == 0 {
		attempts = 2
	}
	at := retryStart
	var backoff time.Duration
	for a := 1; a <= attempts; a++ {
		ld := jitter(rng, 400*time.Millisecond, 0.5)
		id := mk(retry, "llm.chat", spans.StageLLM, at, ld, spans.String(spans.KeyLLMModel, "gpt-4o-mini"), spans.Int(spans.KeyLLMPromptTokens, 900+rng.IntN(400)),
			spans.Int(spans.KeyLLMCompletionTokens, 80+rng.IntN(200)), spans.Int(spans.KeyRetryAttempt, a))
		_ = id
		at = at.Add(ld)
		if a < attempts {
			s := &buf[len(buf)-1]
			s.Status, s.Err = spans.StatusError, "429 rate limited"
			backoff = jitter(rng, 100*time.Millisecond, 0.2)
			at = at.Add(backoff)
		}
	}
	buf[retryIdx] = spans.Span{TraceID: tid, SpanID: retry, ParentID: syn, Name: "retry", Scope: "engine.retry", Stage: spans.StageRetry, Start: retryStart, End: at.Add(20 * time.Microsecond), Status: spans.StatusOK,
		Attrs: []spans.Attribute{spans.String(spans.KeyRetryOp, "llm.chat"), spans.Int(spans.KeyRetryAttempts, attempts), spans.Int64(spans.KeyRetryBackoffNanos, int64(backoff))}, Tags: tags}
	synEnd := at.Add(jitter(rng, 2*time.Millisecond, 0.3))
	buf[synIdx] = spans.Span{TraceID: tid, SpanID: syn, ParentID: root, Name: "synthesize", Scope: "engine.synth", Stage: spans.StageSynth, Start: synStart, End: synEnd, Status: spans.StatusOK,
		Attrs: []spans.Attribute{spans.String(spans.KeySynthMode, "compact")}, Tags: tags}
	buf[rootIdx].End = synEnd.Add(100 * time.Microsecond)
	return buf
}
