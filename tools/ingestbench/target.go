package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Target names accepted by --targets.
const (
	targetStagescope   = "stagescope"
	targetJaegerMemory = "jaeger-memory"
	targetJaegerBadger = "jaeger-badger"
)

var allTargets = []string{targetStagescope, targetJaegerMemory, targetJaegerBadger}

// readyTimeout bounds how long a target may take to start listening.
const readyTimeout = 90 * time.Second

// targetConfig is what starting a target needs.
type targetConfig struct {
	stagescopeBin    string
	jaegerBin        string
	tmpRoot          string // parent of the per-target temporary directory
	jaegerMaxTraces  int    // memory backend's max_traces
	stopTimeout      time.Duration
	serveArgs        []string // extra flags for stagescope serve
	logTail          int      // bytes of the child's log shown on failure
	keep             bool     // leave the temporary directory behind
	progress         io.Writer
	jaegerBadgerSync bool // Badger "consistency" (fsync every write)
}

// target is one running server under test, a child process with its own
// temporary directory (data, config, log).
type target struct {
	name    string
	dir     string // temporary root: removed at the end
	dataDir string // what "bytes on disk" measures; "" for in-memory
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error

	ingestURL string // full URL of POST /v1/traces
	queryURL  string // base of the query API
	otlpAddr  string
	kind      string
	cfg       targetConfig
}

// jaegerConfig is a Jaeger v2 (OpenTelemetry collector) configuration with
// one storage backend, OTLP/HTTP in and the query API out, all on the given
// loopback addresses, no telemetry ports. The pipeline keeps the batch
// processor of Jaeger's shipped configurations (config.yaml,
// config-badger.yaml).
const jaegerConfig = `service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_query:
    storage:
      traces: store
    http:
      endpoint: %[1]s
    grpc:
      endpoint: %[2]s
  jaeger_storage:
    backends:
      store:
%[4]s
receivers:
  otlp:
    protocols:
      http:
        endpoint: %[3]s
processors:
  batch:
exporters:
  jaeger_storage_exporter:
    trace_storage: store
`

const jaegerMemoryBackend = `        memory:
          max_traces: %d`

const jaegerBadgerBackend = `        badger:
          directories:
            keys: %[1]s
            values: %[2]s
          ephemeral: false
          consistency: %[3]t
          ttl:
            spans: 72h`

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("no free loopback port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startTarget starts kind with a fresh temporary directory and waits until
// it takes OTLP and answers queries.
func startTarget(ctx context.Context, kind string, cfg targetConfig) (*target, error) {
	dir, err := os.MkdirTemp(cfg.tmpRoot, "ingestbench-"+kind+"-")
	if err != nil {
		return nil, fmt.Errorf("cannot make a temporary directory: %w", err)
	}
	t := &target{name: kind, kind: kind, dir: dir, logPath: filepath.Join(dir, kind+".log"), cfg: cfg, exited: make(chan struct{})}
	fail := func(err error) (*target, error) {
		t.stop()
		t.remove()
		return nil, err
	}
	var bin string
	var args []string
	switch kind {
	case targetStagescope:
		addr, err := freeAddr()
		if err != nil {
			return fail(err)
		}
		bin = cfg.stagescopeBin
		t.dataDir = filepath.Join(dir, "data")
		args = append([]string{"serve", "--addr", addr, "--data", t.dataDir}, cfg.serveArgs...)
		t.ingestURL, t.queryURL, t.otlpAddr = "http://"+addr+"/v1/traces", "http://"+addr, addr
	case targetJaegerMemory, targetJaegerBadger:
		var addrs [3]string
		for i := range addrs {
			if addrs[i], err = freeAddr(); err != nil {
				return fail(err)
			}
		}
		backend := fmt.Sprintf(jaegerMemoryBackend, cfg.jaegerMaxTraces)
		if kind == targetJaegerBadger {
			t.dataDir = filepath.Join(dir, "badger")
			keys, values := filepath.Join(t.dataDir, "keys"), filepath.Join(t.dataDir, "values")
			for _, d := range []string{keys, values} {
				if err := os.MkdirAll(d, 0o750); err != nil {
					return fail(err)
				}
			}
			backend = fmt.Sprintf(jaegerBadgerBackend, keys, values, cfg.jaegerBadgerSync)
		}
		conf := filepath.Join(dir, "config.yaml")
		if err := os.WriteFile(conf, fmt.Appendf(nil, jaegerConfig, addrs[0], addrs[1], addrs[2], backend), 0o600); err != nil {
			return fail(err)
		}
		bin = cfg.jaegerBin
		args = []string{"--config", "file:" + conf}
		t.queryURL, t.ingestURL, t.otlpAddr = "http://"+addrs[0], "http://"+addrs[2]+"/v1/traces", addrs[2]
	default:
		return fail(fmt.Errorf("unknown target %q (want one of %s)", kind, strings.Join(allTargets, ", ")))
	}
	logf, err := os.Create(t.logPath)
	if err != nil {
		return fail(err)
	}
	defer logf.Close()
	t.cmd = exec.Command(bin, args...)
	t.cmd.Stdout, t.cmd.Stderr = logf, logf
	t.cmd.Dir = dir
	// The child dies with this process even if it is killed outright.
	t.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := t.cmd.Start(); err != nil {
		return fail(fmt.Errorf("cannot start %s (%s): %w", kind, bin, err))
	}
	go func() { t.waitErr = t.cmd.Wait(); close(t.exited) }()
	if err := t.waitReady(ctx); err != nil {
		return fail(fmt.Errorf("%s did not become ready: %w\n%s", kind, err, t.logTail()))
	}
	return t, nil
}

// waitReady polls the query API (health for stagescope, services for
// Jaeger) and the OTLP port.
func (t *target) waitReady(ctx context.Context) error {
	probe := t.queryURL + "/api/health"
	if t.kind != targetStagescope {
		probe = t.queryURL + "/api/v3/services"
	}
	client := &http.Client{Timeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(readyTimeout)
	for {
		select {
		case <-t.exited:
			return fmt.Errorf("exited at start: %v", t.waitErr)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if resp, err := client.Get(probe); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				if c, err := net.DialTimeout("tcp", t.otlpAddr, time.Second); err == nil {
					c.Close()
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer from %s within %v", probe, readyTimeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (t *target) pid() int {
	if t.cmd == nil || t.cmd.Process == nil {
		return 0
	}
	return t.cmd.Process.Pid
}

// alive reports whether the child is still running.
func (t *target) alive() bool {
	select {
	case <-t.exited:
		return false
	default:
		return t.cmd != nil
	}
}

// stop sends SIGTERM, waits up to the stop timeout, then kills. It reports
// how long the clean shutdown took and whether it had to kill.
func (t *target) stop() (took time.Duration, killed bool, err error) {
	if t.cmd == nil || t.cmd.Process == nil {
		return 0, false, nil
	}
	start := time.Now()
	select {
	case <-t.exited:
		return 0, false, fmt.Errorf("%s had already exited: %v", t.name, t.waitErr)
	default:
	}
	_ = t.cmd.Process.Signal(syscall.SIGTERM)
	timeout := t.cfg.stopTimeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	select {
	case <-t.exited:
	case <-time.After(timeout):
		_ = t.cmd.Process.Kill()
		<-t.exited
		return time.Since(start), true, fmt.Errorf("%s did not stop within %v of SIGTERM; killed", t.name, timeout)
	}
	took = time.Since(start)
	var ee *exec.ExitError
	if t.waitErr != nil && !errors.As(t.waitErr, &ee) {
		return took, false, t.waitErr
	}
	if t.waitErr != nil {
		return took, false, fmt.Errorf("%s exited with %v after SIGTERM", t.name, t.waitErr)
	}
	return took, false, nil
}

// remove deletes the temporary directory (unless --keep).
func (t *target) remove() {
	if t.cfg.keep {
		fmt.Fprintf(t.cfg.progress, "ingestbench: kept %s\n", t.dir)
		return
	}
	_ = os.RemoveAll(t.dir)
}

// logTail returns the end of the child's output, for error messages.
func (t *target) logTail() string {
	b, err := os.ReadFile(t.logPath)
	if err != nil || len(b) == 0 {
		return "(no output)"
	}
	n := t.cfg.logTail
	if n <= 0 {
		n = 4000
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return "--- end of " + t.name + " output ---\n" + string(b)
}

// traceURL is where one trace is read back, in the target's own API.
func (t *target) traceURL(id string) string {
	if t.kind == targetStagescope {
		return t.queryURL + "/api/traces/" + id
	}
	return t.queryURL + "/api/v3/traces/" + id
}
