package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/engine/bench"
	"github.com/stagescope/stagescope/engine/corpus"
	"github.com/stagescope/stagescope/engine/llm"
	"github.com/stagescope/stagescope/engine/query"
	"github.com/stagescope/stagescope/engine/retry"
	"github.com/stagescope/stagescope/spans"
)

// Defaults of demo: a few queries a second, each taking a few hundred
// milliseconds like a pipeline calling a real model.
const (
	defaultDemoWorkers      = 4
	defaultDemoInterval     = 250 * time.Millisecond
	defaultDemoFirstToken   = 60 * time.Millisecond
	defaultDemoTokenLatency = time.Millisecond
	demoRetryMinBackoff     = 20 * time.Millisecond
	demoRetryMaxBackoff     = 200 * time.Millisecond
	demoRetryTries          = 3
	// The demo writes about half a gigabyte an hour: unlike serve it keeps
	// a bounded store unless told otherwise.
	defaultDemoRetentionAge = "24h"
	defaultDemoRetentionMB  = "1024"
)

const demoSynopsis = `Runs serve plus the built-in RAG pipeline: retrieve (vector + BM25 hybrid) → rerank →
synthesize with the extractive local model, over the doc comments of the Go standard library,
answering its labelled questions continuously in this process. Spans go to the collector in
process (no network). Open the printed URL: live data appears within seconds.

Plant a bottleneck and watch the report find it (--plant stage=spec, one per stage; stages embed,
retrieve, rerank, synth, llm, storage, pool; spec latency:DIST[@P] and/or errors:RATE):
  stagescope demo --plant rerank=latency:lognormal:80ms     every rerank call slower, median +80ms
  stagescope demo --plant rerank=latency:500ms@0.05         a tail: 5% of rerank calls +500ms
  stagescope demo --plant llm=errors:0.2                    20% of model calls fail (retried)
  stagescope demo --plant pool=latency:20ms --plant retrieve=errors:0.05
`

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", demoSynopsis, stdout)
	var f serveFlags
	f.register(fs, "stagescope-demo")
	setDefault(fs, "retention-age", defaultDemoRetentionAge, "STAGESCOPE_RETENTION_AGE")
	setDefault(fs, "retention-mb", defaultDemoRetentionMB, "STAGESCOPE_RETENTION_MB")
	var (
		plant      plantFlag
		duration   = fs.Duration("duration", 0, "stop by itself after this `duration` (0: run until SIGINT/SIGTERM)")
		maxQueries = fs.Int("queries", 0, "stop by itself after this many queries (0: no limit)")
		workers    = fs.Int("workers", defaultDemoWorkers, "queries answered at once (the query pool's workers)")
		interval   = fs.Duration("interval", defaultDemoInterval, "pause between batches of queries")
		firstTok   = fs.Duration("llm-latency", defaultDemoFirstToken, "simulated model latency before the first token (0: as fast as the CPU goes)")
		tokLat     = fs.Duration("token-latency", defaultDemoTokenLatency, "simulated model latency per completion token")
		packages   = fs.String("packages", "", "comma-separated standard-library packages to index (default: all; e.g. net/http,strings)")
		goroot     = fs.String("goroot", env(corpus.GOROOT(), "GOROOT"), "Go root whose src/ is the corpus [GOROOT]")
		seed       = fs.Uint64("seed", corpus.DefaultSeed, "seed of the question draw")
	)
	fs.Var(&plant, "plant", plantHelp)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *workers < 1 {
		return usagef("demo", "--workers must be at least 1")
	}
	if *goroot == "" {
		return usagef("demo", "no Go root: pass --goroot or set GOROOT")
	}

	n, err := startNode(ctx, &f, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "stagescope: dashboard at %s (OTLP/HTTP ingest at %sv1/traces, data in %s)\n", n.url, n.url, n.store.Path())
	err = demoLoop(ctx, n, &f, demoSettings{plant: plant, duration: *duration, maxQueries: *maxQueries, workers: *workers,
		interval: *interval, firstTok: *firstTok, tokLat: *tokLat, packages: stringList(*packages), goroot: *goroot, seed: *seed}, stdout, stderr)
	fmt.Fprintln(stderr, "stagescope: shutting down, flushing")
	return errors.Join(err, n.close(stderr))
}

type demoSettings struct {
	plant            plantFlag
	duration         time.Duration
	maxQueries       int
	workers          int
	interval         time.Duration
	firstTok, tokLat time.Duration
	packages         []string
	goroot           string
	seed             uint64
}

// demoLoop builds the pipeline and answers questions until told to stop.
func demoLoop(ctx context.Context, n *node, f *serveFlags, s demoSettings, stdout, stderr io.Writer) error {
	started := time.Now()
	copts := []corpus.Option{corpus.WithSeed(s.seed)}
	if len(s.packages) > 0 {
		copts = append(copts, corpus.WithPackages(s.packages...))
	}
	model := llm.NewExtractive(llm.WithFirstTokenLatency(s.firstTok), llm.WithTokenLatency(s.tokLat))
	fmt.Fprintln(stderr, "stagescope: indexing the Go standard library's doc comments…")
	p, err := query.NewGoPipeline(ctx, s.goroot, model, copts, nil,
		query.WithWorkers(s.workers), query.WithFaults(s.plant.faults),
		query.WithRetryOptions(retry.WithMaxTries(demoRetryTries), retry.WithMinBackoff(demoRetryMinBackoff), retry.WithMaxBackoff(demoRetryMaxBackoff)))
	if err != nil {
		return fmt.Errorf("cannot build the demo pipeline: %w", err)
	}
	if len(p.Corpus.Questions) == 0 {
		return errors.New("the corpus gave no questions; index more packages")
	}
	fmt.Fprintf(stderr, "stagescope: %d documents, %d chunks, %d questions indexed in %v\n",
		len(p.Corpus.Documents), len(p.Index.Nodes), len(p.Corpus.Questions), time.Since(started).Round(time.Millisecond))

	conf, _ := json.Marshal(map[string]any{"kind": "demo", "workers": s.workers, "top_k": p.Engine.TopK(), "top_n": p.Engine.TopN(),
		"planted": s.plant.String(), "llm_latency": s.firstTok.String(), "token_latency": s.tokLat.String()})
	run, err := n.store.CreateRun(ctx, collector.Run{Name: "demo", Config: conf})
	if err != nil {
		return fmt.Errorf("cannot record the demo run: %w", err)
	}
	n.attachPipeline()
	fmt.Fprintf(stdout, "stagescope: demo run %s answering questions; open %s\n", run.ID, n.url)

	stop := ctx
	if s.duration > 0 {
		var cancel context.CancelFunc
		stop, cancel = context.WithTimeout(ctx, s.duration)
		defer cancel()
	}
	// Queries run on their own context so that a batch in flight at the
	// stop signal finishes and its traces are complete.
	qctx := spans.WithTags(context.WithoutCancel(ctx), spans.Tag{Key: spans.KeyRunID, Value: run.ID})
	var asked, failed int
	var tally bench.Tally // so the demo run is a point on the Runs page's latency-versus-quality chart
	began := time.Now()
	for next := 0; stop.Err() == nil && (s.maxQueries == 0 || asked < s.maxQueries); {
		size := s.workers
		if s.maxQueries > 0 {
			size = min(size, s.maxQueries-asked)
		}
		batch := make([]corpus.Question, size)
		for i := range batch {
			batch[i] = p.Corpus.Questions[next%len(p.Corpus.Questions)]
			next++
		}
		// Each question is its own trace, as requests to a service are.
		var wg sync.WaitGroup
		var mu sync.Mutex
		for _, q := range batch {
			wg.Go(func() {
				t0 := time.Now()
				resp, err := p.Engine.Query(qctx, q.Query)
				tally.Latency(time.Since(t0))
				tally.Answer(q, resp)
				if err != nil {
					mu.Lock()
					failed++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		asked += size
		if s.maxQueries > 0 && asked >= s.maxQueries {
			break
		}
		select {
		case <-stop.Done():
		case <-time.After(s.interval):
		}
	}
	if err := n.store.FinishRun(context.WithoutCancel(ctx), run.ID, tally.Result(time.Since(began)).SummaryJSON()); err != nil {
		return fmt.Errorf("cannot finish the demo run: %w", err)
	}
	fmt.Fprintf(stdout, "stagescope: demo run %s answered %d questions (%d failed)\n", run.ID, asked, failed)
	return nil
}

var _ flag.Value = (*plantFlag)(nil)

// setDefault changes a registered flag's default (and what --help says of
// it), unless the environment variable envName provides one.
func setDefault(fs *flag.FlagSet, name, value, envName string) {
	if env("", envName) != "" {
		return
	}
	fl := fs.Lookup(name)
	if err := fl.Value.Set(value); err != nil {
		panic(fmt.Sprintf("default %q of --%s: %v", value, name, err))
	}
	fl.DefValue = fl.Value.String()
}
