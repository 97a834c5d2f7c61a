package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/engine/corpus"
	"github.com/stagescope/stagescope/engine/llm"
	"github.com/stagescope/stagescope/engine/query"
	"github.com/stagescope/stagescope/engine/rerank"
	"github.com/stagescope/stagescope/engine/retrieve"
	"github.com/stagescope/stagescope/spans"
)

// RunRecorder keeps benchmark runs. The command line adapts the collector's
// store to it; a nil recorder keeps nothing.
type RunRecorder interface {
	// StartRun records a run about to start and returns its ID.
	StartRun(ctx context.Context, name string, config json.RawMessage) (id string, err error)
	// FinishRun records the run's end and its summary.
	FinishRun(ctx context.Context, id string, summary json.RawMessage) error
}

// ProgressFunc is told after every query of a sweep how many of total have
// finished.
type ProgressFunc func(done, total int)

// Setup is what a sweep runs on: the stages shared by every configuration
// and the labelled questions.
type Setup struct {
	Retriever retrieve.Retriever
	Reranker  rerank.Reranker // nil: keep the first top_n retrieved
	Model     llm.LLM
	Questions []corpus.Question
	// Seed and Corpus are stored with each run's configuration so that a
	// run can be reproduced; they do not change what is measured.
	Seed   uint64
	Corpus string
}

// SetupFromPipeline returns the Setup of a Go-corpus pipeline.
func SetupFromPipeline(p *query.GoPipeline, model llm.LLM, seed uint64) Setup {
	return Setup{Retriever: p.Index.Hybrid, Reranker: rerank.NewLocalReranker(), Model: model,
		Questions: p.Corpus.Questions, Seed: seed, Corpus: "go-stdlib"}
}

// Option configures Sweep.
type Option func(*sweepConfig)

type sweepConfig struct {
	recorder   RunRecorder
	progress   ProgressFunc
	engineOpts []query.Option
	dispatcher *dispatcher.Dispatcher
}

// WithRecorder stores every configuration as a run.
func WithRecorder(r RunRecorder) Option { return func(c *sweepConfig) { c.recorder = r } }

// WithProgress reports progress query by query.
func WithProgress(f ProgressFunc) Option { return func(c *sweepConfig) { c.progress = f } }

// WithEngineOptions adds query engine options to every configuration, for
// example query.WithFaults or query.WithRetryOptions. The grid's own
// settings come after them and win.
func WithEngineOptions(opts ...query.Option) Option {
	return func(c *sweepConfig) { c.engineOpts = append(c.engineOpts, opts...) }
}

// WithDispatcher sets the dispatcher whose query spans are timed (default
// dispatcher.Root(), which sees every stage of the engine).
func WithDispatcher(d *dispatcher.Dispatcher) Option {
	return func(c *sweepConfig) { c.dispatcher = d }
}

// Sweep runs every configuration of grid over all of setup's questions, one
// configuration after the other, and returns the results in grid order with
// the Pareto front marked. It stops at the first configuration that cannot
// run or be recorded; failed queries are counted, not fatal.
func Sweep(ctx context.Context, setup Setup, grid Grid, opts ...Option) ([]Result, error) {
	cfg := sweepConfig{dispatcher: dispatcher.Root()}
	for _, o := range opts {
		o(&cfg)
	}
	if len(setup.Questions) == 0 {
		return nil, errors.New("bench sweep: no questions")
	}
	configs := grid.Configs()
	if len(configs) == 0 {
		return nil, errors.New("bench sweep: the grid is empty (every top_n exceeds every top_k)")
	}
	for _, c := range configs {
		if err := c.Validate(); err != nil {
			return nil, err
		}
	}
	total := len(configs) * len(setup.Questions)
	var done int
	results := make([]Result, 0, len(configs))
	for _, c := range configs {
		r, err := runOne(ctx, setup, c, &cfg, func() {
			done++
			if cfg.progress != nil {
				cfg.progress(done, total)
			}
		})
		if err != nil {
			return results, err
		}
		results = append(results, r)
	}
	MarkFront(results)
	return results, nil
}

// runOne measures one configuration. tick is called once per finished
// query, serially.
func runOne(ctx context.Context, setup Setup, c Config, cfg *sweepConfig, tick func()) (Result, error) {
	res := Result{Config: c, Questions: len(setup.Questions)}
	conf, _ := json.Marshal(RunConfig{Config: c, Questions: len(setup.Questions), Seed: setup.Seed, Corpus: setup.Corpus})
	if cfg.recorder != nil {
		id, err := cfg.recorder.StartRun(ctx, c.Name(), conf)
		if err != nil {
			return res, fmt.Errorf("bench: cannot record run %s: %w", c.Name(), err)
		}
		res.RunID = id
	} else {
		res.RunID = randomRunID()
	}

	opts := append(append([]query.Option(nil), cfg.engineOpts...),
		query.WithTopK(c.TopK), query.WithTopN(c.TopN), query.WithResponseMode(c.Mode), query.WithWorkers(c.Workers))
	eng, err := query.New(setup.Retriever, setup.Reranker, setup.Model, opts...)
	if err != nil {
		return res, fmt.Errorf("bench: cannot build engine %s: %w", c.Name(), err)
	}

	timer := &queryTimer{runID: res.RunID, tick: tick}
	remove := cfg.dispatcher.AddSpanHandler(timer)
	qs := make([]string, len(setup.Questions))
	for i, q := range setup.Questions {
		qs[i] = q.Query
	}
	runCtx := spans.WithTags(ctx, spans.Tag{Key: spans.KeyRunID, Value: res.RunID})
	start := time.Now()
	resps := answerAll(runCtx, eng, qs, c.Workers)
	res.Elapsed = time.Since(start)
	remove()
	if ctx.Err() != nil {
		return res, fmt.Errorf("bench: run %s interrupted: %w", c.Name(), ctx.Err())
	}

	var tally Tally
	for i, r := range resps {
		tally.Answer(setup.Questions[i], r)
	}
	for _, d := range timer.durations() {
		tally.Latency(d)
	}
	out := tally.Result(res.Elapsed)
	out.Config, out.RunID = res.Config, res.RunID
	res = out

	if cfg.recorder != nil {
		if err := cfg.recorder.FinishRun(ctx, res.RunID, res.SummaryJSON()); err != nil {
			return res, fmt.Errorf("bench: cannot record the summary of run %s: %w", c.Name(), err)
		}
	}
	return res, nil
}

// answerAll asks every question on workers goroutines, each question as
// its own trace (as requests reach a service), and returns the responses in
// question order; a failed question's response is nil.
func answerAll(ctx context.Context, eng *query.Engine, qs []string, workers int) []*query.Response {
	resps := make([]*query.Response, len(qs))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, len(qs)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(qs) || ctx.Err() != nil {
					return
				}
				if r, err := eng.Query(ctx, qs[i]); err == nil {
					resps[i] = r
				}
			}
		})
	}
	wg.Wait()
	return resps
}

// queryTimer collects the durations of the query spans of one run.
type queryTimer struct {
	runID string
	tick  func()

	mu sync.Mutex
	ds []time.Duration
}

func (t *queryTimer) SpanStarted(*spans.Span) {}

func (t *queryTimer) SpanEnded(s *spans.Span) {
	if s.Name != query.SpanName || s.Stage != spans.StageQuery {
		return
	}
	if id, ok := s.Tag(spans.KeyRunID); !ok || id != t.runID {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ds = append(t.ds, s.Duration())
	t.tick()
}

func (t *queryTimer) durations() []time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]time.Duration(nil), t.ds...)
}

// randomRunID names a run nobody records, so that its spans are still
// told apart from other runs'.
func randomRunID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "bench-" + hex.EncodeToString(b[:])
}
