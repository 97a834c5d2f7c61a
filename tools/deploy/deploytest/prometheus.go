package deploytest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stagescope/stagescope/collector/jaeger/jaegertest"
	"github.com/stagescope/stagescope/tools/deploy"
)

// EnvPrometheus names the environment variable holding the Prometheus
// binary's path (Debian's prometheus package); .ci/run sets it.
const EnvPrometheus = "STAGESCOPE_PROMETHEUS_BIN"

// DefaultScrapeInterval is the scrape interval of the test Prometheus: the
// shipped 15 s would make every test wait for scrapes.
const DefaultScrapeInterval = time.Second

// Prometheus is a running Prometheus.
type Prometheus struct {
	URL string // e.g. http://127.0.0.1:41234

	proc *process
	dir  string
}

// StartPrometheus runs the Prometheus binary bin with the configuration
// text config (prometheus.yml) and returns once it is ready.
func StartPrometheus(bin, config string) (*Prometheus, error) {
	dir, err := os.MkdirTemp("", "stagescope-prometheus-")
	if err != nil {
		return nil, err
	}
	p, err := startPrometheusIn(dir, bin, config)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	p.dir = dir
	return p, nil
}

func startPrometheusIn(dir, bin, config string) (*Prometheus, error) {
	addr, err := jaegertest.FreeAddr()
	if err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		return nil, err
	}
	proc, err := startProcess(dir, "prometheus", bin, []string{"--config.file=" + cfg,
		"--storage.tsdb.path=" + filepath.Join(dir, "tsdb"), "--web.listen-address=" + addr}, nil)
	if err != nil {
		return nil, err
	}
	p := &Prometheus{URL: "http://" + addr, proc: proc}
	if err := proc.waitReady(func() error { return httpOK(p.URL + "/-/ready") }, readyTimeout); err != nil {
		proc.stop()
		return nil, err
	}
	return p, nil
}

// Stop ends Prometheus and removes its files (when StartPrometheus made
// them).
func (p *Prometheus) Stop() {
	p.proc.stop() // a no-op when already stopped
	if p.dir != "" {
		os.RemoveAll(p.dir)
	}
}

// WaitTargetsUp waits until every scrape target reports up, so that what is
// sent next is seen by the following scrapes.
func (p *Prometheus) WaitTargetsUp(want int, timeout time.Duration) error {
	var last string
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		resp, err := http.Get(p.URL + "/api/v1/targets?state=active")
		if err != nil {
			last = err.Error()
			continue
		}
		var ans struct {
			Data struct {
				ActiveTargets []struct {
					ScrapeURL string `json:"scrapeUrl"`
					Health    string `json:"health"`
					LastError string `json:"lastError"`
				} `json:"activeTargets"`
			} `json:"data"`
		}
		err = json.NewDecoder(resp.Body).Decode(&ans)
		resp.Body.Close()
		if err != nil {
			last = err.Error()
			continue
		}
		up := 0
		var down []string
		for _, t := range ans.Data.ActiveTargets {
			if t.Health == "up" {
				up++
			} else {
				down = append(down, t.ScrapeURL+" "+t.Health+" "+t.LastError)
			}
		}
		if up == want && len(ans.Data.ActiveTargets) == want {
			return nil
		}
		last = fmt.Sprintf("%d of %d targets up; %v", up, want, down)
	}
	return fmt.Errorf("prometheus targets not up within %v: %s", timeout, last)
}

// PrometheusConfig returns the shipped prometheus.yml for collectors whose
// spanmetrics and own-metrics endpoints are given, scraped every interval.
// It fails when the shipped file no longer has the lines it rewrites, so the
// harness never silently tests another configuration than the one shipped.
func PrometheusConfig(spanmetrics, telemetry []string, interval time.Duration) (string, error) {
	cfg := deploy.PrometheusConfig
	for _, key := range []string{"scrape_interval: 15s", "evaluation_interval: 15s"} {
		if !strings.Contains(cfg, key) {
			return "", fmt.Errorf("tools/deploy/prometheus.yml lacks %q", key)
		}
		cfg = strings.Replace(cfg, key, strings.Replace(key, "15s", interval.String(), 1), 1)
	}
	var err error
	if cfg, err = replaceTargets(cfg, "stagescope-spanmetrics", spanmetrics); err != nil {
		return "", err
	}
	return replaceTargets(cfg, "stagescope-collectors", telemetry)
}

// replaceTargets replaces the target lines of the job named job.
func replaceTargets(cfg, job string, targets []string) (string, error) {
	lines := strings.Split(cfg, "\n")
	var out []string
	in, replaced := false, false
	for _, l := range lines {
		trimmed := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(trimmed, "- job_name:"):
			in = strings.TrimSpace(strings.TrimPrefix(trimmed, "- job_name:")) == job
		case in && strings.HasPrefix(trimmed, "- 127.0.0.1:"):
			if !replaced {
				indent := l[:len(l)-len(strings.TrimLeft(l, " "))]
				for _, t := range targets {
					out = append(out, indent+"- "+t)
				}
				replaced = true
			}
			continue
		}
		out = append(out, l)
	}
	if !replaced {
		return "", errors.New("tools/deploy/prometheus.yml has no targets for job " + job)
	}
	return strings.Join(out, "\n"), nil
}

// httpOK returns nil when a GET of url answers 200.
func httpOK(url string) error {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}
