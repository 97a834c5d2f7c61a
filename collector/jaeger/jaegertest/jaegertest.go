package jaegertest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// EnvBinary names the environment variable holding the Jaeger binary's
// path; .ci/run sets it. EnvRequireAll=1 turns a missing Jaeger from a skip
// into a failure.
const (
	EnvBinary     = "STAGESCOPE_JAEGER_BIN"
	EnvRequireAll = "STAGESCOPE_REQUIRE_ALL"
)

// ReadyTimeout bounds how long Start waits for the query API to answer.
const ReadyTimeout = time.Minute

// Instance is a running Jaeger.
type Instance struct {
	QueryURL  string // query API and UI base, e.g. http://127.0.0.1:41234
	OTLPURL   string // OTLP/HTTP receiver base (append /v1/traces)
	ThriftURL string // Thrift-over-HTTP collector endpoint (…/api/traces)

	cmd    *exec.Cmd
	exited chan error
	dir    string
}

// config receives OTLP/HTTP and jaeger.thrift over HTTP, keeps traces in
// memory and serves the query API; nothing else listens.
const config = `service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp, jaeger]
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
      traces: mem
    http:
      endpoint: %[1]s
    grpc:
      endpoint: %[2]s
  jaeger_storage:
    backends:
      mem:
        memory:
          max_traces: 100000
receivers:
  otlp:
    protocols:
      http:
        endpoint: %[3]s
  jaeger:
    protocols:
      thrift_http:
        endpoint: %[4]s
processors:
  batch:
    timeout: 50ms
exporters:
  jaeger_storage_exporter:
    trace_storage: mem
`

// freeAddr reserves a free loopback address; the listener is closed at
// once, so another process may in theory take it first.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Start runs the Jaeger binary bin and returns once its query API answers.
func Start(bin string) (*Instance, error) {
	addrs := make([]string, 4)
	for i := range addrs {
		a, err := freeAddr()
		if err != nil {
			return nil, fmt.Errorf("no free loopback port: %w", err)
		}
		addrs[i] = a
	}
	dir, err := os.MkdirTemp("", "stagescope-jaeger-")
	if err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, config, addrs[0], addrs[1], addrs[2], addrs[3]), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	logPath := filepath.Join(dir, "jaeger.log")
	logf, err := os.Create(logPath)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "--config", "file:"+cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("cannot start Jaeger %s: %w", bin, err)
	}
	j := &Instance{cmd: cmd, dir: dir, exited: make(chan error, 1),
		QueryURL: "http://" + addrs[0], OTLPURL: "http://" + addrs[2], ThriftURL: "http://" + addrs[3] + "/api/traces"}
	go func() { j.exited <- cmd.Wait() }()
	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()
	for deadline := time.Now().Add(ReadyTimeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		select {
		case err := <-j.exited:
			log, _ := os.ReadFile(logPath)
			os.RemoveAll(dir)
			return nil, fmt.Errorf("Jaeger exited at start (%v): %s", err, log)
		default:
		}
		if resp, err := client.Get(j.QueryURL + "/api/v3/services"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return j, nil
			}
		}
	}
	j.Stop()
	return nil, fmt.Errorf("Jaeger was not ready within %v", ReadyTimeout)
}

// StartFromEnv starts the binary named by EnvBinary, or explains why it
// cannot.
func StartFromEnv() (*Instance, error) {
	bin := os.Getenv(EnvBinary)
	if bin == "" {
		return nil, errors.New(EnvBinary + " is not set")
	}
	return Start(bin)
}

// Stop ends Jaeger (SIGTERM, then SIGKILL after 10 s) and removes its files.
func (j *Instance) Stop() {
	_ = j.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-j.exited:
	case <-time.After(10 * time.Second):
		_ = j.cmd.Process.Kill()
		<-j.exited
	}
	os.RemoveAll(j.dir)
}

// Need returns j when Jaeger runs; otherwise it skips the test, or fails it
// when EnvRequireAll=1, with why (the error StartFromEnv returned).
func Need(t testing.TB, j *Instance, why error) *Instance {
	t.Helper()
	if j != nil {
		return j
	}
	if os.Getenv(EnvRequireAll) == "1" {
		t.Fatalf("Jaeger is required: %v", why)
	}
	t.Skipf("no Jaeger: %v", why)
	return nil
}

// UniqueService returns prefix-<random hex>, so that a test run (and its
// repeats with -count) finds only its own traces in a Jaeger that keeps
// everything in memory.
func UniqueService(prefix string) string {
	return fmt.Sprintf("%s-%08x", prefix, rand.Uint32())
}
