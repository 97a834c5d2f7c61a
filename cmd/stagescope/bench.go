package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/engine/bench"
	"github.com/stagescope/stagescope/engine/corpus"
	"github.com/stagescope/stagescope/engine/llm"
	"github.com/stagescope/stagescope/engine/query"
	"github.com/stagescope/stagescope/engine/synth"
)

const benchSynopsis = `Sweeps the built-in RAG pipeline over top_k × top_n × response mode × workers on the
labelled questions of the Go standard-library corpus. Per configuration it measures latency
(p50/p95/p99 of the query spans), throughput, tokens and retrieval quality (hit rate and MRR of
the passages kept for synthesis), prints a table with the Pareto front (p95 against MRR) starred,
and stores each configuration as a run in the database — with its spans tagged with the run id —
so the dashboard's Runs page charts latency against quality. The same corpus and --seed give the
same hit rate and MRR on every run.
`

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench", benchSynopsis, stdout)
	var (
		data      string
		plant     plantFlag
		topK      = fs.String("top-k", "5,10", "comma-separated candidates retrieved per query")
		topN      = fs.String("top-n", "1,3", "comma-separated passages kept by the reranker (at most top-k)")
		modes     = fs.String("modes", string(synth.Compact), "comma-separated response modes: compact, refine, tree_summarize")
		workers   = fs.String("workers", "1,4", "comma-separated numbers of queries answered at once")
		questions = fs.Int("questions", 100, "labelled questions asked per configuration")
		seed      = fs.Uint64("seed", corpus.DefaultSeed, "seed of the question draw")
		packages  = fs.String("packages", "", "comma-separated standard-library packages to index (default: all)")
		goroot    = fs.String("goroot", env(corpus.GOROOT(), "GOROOT"), "Go root whose src/ is the corpus [GOROOT]")
		firstTok  = fs.Duration("llm-latency", 0, "simulated model latency before the first token")
		tokLat    = fs.Duration("token-latency", 0, "simulated model latency per completion token")
		noStore   = fs.Bool("no-store", false, "do not store runs and spans in the database")
		asJSON    = fs.Bool("json", false, "print the results as JSON (snake_case keys, milliseconds in _ms fields) instead of a table")
		quiet     = fs.Bool("quiet", false, "no progress on stderr (by default a bar on a terminal, else a line per configuration)")
	)
	registerData(fs, &data)
	fs.Var(&plant, "plant", plantHelp)
	if err := parse(fs, args); err != nil {
		return err
	}
	var grid bench.Grid
	var err error
	if grid.TopK, err = intList(*topK); err != nil {
		return usagef("bench", "--top-k: %v", err)
	}
	if grid.TopN, err = intList(*topN); err != nil {
		return usagef("bench", "--top-n: %v", err)
	}
	if grid.Workers, err = intList(*workers); err != nil {
		return usagef("bench", "--workers: %v", err)
	}
	for _, m := range stringList(*modes) {
		mode, err := synth.ParseMode(m)
		if err != nil {
			return usagef("bench", "--modes: %v", err)
		}
		grid.Modes = append(grid.Modes, mode)
	}
	if len(grid.Configs()) == 0 {
		return usagef("bench", "the grid is empty: every --top-n exceeds every --top-k")
	}
	if *questions < 1 {
		return usagef("bench", "--questions must be at least 1")
	}
	if *goroot == "" {
		return usagef("bench", "no Go root: pass --goroot or set GOROOT")
	}

	// Open the database before the minutes of indexing, so that a data
	// directory that cannot be written fails at once.
	var n *node
	if !*noStore {
		st, err := openStore(data)
		if err != nil {
			return err
		}
		n = &node{store: st, coll: collector.New(st, collector.WithService("stagescope-bench")), timeout: defaultShutdownTimeout}
	}
	closeNode := func() error {
		if n == nil {
			return nil
		}
		return n.close(io.Discard)
	}
	progress := stderr
	if *quiet {
		progress = io.Discard
	}

	started := time.Now()
	copts := []corpus.Option{corpus.WithSeed(*seed), corpus.WithQuestions(*questions)}
	if ps := stringList(*packages); len(ps) > 0 {
		copts = append(copts, corpus.WithPackages(ps...))
	}
	model := llm.NewExtractive(llm.WithFirstTokenLatency(*firstTok), llm.WithTokenLatency(*tokLat))
	fmt.Fprintln(progress, "stagescope: indexing the Go standard library's doc comments…")
	p, err := query.NewGoPipeline(ctx, *goroot, model, copts, nil)
	if err != nil {
		return errors.Join(fmt.Errorf("cannot build the pipeline: %w", err), closeNode())
	}
	configs := len(grid.Configs())
	fmt.Fprintf(progress, "stagescope: %d documents, %d questions, %d configurations (indexed in %v)\n",
		len(p.Corpus.Documents), len(p.Corpus.Questions), configs, time.Since(started).Round(time.Millisecond))

	var opts []bench.Option
	if plant.faults != nil {
		opts = append(opts, bench.WithEngineOptions(query.WithFaults(plant.faults)))
	}
	perConfig := len(p.Corpus.Questions)
	if bar := progressBar(configs*perConfig, progress); bar != nil {
		opts = append(opts, bench.WithProgress(func(done, _ int) { _ = bar.Set(done) }))
		defer func() { _ = bar.Finish() }()
	} else if !*quiet {
		// Not a terminal (a pipe, a CI log): a line per configuration.
		sweepStart := time.Now()
		opts = append(opts, bench.WithProgress(func(done, total int) {
			if perConfig > 0 && done%perConfig == 0 {
				fmt.Fprintf(progress, "stagescope: %d of %d configurations done (%d of %d queries, %v)\n",
					done/perConfig, configs, done, total, time.Since(sweepStart).Round(time.Second))
			}
		}))
	}
	var rec storeRecorder
	if n != nil {
		n.attachPipeline()
		rec = storeRecorder{n.store, collector.NewID()}
		opts = append(opts, bench.WithRecorder(rec))
	}
	results, err := bench.Sweep(ctx, bench.SetupFromPipeline(p, model, *seed), grid, opts...)
	err = errors.Join(err, closeNode())
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(results)
	}
	fmt.Fprintln(stdout)
	if err := bench.WriteTable(stdout, results); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "\n* on the Pareto front: no other configuration has both a lower p95 and a higher MRR.")
	if n != nil {
		fmt.Fprintf(stdout, "Runs stored in %s as sweep %s; see them with \"stagescope serve --data %s\" (Runs page).\n", n.store.Path(), rec.sweep, data)
	}
	return nil
}

// storeRecorder records the runs of one sweep in the collector's store,
// under one sweep id.
type storeRecorder struct {
	st    *collector.SQLiteStore
	sweep string
}

func (r storeRecorder) StartRun(ctx context.Context, name string, config json.RawMessage) (string, error) {
	run, err := r.st.CreateRun(ctx, collector.Run{Name: name, Config: config, Sweep: r.sweep})
	return run.ID, err
}

func (r storeRecorder) FinishRun(ctx context.Context, id string, summary json.RawMessage) error {
	return r.st.FinishRun(ctx, id, summary)
}

// progressBar returns a bar on stderr when it is a terminal, else nil.
func progressBar(total int, stderr io.Writer) *progressbar.ProgressBar {
	f, ok := stderr.(*os.File)
	if !ok {
		return nil
	}
	if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return progressbar.NewOptions(total, progressbar.OptionSetWriter(f), progressbar.OptionSetDescription("queries"),
		progressbar.OptionShowCount(), progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
}
