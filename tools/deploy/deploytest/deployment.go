package deploytest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stagescope/stagescope/collector/jaeger/jaegertest"
	"github.com/stagescope/stagescope/tools/deploy"
)

// readyTimeout bounds how long each process may take to come up.
const readyTimeout = time.Minute

// Collector is one running collector instance.
type Collector struct {
	OTLPHTTP    string // OTLP/HTTP receiver base, e.g. http://127.0.0.1:41234 (append /v1/traces)
	OTLPGRPC    string // OTLP/gRPC receiver address, host:port
	SpanMetrics string // the spanmetrics exposition, http://…/metrics
	Telemetry   string // the collector's own metrics, http://…/metrics
}

// Deployment is a running reference deployment.
type Deployment struct {
	Storage    string // the storage process's gRPC remote-storage address
	Collectors []Collector
	QueryURL   string // Jaeger query API base (/api/v3/…)
	Prometheus *Prometheus
	Dir        string // every process's files and logs (<role>.log)

	procs []*process
}

// Options shape a deployment.
type Options struct {
	Collectors     int           // collector instances (2 when 0)
	ScrapeInterval time.Duration // DefaultScrapeInterval when 0
	// MemoryStorage puts Jaeger's memory backend behind the storage process
	// instead of Badger, for measuring the collectors without the disk
	// store's cost (MemoryStorageMaxTraces traces are kept).
	MemoryStorage bool
}

// MemoryStorageMaxTraces is the memory backend's max_traces with
// Options.MemoryStorage.
const MemoryStorageMaxTraces = 1_000_000

// badgerBlock is the backend of the shipped storage.yaml that
// Options.MemoryStorage replaces.
const badgerBlock = `        badger:
          directories:
            keys: ${env:STAGESCOPE_BADGER_DIR:-/var/lib/stagescope-jaeger/badger}
            values: ${env:STAGESCOPE_BADGER_DIR:-/var/lib/stagescope-jaeger/badger}
          ephemeral: false
          ttl:
            spans: ${env:STAGESCOPE_SPAN_TTL:-72h}
`

// Start runs the reference deployment with the Jaeger binary jaegerBin and
// the Prometheus binary promBin, every process configured by the files in
// tools/deploy, and returns once all answer and Prometheus scrapes every
// collector.
func Start(jaegerBin, promBin string, o Options) (d *Deployment, err error) {
	if o.Collectors <= 0 {
		o.Collectors = 2
	}
	if o.ScrapeInterval <= 0 {
		o.ScrapeInterval = DefaultScrapeInterval
	}
	dir, err := os.MkdirTemp("", "stagescope-deploy-")
	if err != nil {
		return nil, err
	}
	d = &Deployment{Dir: dir}
	defer func() {
		if err != nil {
			d.Stop()
		}
	}()
	addr := func() string {
		a, e := jaegertest.FreeAddr()
		if e != nil && err == nil {
			err = fmt.Errorf("no free loopback port: %w", e)
		}
		return a
	}
	// Each role reads the shipped file; the environment gives its addresses.
	write := func(name, text string) (string, error) {
		p := filepath.Join(dir, name)
		return p, os.WriteFile(p, []byte(text), 0o600)
	}
	storageText := deploy.StorageConfig
	if o.MemoryStorage {
		if !strings.Contains(storageText, badgerBlock) {
			return nil, errors.New("tools/deploy/storage.yaml no longer has the Badger block MemoryStorage replaces")
		}
		storageText = strings.Replace(storageText, badgerBlock,
			fmt.Sprintf("        memory:\n          max_traces: %d\n", MemoryStorageMaxTraces), 1)
	}
	storageCfg, err := write("storage.yaml", storageText)
	if err != nil {
		return nil, err
	}
	collectorCfg, err := write("collector.yaml", deploy.CollectorConfig)
	if err != nil {
		return nil, err
	}
	queryCfg, err := write("query.yaml", deploy.QueryConfig)
	if err != nil {
		return nil, err
	}

	d.Storage = addr()
	if err != nil {
		return nil, err
	}
	p, err := startProcess(dir, "storage", jaegerBin, []string{"--config", "file:" + storageCfg}, []string{
		"STAGESCOPE_REMOTE_STORAGE_ENDPOINT=" + d.Storage,
		"STAGESCOPE_BADGER_DIR=" + filepath.Join(dir, "badger"),
		"OTEL_TRACES_SAMPLER=always_off", // see storage.yaml
	})
	if err != nil {
		return nil, err
	}
	d.procs = append(d.procs, p)
	if err := p.waitReady(func() error { return dialable(d.Storage) }, readyTimeout); err != nil {
		return nil, err
	}

	var spanTargets, telemetryTargets []string
	for i := range o.Collectors {
		httpAddr, grpcAddr, smAddr, telAddr := addr(), addr(), addr(), addr()
		if err != nil {
			return nil, err
		}
		_, telPort, _ := strings.Cut(telAddr, ":")
		c := Collector{OTLPHTTP: "http://" + httpAddr, OTLPGRPC: grpcAddr,
			SpanMetrics: "http://" + smAddr + "/metrics", Telemetry: "http://" + telAddr + "/metrics"}
		p, err := startProcess(dir, "collector-"+strconv.Itoa(i+1), jaegerBin, []string{"--config", "file:" + collectorCfg}, []string{
			"STAGESCOPE_REMOTE_STORAGE_ENDPOINT=" + d.Storage,
			"STAGESCOPE_OTLP_HTTP_ENDPOINT=" + httpAddr,
			"STAGESCOPE_OTLP_GRPC_ENDPOINT=" + grpcAddr,
			"STAGESCOPE_SPANMETRICS_ENDPOINT=" + smAddr,
			"STAGESCOPE_COLLECTOR_METRICS_PORT=" + telPort,
		})
		if err != nil {
			return nil, err
		}
		d.procs = append(d.procs, p)
		if err := p.waitReady(func() error {
			if err := httpOK(c.SpanMetrics); err != nil {
				return err
			}
			return dialable(httpAddr)
		}, readyTimeout); err != nil {
			return nil, err
		}
		d.Collectors = append(d.Collectors, c)
		spanTargets = append(spanTargets, smAddr)
		telemetryTargets = append(telemetryTargets, telAddr)
	}

	queryHTTP, queryGRPC := addr(), addr()
	if err != nil {
		return nil, err
	}
	d.QueryURL = "http://" + queryHTTP
	p, err = startProcess(dir, "query", jaegerBin, []string{"--config", "file:" + queryCfg}, []string{
		"STAGESCOPE_REMOTE_STORAGE_ENDPOINT=" + d.Storage,
		"STAGESCOPE_QUERY_HTTP_ENDPOINT=" + queryHTTP,
		"STAGESCOPE_QUERY_GRPC_ENDPOINT=" + queryGRPC,
	})
	if err != nil {
		return nil, err
	}
	d.procs = append(d.procs, p)
	if err := p.waitReady(func() error { return httpOK(d.QueryURL + "/api/v3/services") }, readyTimeout); err != nil {
		return nil, err
	}

	promCfg, err := PrometheusConfig(spanTargets, telemetryTargets, o.ScrapeInterval)
	if err != nil {
		return nil, err
	}
	promDir := filepath.Join(dir, "prometheus")
	if err := os.Mkdir(promDir, 0o700); err != nil {
		return nil, err
	}
	d.Prometheus, err = startPrometheusIn(promDir, promBin, promCfg)
	if err != nil {
		return nil, err
	}
	if err := d.Prometheus.WaitTargetsUp(2*o.Collectors, readyTimeout); err != nil {
		return nil, err
	}
	return d, nil
}

// StartFromEnv starts a deployment with the binaries named by
// jaegertest.EnvBinary and EnvPrometheus, or explains why it cannot.
func StartFromEnv(o Options) (*Deployment, error) {
	jb, pb := os.Getenv(jaegertest.EnvBinary), os.Getenv(EnvPrometheus)
	var missing []string
	if jb == "" {
		missing = append(missing, jaegertest.EnvBinary)
	}
	if pb == "" {
		missing = append(missing, EnvPrometheus)
	}
	if len(missing) > 0 {
		return nil, errors.New(strings.Join(missing, " and ") + " not set")
	}
	return Start(jb, pb, o)
}

// Stop ends every process and removes the files.
func (d *Deployment) Stop() {
	d.StopProcesses()
	os.RemoveAll(d.Dir)
}

// StopProcesses ends every process, newest first, and leaves the files
// (Badger's, for their size on disk). Calling it again does nothing.
func (d *Deployment) StopProcesses() {
	if d.Prometheus != nil {
		d.Prometheus.proc.stop()
	}
	for i := len(d.procs) - 1; i >= 0; i-- {
		d.procs[i].stop()
	}
}

// PIDs returns the process ids of the storage process, the collectors (in
// order) and the query service, for measuring their CPU time and memory.
func (d *Deployment) PIDs() (storage int, collectors []int, query int) {
	storage = d.procs[0].cmd.Process.Pid
	for _, p := range d.procs[1 : len(d.procs)-1] {
		collectors = append(collectors, p.cmd.Process.Pid)
	}
	return storage, collectors, d.procs[len(d.procs)-1].cmd.Process.Pid
}

// Logs returns the end of every process's log, for a failing test to show.
func (d *Deployment) Logs() string {
	var b strings.Builder
	for _, p := range d.procs {
		fmt.Fprintf(&b, "== %s\n%s\n", p.name, p.tail())
	}
	if d.Prometheus != nil {
		fmt.Fprintf(&b, "== prometheus\n%s\n", d.Prometheus.proc.tail())
	}
	return b.String()
}

// StorageBytes returns the disk space the storage process's Badger files
// take: allocated blocks, not file sizes (Badger's files are sparse).
func (d *Deployment) StorageBytes() (int64, error) {
	var n int64
	err := filepath.Walk(filepath.Join(d.Dir, "badger"), func(_ string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && !fi.IsDir() {
			n += st.Blocks * 512
		}
		return nil
	})
	return n, err
}

// Need returns d when the deployment runs; otherwise it skips the test, or
// fails it when jaegertest.EnvRequireAll=1, with why.
func Need(t testing.TB, d *Deployment, why error) *Deployment {
	t.Helper()
	if d != nil {
		return d
	}
	if os.Getenv(jaegertest.EnvRequireAll) == "1" {
		t.Fatalf("the reference deployment is required: %v", why)
	}
	t.Skipf("no reference deployment: %v", why)
	return nil
}
