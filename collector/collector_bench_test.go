package collector

import (
	"bytes"
	"context"
	"database/sql/driver"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"
	"google.golang.org/protobuf/proto"

	"github.com/stagescope/stagescope/spans"
)

// benchClock hands out trace start times that grow across calls, as live
// traffic's do.
var benchClock atomic.Int64

// benchSpans makes n spans of ~11-span RAG traces.
func benchSpans(n int) []spans.Span {
	rng := rand.New(rand.NewPCG(uint64(n), 2))
	tags := []spans.Tag{{Key: spans.KeyRunID, Value: "bench"}}
	out := make([]spans.Span, 0, n+16)
	base := time.Now().Add(-time.Hour)
	for len(out) < n {
		t := base.Add(time.Duration(benchClock.Add(int64(100 * time.Microsecond))))
		out = appendRAGTrace(out, rng, t, tags)
	}
	return out[:n]
}

// BenchmarkIngest compares, in one run, a bare batched insert of the span
// rows (same columns and encoding, no trace rows, rollups or index) with the
// collector's full path (queue, writer, spans + traces + rollups). One op is
// one span; spans/s is reported.
func BenchmarkIngest(b *testing.B) {
	const chunk = 2048
	b.Run("bare", func(b *testing.B) {
		s := openStore(b)
		ss := benchSpans(b.N)
		err := s.rawWrite(func(c *sqlite3.SQLiteConn, _ *writeStmts) error {
			return execConn(c, "CREATE TABLE bare_spans (id INTEGER PRIMARY KEY, trace_id BLOB, span_id BLOB, parent_id BLOB, name TEXT, stage INTEGER, start_ns INTEGER, end_ns INTEGER, status INTEGER, service TEXT, body BLOB)")
		})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		err = s.rawWrite(func(c *sqlite3.SQLiteConn, _ *writeStmts) error {
			st, err := c.Prepare("INSERT INTO bare_spans VALUES (?,?,?,?,?,?,?,?,?,?,?)")
			if err != nil {
				return err
			}
			defer st.Close()
			var args []driver.NamedValue
			var body []byte
			for off := 0; off < len(ss); off += DefaultBatchSize {
				if err := execConn(c, "BEGIN IMMEDIATE"); err != nil {
					return err
				}
				for i := off; i < min(off+DefaultBatchSize, len(ss)); i++ {
					sp := &ss[i]
					body = appendSpanBody(body[:0], sp)
					args = nv(args, int64(i+1), sp.TraceID[:], sp.SpanID[:], sp.ParentID[:], sp.Name, int64(sp.Stage), nanos(sp.Start), nanos(sp.End), int64(sp.Status), "svc", body)
					if err := execStmt(st, args); err != nil {
						return err
					}
				}
				if err := execConn(c, "COMMIT"); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "spans/s")
	})
	collectorCase := func(b *testing.B, opts ...Option) {
		s := openStore(b)
		c := New(s, opts...)
		ss := benchSpans(b.N)
		b.ReportAllocs()
		b.ResetTimer()
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
		if m := c.Metrics(); m.SpansWritten != uint64(b.N) {
			b.Fatalf("wrote %d of %d", m.SpansWritten, b.N)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "spans/s")
	}
	b.Run("collector", func(b *testing.B) { collectorCase(b) })
	// The same with WithLateChildren, as stagescope serve runs it.
	b.Run("collector_late_children", func(b *testing.B) { collectorCase(b, WithLateChildren()) })
}

// BenchmarkOTLPIngest posts protobuf requests of 512 spans over loopback
// from 4 clients; an op is one span.
func BenchmarkOTLPIngest(b *testing.B) {
	const perReq, clients = 512, 4
	s := openStore(b)
	c := New(s)
	srv := httptest.NewServer(NewOTLPHandler(c))
	defer srv.Close()
	reqs := (b.N + perReq - 1) / perReq
	bodies := make([][]byte, reqs)
	for i := range bodies {
		r, _, _ := otlpRequest(perReq, time.Now())
		bodies[i], _ = proto.Marshal(r)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for g := 0; g < clients; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := g; i < reqs; i += clients {
				for {
					resp, err := client.Post(srv.URL, "application/x-protobuf", bytes.NewReader(bodies[i]))
					if err != nil {
						b.Error(err)
						return
					}
					resp.Body.Close()
					if resp.StatusCode == 200 {
						break
					}
					time.Sleep(time.Millisecond)
				}
			}
		}(g)
	}
	wg.Wait()
	b.StopTimer()
	c.Shutdown(context.Background())
	client.CloseIdleConnections()
	b.ReportMetric(float64(reqs*perReq)/b.Elapsed().Seconds(), "spans/s")
}

var (
	benchDBOnce sync.Once
	benchDB     *SQLiteStore
	benchDBErr  error
)

// syntheticDB builds (once per process, and cached on disk between runs) a
// database of STAGESCOPE_BENCH_TRACES synthetic traces (default 20000; set
// 1000000 for the 10M-span figures).
func syntheticDB(b *testing.B) *SQLiteStore {
	benchDBOnce.Do(func() {
		n := 20_000
		if v, err := strconv.Atoi(os.Getenv("STAGESCOPE_BENCH_TRACES")); err == nil && v > 0 {
			n = v
		}
		path := filepath.Join(os.TempDir(), fmt.Sprintf("stagescope-bench-%d.db", n))
		_, statErr := os.Stat(path)
		benchDB, benchDBErr = OpenSQLite(path)
		if benchDBErr != nil || statErr == nil {
			return
		}
		start := time.Now()
		var written int
		written, benchDBErr = GenerateSynthetic(context.Background(), benchDB, n, 1)
		fmt.Fprintf(os.Stderr, "built %s: %d traces, %d spans in %v\n", path, n, written, time.Since(start))
	})
	if benchDBErr != nil {
		b.Fatal(benchDBErr)
	}
	return benchDB
}

func BenchmarkStageBreakdown(b *testing.B) {
	s := syntheticDB(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		br, err := s.StageBreakdown(ctx, time.Time{}, time.Time{}, "")
		if err != nil || len(br) < 7 {
			b.Fatalf("%d stages, %v", len(br), err)
		}
	}
}

func BenchmarkGetTrace(b *testing.B) {
	s := syntheticDB(b)
	ctx := context.Background()
	page, err := s.ListTraces(ctx, TraceQuery{Limit: 1000})
	if err != nil || len(page.Traces) == 0 {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t, err := s.GetTrace(ctx, page.Traces[i%len(page.Traces)].TraceID)
		if err != nil || len(t.Spans) < 10 {
			b.Fatal(err)
		}
	}
}

func BenchmarkListTraces(b *testing.B) {
	s := syntheticDB(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if p, err := s.ListTraces(ctx, TraceQuery{Stage: "retry", Limit: 50}); err != nil || len(p.Traces) != 50 {
			b.Fatal(err)
		}
	}
}
