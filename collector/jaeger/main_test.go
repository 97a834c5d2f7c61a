package jaeger_test

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// jaegerInstance is the one Jaeger v2 the package's tests share, started by
// TestMain on free loopback ports with an in-memory store.
type jaegerInstance struct {
	cmd      *exec.Cmd
	exited   chan error // receives cmd.Wait's result
	dir      string
	otlpURL  string // OTLP/HTTP base
	thrift   string // Thrift-over-HTTP collector URL
	queryURL string // query API base
}

var (
	backend    *jaegerInstance
	backendErr error // why Jaeger is not available
)

// jaegerConfig is a minimal all-in-one configuration: OTLP/HTTP and Thrift
// HTTP in, memory storage, the query API; no other listeners.
const jaegerConfig = `service:
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

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func startJaeger(bin string) (*jaegerInstance, error) {
	addrs := make([]string, 4)
	for i := range addrs {
		a, err := freeAddr()
		if err != nil {
			return nil, fmt.Errorf("no free port: %w", err)
		}
		addrs[i] = a
	}
	dir, err := os.MkdirTemp("", "stagescope-jaeger-")
	if err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, jaegerConfig, addrs[0], addrs[1], addrs[2], addrs[3]), 0o600); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "jaeger.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "--config", "file:"+cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("cannot start %s: %w", bin, err)
	}
	j := &jaegerInstance{cmd: cmd, dir: dir,
		queryURL: "http://" + addrs[0], otlpURL: "http://" + addrs[2], thrift: "http://" + addrs[3] + "/api/traces"}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); {
		select {
		case err := <-exited:
			log, _ := os.ReadFile(logf.Name())
			return nil, fmt.Errorf("jaeger exited early (%v): %s", err, log)
		default:
		}
		resp, err := client.Get(j.queryURL + "/api/v3/services")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				j.exited = exited
				return j, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	<-exited
	return nil, errors.New("jaeger did not become ready within 60s")
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

func TestMain(m *testing.M) {
	if bin := os.Getenv("STAGESCOPE_JAEGER_BIN"); bin != "" {
		backend, backendErr = startJaeger(bin)
	} else {
		backendErr = errors.New("STAGESCOPE_JAEGER_BIN is not set")
	}
	code := m.Run()
	if backend != nil {
		backend.stop()
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// needJaeger skips the test when no Jaeger runs, or fails it when
// STAGESCOPE_REQUIRE_ALL=1.
func needJaeger(t *testing.T) *jaegerInstance {
	t.Helper()
	if backend != nil {
		return backend
	}
	if os.Getenv("STAGESCOPE_REQUIRE_ALL") == "1" {
		t.Fatalf("Jaeger required: %v", backendErr)
	}
	t.Skipf("no Jaeger: %v", backendErr)
	return nil
}
