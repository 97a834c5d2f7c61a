package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// jaegerInstance is the one real Jaeger v2 of this package's tests, started
// by TestMain on free loopback ports with in-memory storage.
type jaegerInstance struct {
	cmd      *exec.Cmd
	exited   chan error
	dir      string
	queryURL string // query API and UI
	otlpURL  string // OTLP/HTTP receiver
	thrift   string // Thrift-over-HTTP collector endpoint
}

var (
	backend    *jaegerInstance
	backendErr error // why no Jaeger runs
)

// jaegerYAML receives OTLP/HTTP and jaeger.thrift over HTTP, stores in
// memory and serves the query API; nothing else listens.
const jaegerYAML = `service:
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
      traces: store
    http:
      endpoint: {{query}}
    grpc:
      endpoint: {{grpc}}
  jaeger_storage:
    backends:
      store:
        memory:
          max_traces: 50000
receivers:
  otlp:
    protocols:
      http:
        endpoint: {{otlp}}
  jaeger:
    protocols:
      thrift_http:
        endpoint: {{thrift}}
processors:
  batch:
    timeout: 50ms
exporters:
  jaeger_storage_exporter:
    trace_storage: store
`

// loopbackPort reserves a free loopback address; the listener is closed
// at once, so another process may in theory take it first.
func loopbackPort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func startJaeger(bin string) (*jaegerInstance, error) {
	addr := map[string]string{}
	for _, k := range []string{"query", "grpc", "otlp", "thrift"} {
		a, err := loopbackPort()
		if err != nil {
			return nil, fmt.Errorf("no free loopback port: %w", err)
		}
		addr[k] = a
	}
	cfg := jaegerYAML
	for k, a := range addr {
		cfg = strings.ReplaceAll(cfg, "{{"+k+"}}", a)
	}
	dir, err := os.MkdirTemp("", "stagescope-cmd-jaeger-")
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, "jaeger.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "jaeger.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "--config", "file:"+cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("cannot start Jaeger %s: %w", bin, err)
	}
	j := &jaegerInstance{cmd: cmd, dir: dir, exited: make(chan error, 1), queryURL: "http://" + addr["query"],
		otlpURL: "http://" + addr["otlp"], thrift: "http://" + addr["thrift"] + "/api/traces"}
	go func() { j.exited <- cmd.Wait() }()
	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		select {
		case err := <-j.exited:
			log, _ := os.ReadFile(logPath)
			os.RemoveAll(dir)
			return nil, fmt.Errorf("Jaeger exited at start (%v): %s", err, log)
		default:
		}
		if resp, err := client.Get(j.queryURL + "/api/v3/services"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return j, nil
			}
		}
	}
	j.stop()
	return nil, errors.New("Jaeger was not ready within a minute")
}

func (j *jaegerInstance) stop() {
	_ = j.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-j.exited:
	case <-time.After(10 * time.Second):
		_ = j.cmd.Process.Kill()
		<-j.exited
	}
	os.RemoveAll(j.dir)
}

// needJaeger skips without Jaeger, or fails when STAGESCOPE_REQUIRE_ALL=1.
func needJaeger(t *testing.T) *jaegerInstance {
	t.Helper()
	if backend != nil {
		return backend
	}
	if os.Getenv("STAGESCOPE_REQUIRE_ALL") == "1" {
		t.Fatalf("Jaeger is required: %v", backendErr)
	}
	t.Skipf("no Jaeger: %v", backendErr)
	return nil
}
