package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/handlers"
)

// defaultBenchTraces is the size of the benchmark database (about eleven
// spans a trace); STAGESCOPE_BENCH_TRACES overrides it.
const defaultBenchTraces = 20_000

var bench struct {
	once  sync.Once
	dir   string
	store *collector.SQLiteStore
	srv   *handlers.Server
	ids   []string
	err   error
}

// benchServer opens (once per test binary) a synthetic database spread over
// the last 24 hours and a server over it, without a collector: the
// benchmarks measure the read side. STAGESCOPE_BENCH_DB names a database
// to keep instead — generated there when the file does not exist, opened
// read-only when it does — so that a 1M-trace store is generated once for
// many runs.
func benchServer(b *testing.B) (*handlers.Server, []string) {
	b.Helper()
	bench.once.Do(func() {
		if path := os.Getenv("STAGESCOPE_BENCH_DB"); path != "" {
			if _, err := os.Stat(path); err != nil {
				n := defaultBenchTraces
				if v, err := strconv.Atoi(os.Getenv("STAGESCOPE_BENCH_TRACES")); err == nil && v > 0 {
					n = v
				}
				if bench.err = generateStore(context.Background(), path, n); bench.err != nil {
					return
				}
			}
			if bench.store, bench.err = collector.OpenSQLite(path, collector.WithReadOnly()); bench.err != nil {
				return
			}
			page, err := bench.store.ListTraces(context.Background(), collector.TraceQuery{Limit: 1000})
			if bench.err = err; err != nil {
				return
			}
			for _, t := range page.Traces {
				bench.ids = append(bench.ids, t.TraceID.String())
			}
			bench.srv = handlers.New(bench.store, nil)
			return
		}
		n := defaultBenchTraces
		if v, err := strconv.Atoi(os.Getenv("STAGESCOPE_BENCH_TRACES")); err == nil && v > 0 {
			n = v
		}
		if bench.dir, bench.err = os.MkdirTemp("", "stagescope-handlers-bench"); bench.err != nil {
			return
		}
		if bench.store, bench.err = collector.OpenSQLite(filepath.Join(bench.dir, "bench.db")); bench.err != nil {
			return
		}
		ctx := context.Background()
		if _, bench.err = collector.GenerateSynthetic(ctx, bench.store, n, 1); bench.err != nil {
			return
		}
		page, err := bench.store.ListTraces(ctx, collector.TraceQuery{Limit: 1000})
		if bench.err = err; err != nil {
			return
		}
		for _, t := range page.Traces {
			bench.ids = append(bench.ids, t.TraceID.String())
		}
		bench.srv = handlers.New(bench.store, nil)
	})
	if bench.err != nil {
		b.Fatal(bench.err)
	}
	return bench.srv, bench.ids
}

func closeBenchDB() {
	if bench.srv != nil {
		bench.srv.Close()
	}
	if bench.store != nil {
		bench.store.Close()
	}
	if bench.dir != "" {
		os.RemoveAll(bench.dir)
	}
}

func serve(b *testing.B, srv *handlers.Server, path string) int {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Host = "127.0.0.1:7318" // not httptest's example.com, which the host guard refuses
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
	}
	return rec.Body.Len()
}

func benchPath(b *testing.B, path string) {
	srv, _ := benchServer(b)
	b.ReportAllocs()
	var bytes int
	cpu := cpuNanos()
	for b.Loop() {
		bytes = serve(b, srv, path)
	}
	b.ReportMetric(float64(cpuNanos()-cpu)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(bytes), "resp-bytes")
}

// cpuNanos is the CPU time (user and system, all threads) the process has
// used: it does not grow when other processes take the machine's cores.
func cpuNanos() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// The requests the Bottlenecks and Compare pages make by default: the
// report of the last 24 hours, and its two halves compared. "fresh" is a
// question asked for the first time (each iteration on a new server, so
// the answer cache is empty); "again" is one the cache answers.
func BenchmarkReportPage(b *testing.B) {
	to := time.Now().Truncate(time.Minute)
	benchAnalysis(b, fmt.Sprintf("/api/report?from=%d&to=%d", to.Add(-24*time.Hour).UnixMilli(), to.UnixMilli()))
}

func BenchmarkComparePage(b *testing.B) {
	to := time.Now().Truncate(time.Minute)
	from := to.Add(-24 * time.Hour)
	mid := from.Add(12 * time.Hour)
	benchAnalysis(b, fmt.Sprintf("/api/compare?base_from=%d&base_to=%d&cand_from=%d&cand_to=%d", from.UnixMilli(), mid.UnixMilli()-1, mid.UnixMilli(), to.UnixMilli()))
}

func benchAnalysis(b *testing.B, path string) {
	benchServer(b)
	b.Run("fresh", func(b *testing.B) {
		b.ReportAllocs()
		var cpu int64
		for b.Loop() {
			b.StopTimer()
			srv := handlers.New(bench.store, nil)
			b.StartTimer()
			c := cpuNanos()
			serve(b, srv, path)
			cpu += cpuNanos() - c
			b.StopTimer()
			srv.Close()
			b.StartTimer()
		}
		b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
	})
	b.Run("again", func(b *testing.B) { benchPath(b, path) })
}

func BenchmarkGetTrace(b *testing.B) {
	srv, ids := benchServer(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		serve(b, srv, "/api/traces/"+ids[i%len(ids)])
		i++
	}
}

func BenchmarkListTraces(b *testing.B) { benchPath(b, "/api/traces?limit=50") }
func BenchmarkListTracesName(b *testing.B) {
	benchPath(b, "/api/traces?limit=50&name=retrieval&status=error")
}
func BenchmarkStages(b *testing.B)     { benchPath(b, "/api/stages") }
func BenchmarkTimeseries(b *testing.B) { benchPath(b, "/api/timeseries?from=now-24h") }
func BenchmarkReport(b *testing.B)     { benchPath(b, "/api/report") }

// The other requests of a fresh dashboard load over the last 24 hours: the
// Overview's series and stages, the trace list, and the service picker.
func BenchmarkPageRequests(b *testing.B) {
	to := time.Now().Truncate(time.Minute)
	w := fmt.Sprintf("from=%d&to=%d", to.Add(-24*time.Hour).UnixMilli(), to.UnixMilli())
	for _, p := range []struct{ name, path string }{
		{"timeseries", "/api/timeseries?" + w},
		{"stages", "/api/stages?" + w},
		{"traces", "/api/traces?limit=100&" + w},
		{"services", "/api/services?" + w},
	} {
		b.Run(p.name, func(b *testing.B) { benchPath(b, p.path) })
	}
}
