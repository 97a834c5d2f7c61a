// Command ingestbench measures sustained OTLP/HTTP ingest with unique trace
// ids, the way issue 11 asks: the same pre-encoded protobuf requests
// (RAG-shaped traces of ten spans, fresh random trace and span ids and
// current timestamps written into every request) sent by several clients
// to `stagescope serve` built from this checkout, to Jaeger v2 with its
// in-memory store and to Jaeger v2 with Badger, one after the other in one
// run, each a child process on loopback with a fresh temporary directory.
// It reports spans/s overall and per interval, the target's RSS (peak and
// at the end), its CPU time, bytes on disk per span and the latency of a
// few queries after ingest, with stagescope/Jaeger ratios.
//
// It measures whatever `stagescope serve` does: it only speaks OTLP/HTTP
// and the JSON API to a child process, and reads /proc and the data
// directory. It must not import the collector.
//
//	go run ./tools/ingestbench --spans 3000000 --interval 1000000
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Defaults of the run.
const (
	DefaultSpans    = 3_000_000
	DefaultInterval = 1_000_000
	// DefaultJaegerMaxTraces is the memory backend's max_traces in Jaeger's
	// shipped all-in-one configuration.
	DefaultJaegerMaxTraces = 100_000
	// querySampleService is the service the Jaeger searches name (API v3
	// needs one); a third of the fixture's traces belong to it.
	querySampleService = "rag-api"
)

type options struct {
	targets         []string
	load            loadOptions
	fixture         fixtureOptions
	templates       int
	target          targetConfig
	queryRepeat     int
	queryTimeout    time.Duration
	visibleTimeout  time.Duration
	jsonPath        string
	stagescopeBuilt bool   // the binary was built by this run
	stagescopeRev   string // commit it was built from, "+dirty" with local changes
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ingestbench:", err)
		os.Exit(1)
	}
}

const usage = `Usage: go run ./tools/ingestbench [flags]

Sends the same OTLP/HTTP protobuf load (RAG-shaped traces of 10 spans, unique
trace and span ids in every request) to each target in turn, each started here
as a child process on loopback with a fresh temporary data directory:

  stagescope     stagescope serve, built from this checkout (or --stagescope-bin)
  jaeger-memory  Jaeger v2 (tools/jaeger/bin/jaeger), in-memory storage
  jaeger-badger  Jaeger v2 with Badger on disk

and prints spans/s (overall and per --interval spans), RSS, bytes on disk per
span, CPU time and query latencies after ingest, with stagescope/Jaeger ratios.
Progress goes to stderr, the tables (markdown) to stdout.

Flags:
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stdout, stderr)
	if err != nil {
		return err
	}
	logf := func(format string, a ...any) {
		fmt.Fprintf(stderr, "%s ingestbench: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, a...))
	}
	if err := prepareBinaries(ctx, o, logf); err != nil {
		return err
	}
	if o.stagescopeBuilt {
		defer os.RemoveAll(filepath.Dir(o.target.stagescopeBin))
	}

	rep := &report{
		Started: time.Now().UTC(), Spans: o.load.spans, Interval: o.load.interval, Clients: o.load.clients,
		SpansPerRequest: o.fixture.spansPerRequest, ErrorRate: o.fixture.errorRate, CPUs: numCPU(),
		Command: "go run ./tools/ingestbench " + strings.Join(args, " "), JaegerMaxTraces: o.target.jaegerMaxTraces,
		Lean: o.fixture.lean, StagescopeRevision: o.stagescopeRev,
	}
	if g, err := newGenerator(o.templates, o.fixture); err == nil {
		rep.RequestBytes = int64(g.bytesPerRequest)
	}
	var failed []string
	for _, name := range o.targets {
		if ctx.Err() != nil {
			break
		}
		r := benchTarget(ctx, name, o, logf)
		if r.Error != "" {
			failed = append(failed, name+": "+r.Error)
			logf("%s failed: %s", name, r.Error)
		}
		rep.Results = append(rep.Results, r)
	}
	rep.Finished = time.Now().UTC()
	rep.write(stdout)
	if o.jsonPath != "" {
		if err := writeJSON(o.jsonPath, rep, stdout); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return errors.New("interrupted")
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d target(s) failed:\n  %s", len(failed), strings.Join(failed, "\n  "))
	}
	return nil
}

func parseFlags(args []string, stdout, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("ingestbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{}
	targets := fs.String("targets", strings.Join(allTargets, ","), "comma-separated `targets` to run, in this order: "+strings.Join(allTargets, ", "))
	fs.Int64Var(&o.load.spans, "spans", DefaultSpans, "spans to send to each target (rounded up to whole requests)")
	fs.Int64Var(&o.load.interval, "interval", DefaultInterval, "report the rate per this many `spans` (e.g. 10000000 at 100M scale); 0: none")
	fs.IntVar(&o.load.clients, "clients", DefaultClients, "concurrent HTTP clients")
	fs.IntVar(&o.fixture.spansPerRequest, "batch", DefaultSpansPerRequest, "spans per OTLP request")
	fs.IntVar(&o.templates, "templates", DefaultTemplates, "distinct request templates (resources, attribute values); ids and timestamps are fresh in every request anyway")
	fs.Float64Var(&o.fixture.errorRate, "error-rate", 0.01, "fraction of traces whose final LLM call fails (error status and an exception event); 0 makes status=error match nothing")
	fs.BoolVar(&o.fixture.lean, "lean", false, "lean spans: service.name only on the resource, only stage, model and token attributes on spans (default: typical SDK resources and RAG attributes)")
	fs.Uint64Var(&o.fixture.seed, "seed", 1, "seed of the fixture's attribute values and durations (ids are random per run regardless)")
	fs.StringVar(&o.target.stagescopeBin, "stagescope-bin", "", "stagescope `binary` to run; empty: go build ./cmd/stagescope from this checkout into a temporary directory")
	fs.StringVar(&o.target.jaegerBin, "jaeger-bin", "", "Jaeger v2 `binary`; empty: tools/jaeger/bin/jaeger of this checkout")
	fs.IntVar(&o.target.jaegerMaxTraces, "jaeger-max-traces", DefaultJaegerMaxTraces, "max_traces of Jaeger's memory backend (it evicts older traces beyond that)")
	fs.BoolVar(&o.target.jaegerBadgerSync, "badger-sync", false, "Badger consistency: fsync every write (Jaeger's default is off)")
	serveArgs := fs.String("serve-args", "", "extra `flags` for stagescope serve, space-separated (e.g. \"--retention-mb 4096\")")
	fs.StringVar(&o.target.tmpRoot, "tmpdir", "", "`directory` for the targets' temporary data directories (default: $TMPDIR or /tmp)")
	fs.BoolVar(&o.target.keep, "keep", false, "keep the targets' temporary directories (data, config, log)")
	fs.DurationVar(&o.target.stopTimeout, "stop-timeout", 2*time.Minute, "how long a target may take to exit after SIGTERM before it is killed")
	fs.IntVar(&o.queryRepeat, "query-repeat", 5, "times each query is asked after ingest (the median is reported)")
	fs.DurationVar(&o.queryTimeout, "query-timeout", time.Minute, "client timeout of one query")
	fs.DurationVar(&o.visibleTimeout, "visible-timeout", 5*time.Minute, "how long after the last ack the last traces may take to become readable")
	fs.DurationVar(&o.load.requestTimeout, "request-timeout", 2*time.Minute, "client timeout of one OTLP request")
	fs.DurationVar(&o.load.progressEvery, "progress", 15*time.Second, "print a progress line this often (stderr); 0: only per interval")
	fs.StringVar(&o.jsonPath, "json", "", "also write every measurement as JSON to this `file` (\"-\": stdout)")
	fs.Usage = func() {
		fmt.Fprint(stdout, usage)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		fs.SetOutput(stderr)
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q (see --help)", fs.Args())
	}
	for _, t := range strings.Split(*targets, ",") {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		known := false
		for _, k := range allTargets {
			known = known || k == t
		}
		if !known {
			return nil, fmt.Errorf("unknown target %q in --targets (want some of %s)", t, strings.Join(allTargets, ","))
		}
		o.targets = append(o.targets, t)
	}
	switch {
	case len(o.targets) == 0:
		return nil, errors.New("--targets names no target")
	case o.load.spans < 1:
		return nil, errors.New("--spans must be positive")
	case o.load.clients < 1:
		return nil, errors.New("--clients must be positive")
	case o.fixture.spansPerRequest < 1 || o.fixture.spansPerRequest > 100_000:
		return nil, errors.New("--batch must be between 1 and 100000")
	case o.templates < 1:
		return nil, errors.New("--templates must be positive")
	case o.fixture.errorRate < 0 || o.fixture.errorRate > 1:
		return nil, errors.New("--error-rate must be between 0 and 1")
	case o.load.interval < 0:
		return nil, errors.New("--interval must not be negative")
	}
	o.target.serveArgs = strings.Fields(*serveArgs)
	o.target.progress = stderr
	return o, nil
}

// moduleRoot is the directory of the main module's go.mod, for building
// stagescope and finding tools/jaeger.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("cannot run go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the stagescope module: run from the repository or pass --stagescope-bin and --jaeger-bin")
	}
	return filepath.Dir(gomod), nil
}

// prepareBinaries builds stagescope when asked to and checks that every
// binary the targets need exists.
func prepareBinaries(ctx context.Context, o *options, logf func(string, ...any)) error {
	needStagescope, needJaeger := false, false
	for _, t := range o.targets {
		needStagescope = needStagescope || t == targetStagescope
		needJaeger = needJaeger || t != targetStagescope
	}
	var root string
	if (needStagescope && o.target.stagescopeBin == "") || (needJaeger && o.target.jaegerBin == "") {
		var err error
		if root, err = moduleRoot(ctx); err != nil {
			return err
		}
	}
	if needJaeger {
		if o.target.jaegerBin == "" {
			o.target.jaegerBin = filepath.Join(root, "tools", "jaeger", "bin", "jaeger")
		}
		if err := checkExecutable(o.target.jaegerBin); err != nil {
			return fmt.Errorf("no Jaeger v2 binary: %w\nbuild it with: (cd tools/jaeger && go build -o bin/jaeger github.com/jaegertracing/jaeger/cmd/jaeger), or pass --jaeger-bin, or leave the jaeger targets out of --targets", err)
		}
	}
	if !needStagescope {
		return nil
	}
	if o.target.stagescopeBin != "" {
		if err := checkExecutable(o.target.stagescopeBin); err != nil {
			return fmt.Errorf("no stagescope binary: %w", err)
		}
		return nil
	}
	dir, err := os.MkdirTemp(o.target.tmpRoot, "ingestbench-bin-")
	if err != nil {
		return err
	}
	bin := filepath.Join(dir, "stagescope")
	logf("building stagescope from %s", root)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/stagescope")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return fmt.Errorf("cannot build stagescope from %s (if the checkout is mid-edit, retry later or pass --stagescope-bin): %w\n%s", root, err, out)
	}
	o.target.stagescopeBin, o.stagescopeBuilt = bin, true
	o.stagescopeRev = checkoutRevision(ctx, root)
	return nil
}

// checkoutRevision names the commit stagescope was built from, with
// "+dirty" when the checkout has uncommitted changes (another engineer's
// edit in progress ends up in the binary too).
func checkoutRevision(ctx context.Context, root string) string {
	out, err := exec.CommandContext(ctx, "git", "-C", root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return ""
	}
	rev := strings.TrimSpace(string(out))
	st, err := exec.CommandContext(ctx, "git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output()
	if err == nil && len(strings.TrimSpace(string(st))) > 0 {
		rev += "+dirty"
	}
	return rev
}

func checkExecutable(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", path)
	}
	return nil
}

// benchTarget runs the whole measurement against one target. Errors end up
// in the result, so that the other targets still run.
func benchTarget(ctx context.Context, name string, o *options, logf func(string, ...any)) (r targetResult) {
	r.Target = name
	prefixed := func(format string, a ...any) { logf("["+name+"] "+format, a...) }
	gen, err := newGenerator(o.templates, o.fixture)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	r.RequestBytes = int64(gen.bytesPerRequest)
	prefixed("starting")
	t, err := startTarget(ctx, name, o.target)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer t.remove()
	rss := startRSSSampler(t.pid(), 250*time.Millisecond)
	stopped := false
	defer func() {
		if !stopped {
			rss.close()
			_, _, _ = t.stop()
		}
	}()
	fail := func(err error) targetResult {
		r.Error = err.Error()
		if !t.alive() {
			r.Error += "\n" + t.logTail()
		}
		return r
	}

	cpu0, _ := readCPU(t.pid())
	self0 := selfCPU()
	r.LoadAvgStart = loadAverage()
	prefixed("sending %s spans (%d-span requests of ≈%s, %d clients) to %s", count(o.load.spans), o.fixture.spansPerRequest, mib(int64(gen.bytesPerRequest)), o.load.clients, t.ingestURL)
	res, err := runLoad(ctx, gen, t.ingestURL, o.load, rss, prefixed)
	if err != nil {
		return fail(err)
	}
	r.Load = res
	vis, err := waitVisible(ctx, t, res.lastIDs, o.visibleTimeout)
	if err != nil {
		return fail(err)
	}
	res.VisibleElapsed = res.AckElapsed + vis
	r.SpansPerSec = float64(res.Spans) / res.VisibleElapsed.Seconds()
	r.AckSpansPerSec = float64(res.Spans) / res.AckElapsed.Seconds()
	cpu1, _ := readCPU(t.pid())
	r.TargetCPU = cpu1 - cpu0
	r.GeneratorCPU = selfCPU() - self0
	r.LoadAvgEnd = loadAverage()
	prefixed("%s spans in %v (%s spans/s; last traces readable %v after the last ack)", count(res.Spans), res.VisibleElapsed.Round(time.Millisecond), count(int64(r.SpansPerSec)), vis.Round(time.Millisecond))
	if r.DiskRunning, err = measureDisk(t.dataDir); err != nil {
		return fail(err)
	}

	if t.kind == targetStagescope {
		r.Counters = scrapeCounters(ctx, t.queryURL+"/metrics")
	}
	prefixed("queries")
	r.Queries = runQueries(ctx, queriesFor(t, res, querySampleService), o.queryRepeat, o.queryTimeout)
	r.RSSEnd = rss.sample()
	if m, err := readMem(t.pid()); err == nil {
		r.RSSPeak = m.HWM
	}
	_, peak := rss.current()
	r.RSSPeak = max(r.RSSPeak, peak)
	rss.close()

	prefixed("stopping (SIGTERM)")
	stopped = true
	took, killed, err := t.stop()
	r.Shutdown, r.Killed = took, killed
	if err != nil {
		return fail(err)
	}
	if r.DiskAfterStop, err = measureDisk(t.dataDir); err != nil {
		return fail(err)
	}
	if t.dataDir != "" && res.Spans > 0 {
		r.BytesPerSpan = float64(r.DiskAfterStop.Allocated) / float64(res.Spans)
	}
	prefixed("done: RSS peak %s, %s on disk (%.0f B/span), shutdown %v", mib(r.RSSPeak), mib(r.DiskAfterStop.Allocated), r.BytesPerSpan, took.Round(time.Millisecond))
	return r
}

func writeJSON(path string, rep *report, stdout io.Writer) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if path == "-" {
		_, err = stdout.Write(b)
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	return nil
}
