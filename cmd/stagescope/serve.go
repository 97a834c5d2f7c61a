package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/collector/jaeger"
	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/handlers"
)

const (
	// defaultDataDir is where the database lives unless --data or
	// STAGESCOPE_DATA says otherwise; it is created on first run.
	defaultDataDir = "stagescope-data"
	// databaseFile is the SQLite file inside the data directory.
	databaseFile = "stagescope.db"
	// defaultShutdownTimeout bounds the flush on SIGINT/SIGTERM.
	defaultShutdownTimeout = 30 * time.Second
	// serveMemoryLimit is the Go runtime's soft memory limit in serve
	// (unless GOMEMLIMIT sets another): the garbage collector works harder
	// as the heap nears it instead of letting it double. With admission
	// control (collector.DefaultDecodeBudget) it keeps serve's peak RSS
	// under 300 MB whatever the clients send (BENCHMARKS.md).
	serveMemoryLimit = 200 << 20
)

// serveFlags are the flags of serve, shared by demo.
type serveFlags struct {
	addr, data, token, jaegerUI, exportJaeger, service string
	retentionAge                                       time.Duration
	retentionMB                                        int64
	shutdownTimeout                                    time.Duration
	prices                                             pricesFlag
	cmd                                                string // serve or demo, for usage errors
	allowUnauthenticated                               bool
	allowHosts                                         string
	source, prometheus                                 string // serve only: see registerSource
	jaegerURL                                          string // from source
}

func (f *serveFlags) register(fs *flag.FlagSet, defService string) {
	f.cmd = fs.Name()
	f.prices.register(fs)
	fs.StringVar(&f.addr, "addr", env(handlers.DefaultAddr, "STAGESCOPE_ADDR"),
		"listen `address` of the dashboard, the API and OTLP/HTTP ingest (POST /v1/traces); port 0 picks a free one [STAGESCOPE_ADDR]")
	registerData(fs, &f.data)
	fs.StringVar(&f.token, "token", "",
		"require \"Authorization: Bearer `token`\" on ingest, the API and /metrics; the dashboard asks for it once [STAGESCOPE_TOKEN]")
	fs.BoolVar(&f.allowUnauthenticated, "allow-unauthenticated", false,
		"confirm serving beyond loopback without --token: anyone who can reach the address reads every trace and can send spans")
	fs.StringVar(&f.allowHosts, "allow-host", env("", "STAGESCOPE_ALLOW_HOST"),
		"comma-separated host `names` the server answers to besides IP addresses and localhost (a guard against DNS rebinding); * for any [STAGESCOPE_ALLOW_HOST]")
	fs.StringVar(&f.jaegerUI, "jaeger-ui", env("", "STAGESCOPE_JAEGER_UI"),
		"`URL` of a Jaeger UI; traces get an \"open in Jaeger\" link [STAGESCOPE_JAEGER_UI]")
	fs.StringVar(&f.exportJaeger, "export-jaeger", env("", "STAGESCOPE_EXPORT_JAEGER"),
		"also send every span (in-process and OTLP-ingested) live to Jaeger's OTLP/HTTP `URL` (e.g. "+jaeger.DefaultOTLPEndpoint+"); batched and bounded, drops are counted [STAGESCOPE_EXPORT_JAEGER]")
	fs.StringVar(&f.service, "service", env(defService, "OTEL_SERVICE_NAME"),
		"service `name` of in-process spans and of live-exported spans [OTEL_SERVICE_NAME]")
	fs.DurationVar(&f.retentionAge, "retention-age", envDuration(0, "STAGESCOPE_RETENTION_AGE"),
		"delete traces older than this `duration` (e.g. 168h); 0 keeps them [STAGESCOPE_RETENTION_AGE]")
	fs.Int64Var(&f.retentionMB, "retention-mb", envInt(0, "STAGESCOPE_RETENTION_MB"),
		"delete the oldest traces while the database exceeds this many `megabytes`; 0: no bound [STAGESCOPE_RETENTION_MB]")
	fs.DurationVar(&f.shutdownTimeout, "shutdown-timeout", defaultShutdownTimeout,
		"on SIGINT/SIGTERM, running requests get half this `duration` to finish (then stalled uploads are cut, unacknowledged), and the flush of every accepted span to the database gets this much of its own")
}

// registerData adds --data.
func registerData(fs *flag.FlagSet, dst *string) {
	fs.StringVar(dst, "data", env(defaultDataDir, "STAGESCOPE_DATA"),
		"data `directory` holding "+databaseFile+"; created on first run [STAGESCOPE_DATA]")
}

// openStore opens the database of a data directory, creating both.
func openStore(dir string) (*collector.SQLiteStore, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("cannot create data directory %q: %w", dir, err)
	}
	path := filepath.Join(dir, databaseFile)
	st, err := collector.OpenSQLite(path)
	if err != nil {
		return nil, fmt.Errorf("cannot open database %q: %w", path, err)
	}
	return st, nil
}

// openStoreReadOnly opens the database of a data directory for queries only,
// so that report and export work while serve or demo is writing it.
func openStoreReadOnly(dir string) (*collector.SQLiteStore, error) {
	path := filepath.Join(dir, databaseFile)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("no database at %q (run serve, demo or bench first, or pass --data): %w", path, err)
	}
	st, err := collector.OpenSQLite(path, collector.WithReadOnly())
	if err != nil {
		return nil, fmt.Errorf("cannot open database %q: %w", path, err)
	}
	return st, nil
}

// node is a running collector with its HTTP server: what serve runs and
// demo runs its pipeline against.
type node struct {
	store   *collector.SQLiteStore
	coll    *collector.Collector
	server  *handlers.Server
	http    *http.Server
	url     string
	served  chan error
	live    *jaeger.LiveExporter
	source  *jaegerSource // with --source jaeger=…, instead of store and coll
	detach  []func()
	timeout time.Duration
}

// startNode opens the store, starts the collector and serves HTTP.
func startNode(ctx context.Context, f *serveFlags, stderr io.Writer) (*node, error) {
	if f.token == "" {
		f.token = os.Getenv("STAGESCOPE_TOKEN") // not a flag default: --help must not print it
	}
	prices, err := f.prices.table(f.cmd)
	if err != nil {
		return nil, err
	}
	if !loopbackOnly(f.addr) && f.token == "" {
		if !f.allowUnauthenticated {
			return nil, usagef(f.cmd, "--addr %s listens beyond loopback without a token: anyone who can reach it reads every trace and can send spans. "+
				"Set --token (or STAGESCOPE_TOKEN), or pass --allow-unauthenticated to confirm", f.addr)
		}
		fmt.Fprintf(stderr, "stagescope: WARNING: serving %s WITHOUT AUTHENTICATION (--allow-unauthenticated): every trace is readable, and spans can be sent, by anyone who reaches this address\n", f.addr)
	}
	// Structured log of what goes wrong while serving: every 5xx with its
	// cause, failed batches, store faults.
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	n := &node{timeout: f.shutdownTimeout, served: make(chan error, 1)}
	var src collector.Source
	if f.jaegerURL != "" {
		if n.source, err = openJaegerSource(f); err != nil {
			return nil, err
		}
		src = n.source
	} else {
		st, err := openStore(f.data)
		if err != nil {
			return nil, err
		}
		st.OnFault(func(err error) {
			logger.Error("store fault: no longer acknowledging spans; health is unhealthy until restart", "err", err)
		})
		// serve takes OTLP from other processes, whose exporters may deliver a
		// child after its parent: keep the rollups' self times right.
		copts := []collector.Option{collector.WithService(f.service), collector.WithLateChildren(),
			collector.WithErrorHandler(func(err error) { logger.Error("collector: batch not written", "err", err) })}
		if f.retentionAge > 0 || f.retentionMB > 0 {
			copts = append(copts, collector.WithRetention(collector.RetentionPolicy{MaxAge: f.retentionAge, MaxBytes: f.retentionMB << 20}))
		}
		n.store, n.coll, src = st, collector.New(st, copts...), st
	}
	hopts := []handlers.Option{handlers.WithToken(f.token), handlers.WithLogger(logger), handlers.WithAllowedHosts(stringList(f.allowHosts)...)}
	if h, _, err := net.SplitHostPort(f.addr); err == nil && h != "" {
		hopts = append(hopts, handlers.WithAllowedHosts(h)) // the name it was told to listen on
	}
	if prices != nil {
		hopts = append(hopts, handlers.WithPriceTable(prices))
	}
	if f.jaegerUI != "" {
		hopts = append(hopts, handlers.WithJaegerUI(f.jaegerUI))
	}
	if f.exportJaeger != "" {
		n.live, err = jaeger.NewLiveExporter(ctx, f.exportJaeger, jaeger.WithServiceName(f.service),
			jaeger.WithErrorHandler(func(err error) { fmt.Fprintf(stderr, "stagescope: live export: %v\n", err) }))
		if err != nil {
			n.close(stderr)
			return nil, fmt.Errorf("cannot start live export to %s: %w", f.exportJaeger, err)
		}
		// Spans that arrive over OTLP go to Jaeger too, once committed.
		live := n.live
		hopts = append(hopts, handlers.WithOTLPOptions(collector.WithOnIngested(live.Ingested)))
	}
	n.server = handlers.New(src, n.coll, hopts...)
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		n.close(stderr)
		return nil, fmt.Errorf("cannot listen on %s: %w", f.addr, err)
	}
	n.url = "http://" + ln.Addr().String() + "/"
	n.http = n.server.HTTPServer(ln.Addr().String())
	go func() { n.served <- n.http.Serve(ln) }()
	return n, nil
}

// loopbackOnly reports whether addr listens on loopback only: a loopback
// IP or localhost (an empty host or 0.0.0.0 listens everywhere).
func loopbackOnly(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// attachPipeline sends in-process spans and events to the collector and,
// with --export-jaeger, to Jaeger.
func (n *node) attachPipeline() {
	if n.coll == nil {
		return // a Jaeger source: spans go to Jaeger's collectors
	}
	h := n.coll.Handler()
	n.detach = append(n.detach, dispatcher.Root().AddSpanHandler(h), dispatcher.Root().AddEventHandler(h))
	if n.live != nil {
		n.detach = append(n.detach, dispatcher.Root().AddSpanHandler(n.live), dispatcher.Root().AddEventHandler(n.live))
	}
}

// wait blocks until ctx ends or the HTTP server fails.
func (n *node) wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case err := <-n.served:
		n.served <- err
		return fmt.Errorf("HTTP server stopped: %w", err)
	}
}

// close stops taking requests, flushes every accepted span to the database
// and to Jaeger, and closes the store. In-flight requests get half the
// shutdown timeout to finish; what is still running then (a client stalled
// mid-upload) is cut: none of its spans was accepted, so nothing is lost and
// the client retries elsewhere or later. The collector's flush then gets a
// deadline of its own, the whole timeout, so a stalled upload cannot use it
// up. The error is non-nil only when something accepted was not written.
func (n *node) close(stderr io.Writer) error {
	var errs []error
	if n.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), n.timeout/2)
		err := n.http.Shutdown(ctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			_ = n.http.Close() // cuts the stalled connections
			fmt.Fprintf(stderr, "stagescope: requests still running after %s were cut (their spans were not acknowledged)\n", n.timeout/2)
		} else if err != nil {
			errs = append(errs, fmt.Errorf("HTTP shutdown: %w", err))
		}
		if err := <-n.served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	if n.server != nil {
		_ = n.server.Close()
	}
	for i := len(n.detach) - 1; i >= 0; i-- {
		n.detach[i]()
	}
	n.detach = nil
	ctx, cancel := context.WithTimeout(context.Background(), n.timeout)
	defer cancel()
	if n.live != nil {
		if err := n.live.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("live export shutdown: %w", err))
		}
		s := n.live.Stats()
		fmt.Fprintf(stderr, "stagescope: live export: %d spans exported, %d failed, %d dropped\n", s.Exported, s.Failed, s.Dropped)
	}
	if n.source != nil {
		n.source.close()
	}
	if n.coll != nil {
		if err := n.coll.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("collector flush: %w", err))
		}
		m := n.coll.Metrics()
		fmt.Fprintf(stderr, "stagescope: %d spans and %d events written (%d spans dropped, %d refused)\n",
			m.SpansWritten, m.EventsWritten, m.SpansDropped, m.SpansRefused)
	}
	if n.store != nil {
		if err := n.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing the database: %w", err))
		}
	}
	return errors.Join(errs...)
}

const serveSynopsis = `Runs the collector, OTLP/HTTP ingest (POST /v1/traces, protobuf or JSON) and the
dashboard on an embedded SQLite database in the data directory (./` + defaultDataDir + ` unless
--data or STAGESCOPE_DATA says otherwise; created on first run). Binds loopback by default.
SIGINT or SIGTERM stops taking requests, writes every accepted span, and exits 0.

Point any OpenTelemetry SDK at it: OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:7318

With --source jaeger=URL the dashboard and API read a Jaeger v2 query service instead
(read-only; spans go to Jaeger's collectors): traces, reports and comparisons from its
/api/v3, stage rates and percentiles over time from a bounded sample of traces (each
page says how many) or, with --prometheus, from the spanmetrics histograms.
`

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", serveSynopsis, stdout)
	var f serveFlags
	f.register(fs, collectorDefaultService)
	f.registerSource(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := f.checkSource(fs); err != nil {
		return err
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(serveMemoryLimit)
	}
	n, err := startNode(ctx, &f, stderr)
	if err != nil {
		return err
	}
	n.attachPipeline()
	if n.source != nil {
		fmt.Fprintf(stdout, "stagescope: dashboard at %s (reading traces from %s; OTLP ingest off)\n", n.url, n.source.describe())
	} else {
		fmt.Fprintf(stdout, "stagescope: dashboard at %s (OTLP/HTTP ingest at %sv1/traces, data in %s)\n", n.url, n.url, n.store.Path())
	}
	werr := n.wait(ctx)
	fmt.Fprintln(stderr, "stagescope: shutting down, flushing")
	return errors.Join(werr, n.close(stderr))
}

// collectorDefaultService names in-process spans without a service.
const collectorDefaultService = "stagescope"
