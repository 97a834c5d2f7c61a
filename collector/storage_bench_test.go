package collector

import (
	"context"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stagescope/stagescope/spans"
)

// benchResources are the resources of benchForeign's spans: four services
// of one deployment, as an OpenTelemetry SDK describes itself.
func benchResources() []*spans.Resource {
	var out []*spans.Resource
	for _, svc := range []string{"rag-api", "retriever", "reranker", "llm-gateway"} {
		out = append(out, &spans.Resource{Attrs: []spans.Attribute{
			spans.String(spans.KeyService, svc), spans.String("service.version", "1.8.2"), spans.String("deployment.environment", "prod"),
			spans.String("host.name", "ip-10-0-3-17"), spans.String("telemetry.sdk.language", "python"),
		}})
	}
	return out
}

// benchForeign makes the ingest benchmark's spans look as OTLP ingest
// delivers them: a kind, a scope version and one of four shared resources
// per trace.
func benchForeign(ss []spans.Span) {
	res := benchResources()
	r := -1
	for i := range ss {
		if i == 0 || ss[i].TraceID != ss[i-1].TraceID {
			r = (r + 1) % len(res)
		}
		foreignSpan(&ss[i], res[r])
	}
}

func usedPages(b *testing.B, s *SQLiteStore) int64 {
	n, err := s.usedBytes(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	return n
}

// BenchmarkStoredBytesPerSpan writes 100k spans of the ingest benchmark
// (in-process shaped, and OTLP shaped with resources) and reports the
// database pages in use per span.
func BenchmarkStoredBytesPerSpan(b *testing.B) {
	const n = 100_000
	for _, fx := range []struct {
		name    string
		foreign bool
	}{{"inprocess", false}, {"otlp", true}} {
		b.Run(fx.name, func(b *testing.B) {
			for range b.N {
				s := openStore(b)
				empty := usedPages(b, s)
				ss := benchSpans(n)
				if fx.foreign {
					benchForeign(ss)
				}
				c := New(s)
				for off := 0; off < len(ss); off += 2048 {
					if err := c.Ingest(context.Background(), ss[off:min(off+2048, len(ss))], nil); err != nil {
						b.Fatal(err)
					}
				}
				if err := c.Shutdown(context.Background()); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(usedPages(b, s)-empty)/n, "disk-B/span")
			}
		})
	}
}

// BenchmarkIngestTwoParts delivers every trace in two parts in separate
// batches (as when two services export one trace), so the second part of
// each trace meets a stored trace row. One op is one span.
func BenchmarkIngestTwoParts(b *testing.B) {
	const block = 2048
	s := openStore(b)
	c := New(s)
	ss := benchSpans(b.N)
	benchForeign(ss)
	var even, odd []spans.Span
	b.ReportAllocs()
	runtime.GC()
	b.ResetTimer()
	cpu := cpuNanos()
	for off := 0; off < len(ss); off += block {
		even, odd = even[:0], odd[:0]
		for i := off; i < min(off+block, len(ss)); i++ {
			if i%2 == 0 {
				even = append(even, ss[i])
			} else {
				odd = append(odd, ss[i])
			}
		}
		for _, part := range [][]spans.Span{even, odd} {
			for {
				err := c.Ingest(context.Background(), part, nil)
				if err == nil {
					break
				}
				if err != ErrQueueFull {
					b.Fatal(err)
				}
				time.Sleep(time.Millisecond)
			}
		}
	}
	if err := c.Shutdown(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(cpuNanos()-cpu)/float64(b.N), "cpu-ns/span")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "spans/s")
}

// cpuNanos is the CPU time (user and system, all threads) the process has
// used: unlike wall time it does not grow when other processes take the
// machine's two cores, so before/after comparisons hold on a busy box.
func cpuNanos() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkIngestCPU is BenchmarkIngest/collector (two clients, requests
// of 2048 spans) reporting CPU time per span; with WithLateChildren as
// serve runs it, and with OTLP-shaped spans (kind, scope version, one of
// four resources).
func BenchmarkIngestCPU(b *testing.B) {
	const chunk = 2048
	for _, fx := range []struct {
		name    string
		foreign bool
	}{{"inprocess", false}, {"otlp", true}} {
		b.Run(fx.name, func(b *testing.B) {
			s := openStore(b)
			c := New(s, WithLateChildren())
			ss := benchSpans(b.N)
			if fx.foreign {
				benchForeign(ss)
			}
			b.ReportAllocs()
			runtime.GC()
			b.ResetTimer()
			cpu := cpuNanos()
			var wg sync.WaitGroup
			for g := 0; g < 2; g++ {
				wg.Add(1)
				go func(g int) {
					defer wg.Done()
					for off := g * chunk; off < len(ss); off += 2 * chunk {
						for c.Ingest(context.Background(), ss[off:min(off+chunk, len(ss))], nil) == ErrQueueFull {
							time.Sleep(time.Millisecond)
						}
					}
				}(g)
			}
			wg.Wait()
			if err := c.Shutdown(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			b.ReportMetric(float64(cpuNanos()-cpu)/float64(b.N), "cpu-ns/span")
			if m := c.Metrics(); m.SpansWritten != uint64(b.N) {
				b.Fatalf("wrote %d of %d", m.SpansWritten, b.N)
			}
		})
	}
}

// foreignSpan gives sp what OTLP ingest keeps: kind, scope version, resource.
func foreignSpan(sp *spans.Span, r *spans.Resource) {
	sp.Kind, sp.ScopeVersion, sp.Resource = spans.SpanKindInternal, "0.4.1", r
}
