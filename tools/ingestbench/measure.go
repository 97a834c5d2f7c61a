package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat; it
// is 100 on every Linux this runs on.
const clockTicks = 100

// memStatus is a process's resident set from /proc/PID/status.
type memStatus struct {
	RSS, HWM int64 // VmRSS and VmHWM (peak), bytes
}

func readMem(pid int) (memStatus, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memStatus{}, err
	}
	var m memStatus
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		var dst *int64
		switch {
		case strings.HasPrefix(line, "VmRSS:"):
			dst = &m.RSS
		case strings.HasPrefix(line, "VmHWM:"):
			dst = &m.HWM
		default:
			continue
		}
		f := strings.Fields(line)
		if len(f) >= 2 {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			*dst = kb << 10
		}
	}
	return m, nil
}

// readCPU returns the user+system CPU time a process has used.
func readCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: count from its ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 { // fields 3… ; utime and stime are fields 14 and 15
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// selfCPU is this process's own CPU time (the load generator's cost).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadAverage is the first field of /proc/loadavg, a hint of how busy the
// machine was.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// diskUsage is the space a directory tree takes: allocated blocks (what
// du reports, and what sparse or preallocated files really cost) and the
// sum of file sizes.
type diskUsage struct {
	Allocated int64 `json:"allocated_bytes"`
	Apparent  int64 `json:"apparent_bytes"`
	Files     int   `json:"files"`
}

func measureDisk(dir string) (diskUsage, error) {
	var u diskUsage
	if dir == "" {
		return u, nil
	}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) { // a file removed while walking (compaction)
				return nil
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		u.Files++
		u.Apparent += info.Size()
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			u.Allocated += st.Blocks * 512
		} else {
			u.Allocated += info.Size()
		}
		return nil
	})
	return u, err
}

// rssSampler reads a process's RSS at a fixed period and keeps the maximum;
// VmHWM (the kernel's own peak) is read at the end as well, and the larger
// of the two reported.
type rssSampler struct {
	pid  int
	mu   sync.Mutex
	max  int64
	last int64
	stop chan struct{}
	done chan struct{}
}

func startRSSSampler(pid int, period time.Duration) *rssSampler {
	s := &rssSampler{pid: pid, stop: make(chan struct{}), done: make(chan struct{})}
	s.sample()
	go func() {
		defer close(s.done)
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				s.sample()
			}
		}
	}()
	return s
}

func (s *rssSampler) sample() int64 {
	m, err := readMem(s.pid)
	if err != nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last = m.RSS
	s.max = max(s.max, m.RSS, m.HWM)
	return m.RSS
}

// current returns the latest RSS sample and the maximum so far.
func (s *rssSampler) current() (last, peak int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last, s.max
}

func (s *rssSampler) close() {
	close(s.stop)
	<-s.done
}

// scrapeCounters reads the stagescope_collector_* samples of a Prometheus
// text exposition (stagescope's /metrics): what the target itself says it
// wrote, refused and skipped as duplicate. Best effort: missing names are
// simply absent.
func scrapeCounters(ctx context.Context, metricsURL string) map[string]float64 {
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metricsURL, nil)
	if err != nil {
		return nil
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "stagescope_collector_") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 || strings.Contains(f[0], "{") {
			continue
		}
		if v, err := strconv.ParseFloat(f[1], 64); err == nil {
			out[strings.TrimPrefix(f[0], "stagescope_collector_")] = v
		}
	}
	return out
}
