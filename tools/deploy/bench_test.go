package deploy_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/stagescope/stagescope/collector/otlpconv"
	"github.com/stagescope/stagescope/collector/prom"
	"github.com/stagescope/stagescope/handlers"
	"github.com/stagescope/stagescope/spans"
	"github.com/stagescope/stagescope/tools/deploy/deploytest"
)

// benchRequestSpans is the spans in one OTLP request: 100 RAG traces of 10.
const benchRequestSpans = 1000

// BenchmarkReferenceDeploymentIngest sends b.N OTLP/HTTP protobuf requests
// of 1,000 spans (stagescope-native RAG traces of 10 spans, fresh ids) to
// each of the two collectors at once (two clients per collector, 503s
// retried) and waits until every span has been written through the remote
// storage into Badger (the collectors' own otelcol_exporter_sent_spans_total).
// It reports the deployment's spans/s from the first send to the last write,
// the CPU seconds each role spent per million spans (from /proc), and
// Badger's allocated bytes per span after the processes stopped.
//
//	go test -run '^$' -bench ReferenceDeploymentIngest -benchtime 100x -count 3 ./tools/deploy/
func BenchmarkReferenceDeploymentIngest(b *testing.B) {
	benchIngest(b, deploytest.Options{ScrapeInterval: 5 * time.Second})
}

// BenchmarkReferenceDeploymentIngestMemory is the same with Jaeger's memory
// backend behind the storage process instead of Badger: what the collectors
// and the remote-storage hop take when the disk store is not the limit.
func BenchmarkReferenceDeploymentIngestMemory(b *testing.B) {
	benchIngest(b, deploytest.Options{ScrapeInterval: 5 * time.Second, MemoryStorage: true})
}

func benchIngest(b *testing.B, o deploytest.Options) {
	d, err := deploytest.StartFromEnv(o)
	d = deploytest.Need(b, d, err)
	defer d.Stop()
	requests := make([][]byte, 0, 2*b.N)
	for range 2 * b.N {
		requests = append(requests, benchRequest(b))
	}
	storagePID, collectorPIDs, _ := d.PIDs()
	cpu0 := map[int]float64{}
	for _, pid := range append([]int{storagePID}, collectorPIDs...) {
		cpu0[pid] = cpuSeconds(b, pid)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for c, col := range d.Collectors {
		mine := requests[c*b.N : (c+1)*b.N]
		for k := range 2 {
			wg.Go(func() {
				for i := k; i < len(mine); i += 2 {
					if err := post(col.OTLPHTTP+"/v1/traces", mine[i]); err != nil {
						errs <- err
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	want := int64(b.N * benchRequestSpans)
	for i, col := range d.Collectors {
		for deadline := time.Now().Add(10 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
			sent, failed := exporterSpans(b, col.Telemetry)
			if failed > 0 {
				b.Fatalf("collector %d failed to write %d spans to the storage", i+1, failed)
			}
			if sent >= want {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("collector %d wrote %d of %d spans", i+1, sent, want)
			}
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	total := float64(2 * want)
	b.ReportMetric(total/elapsed.Seconds(), "spans/s")
	b.ReportMetric(total/2/elapsed.Seconds(), "spans/s/collector")
	var colCPU float64
	for _, pid := range collectorPIDs {
		colCPU += cpuSeconds(b, pid) - cpu0[pid]
	}
	b.ReportMetric(colCPU/total*1e6, "collector-CPU-s/1M-spans")
	b.ReportMetric((cpuSeconds(b, storagePID)-cpu0[storagePID])/total*1e6, "storage-CPU-s/1M-spans")
	d.StopProcesses()
	if !o.MemoryStorage {
		bytes, err := d.StorageBytes()
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(bytes)/total, "badger-B/span")
	}
}

// benchRequest encodes 100 RAG traces of 10 spans with fresh ids.
func benchRequest(b *testing.B) []byte {
	var ss []*spans.Span
	now := time.Now()
	for range benchRequestSpans / 10 {
		tid := spans.NewTraceID()
		root := &spans.Span{TraceID: tid, SpanID: spans.NewSpanID(), Name: "query", Stage: spans.StageQuery,
			Start: now, End: now.Add(900 * time.Millisecond), Status: spans.StatusOK,
			Attrs: []spans.Attribute{spans.String("query.text", "how do I close an http response body")},
			Tags:  []spans.Tag{{Key: spans.KeyRunID, Value: "bench"}}}
		ss = append(ss, root)
		t := now
		for i, st := range []spans.Stage{spans.StageEmbed, spans.StageRetrieve, spans.StagePool, spans.StageRetrieve, spans.StageRetrieve,
			spans.StageRerank, spans.StageSynth, spans.StageRetry, spans.StageLLM} {
			d := time.Duration(5+i*9) * time.Millisecond
			s := &spans.Span{TraceID: tid, SpanID: spans.NewSpanID(), ParentID: root.SpanID, Name: st.String(), Stage: st,
				Start: t, End: t.Add(d), Status: spans.StatusOK, Tags: root.Tags}
			if st == spans.StageLLM {
				s.Attrs = []spans.Attribute{spans.String(spans.KeyLLMModel, "gpt-4o-mini"), spans.Int64(spans.KeyLLMPromptTokens, 812),
					spans.Int64(spans.KeyLLMCompletionTokens, 96)}
			}
			ss = append(ss, s)
			t = t.Add(d)
		}
	}
	msg := &coltracepb.ExportTraceServiceRequest{ResourceSpans: otlpconv.ToResourceSpans(ss, nil, "bench-rag")}
	out, err := proto.Marshal(msg)
	if err != nil {
		b.Fatal(err)
	}
	return out
}

// post sends one request, retrying while the collector pushes back.
func post(url string, body []byte) error {
	for try := 0; ; try++ {
		resp, err := http.Post(url, "application/x-protobuf", bytes.NewReader(body))
		if err != nil {
			return err
		}
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusOK:
			return nil
		case (resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusTooManyRequests) && try < 600:
			time.Sleep(100 * time.Millisecond)
		default:
			return fmt.Errorf("POST %s: %s", url, resp.Status)
		}
	}
}

// exporterSpans reads a collector's own counters of spans its storage
// exporter sent and failed to send.
func exporterSpans(b testing.TB, metricsURL string) (sent, failed int64) {
	resp, err := http.Get(metricsURL)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, `exporter="jaeger_storage_exporter"`) {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		switch {
		case strings.HasPrefix(line, "otelcol_exporter_sent_spans"):
			sent += int64(v)
		case strings.HasPrefix(line, "otelcol_exporter_send_failed_spans"):
			failed += int64(v)
		}
	}
	return sent, failed
}

// cpuSeconds is a process's user and system CPU time so far.
func cpuSeconds(b *testing.B, pid int) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the parenthesised command name; utime and stime are the
	// 14th and 15th fields, in clock ticks (100 a second on Linux).
	f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+2:]))
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100
}

// BenchmarkPrometheusReader measures collector/prom's two queries against
// the deployment's Prometheus after 60 services' traffic (5 span names
// each, so 300 label sets and ≈ 8,000 bucket series across the two
// collectors): the stage breakdown of the last hour and the end-to-end
// time series of the last hour per minute — what an overview page asks.
//
//	go test -run '^$' -bench PrometheusReader -count 5 ./tools/deploy/
func BenchmarkPrometheusReader(b *testing.B) {
	d, err := deploytest.StartFromEnv(deploytest.Options{})
	d = deploytest.Need(b, d, err)
	defer d.Stop()
	ctx := context.Background()
	const services = 60
	total := 0
	for i := range services {
		sent, err := deploytest.SendSDKTraffic(ctx, d.Collectors[i%2].OTLPHTTP, fmt.Sprintf("bench-svc-%02d", i), 20, uint64(i))
		if err != nil {
			b.Fatal(err)
		}
		total += sent.Spans
	}
	pr, err := prom.New(d.Prometheus.URL)
	if err != nil {
		b.Fatal(err)
	}
	defer pr.Close()
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(500 * time.Millisecond) {
		st, err := pr.StageBreakdown(ctx, time.Time{}, time.Now(), "")
		if err == nil && countAll(st) == total {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("Prometheus counts %d of %d spans (%v)", countAll(st), total, err)
		}
	}
	b.Run("StageBreakdown/1h", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			to := time.Now()
			if _, err := pr.StageBreakdown(ctx, to.Add(-time.Hour), to, ""); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Timeseries/1h-by-1m", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			to := time.Now()
			if _, err := pr.Timeseries(ctx, to.Add(-time.Hour), to, time.Minute); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkServeOverDeployment measures `stagescope serve --source
// jaeger=…` over the reference deployment holding 1,600 traces (an OTel SDK
// client's, 800 to each collector, 5 spans each): each iteration starts a fresh serve
// (so nothing is cached; not timed) and times what a page load asks —
// the Overview's /api/timeseries and /api/stages over the traffic's minutes, at
// once as the browser sends them, with and without --prometheus, and the
// Bottlenecks page's /api/report. warm-ms is the same requests again at
// once (the source's cache).
//
//	go test -run '^$' -bench ServeOverDeployment -benchtime 5x -count 3 ./tools/deploy/
func BenchmarkServeOverDeployment(b *testing.B) {
	d, err := deploytest.StartFromEnv(deploytest.Options{})
	d = deploytest.Need(b, d, err)
	defer d.Stop()
	ctx := context.Background()
	bin := buildStagescope(b)
	const perCollector = 800
	spansSent, sent := 0, time.Now()
	for i, col := range d.Collectors {
		// In sends of 100 traces: the SDK's batch processor drops what
		// overflows its queue of 2,048 spans.
		for k := range perCollector / 100 {
			sdk, err := deploytest.SendSDKTraffic(ctx, col.OTLPHTTP, fmt.Sprintf("bench-serve-%d", i), 100, uint64(100*i+k+1))
			if err != nil {
				b.Fatal(err)
			}
			spansSent += sdk.Spans
		}
	}
	pr, err := prom.New(d.Prometheus.URL)
	if err != nil {
		b.Fatal(err)
	}
	defer pr.Close()
	for deadline := time.Now().Add(waitLimit); ; time.Sleep(time.Second) {
		rows, err := pr.StageBreakdown(ctx, time.Time{}, time.Now(), "")
		if err == nil && countAll(rows) == spansSent {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("Prometheus counts %d of %d spans (%v)", countAll(rows), spansSent, err)
		}
	}
	// The window holds the traffic and little else: the source splits a
	// window into time slices with a share of its trace cap each, so a
	// burst of 1,600 traces in a one-hour window would hit one slice's cap.
	// (The traces start a minute before they are sent.)
	from := sent.Add(-time.Minute).Truncate(time.Minute)
	window := fmt.Sprintf("from=%d&to=%d", from.UnixMilli(), from.Add(3*time.Minute).UnixMilli())
	pages := map[string][]string{
		"overview": {"/api/timeseries?" + window, "/api/stages?" + window},
		"report":   {"/api/report?" + window},
	}
	for _, c := range []struct {
		name, page string
		args       []string
	}{
		{"overview/prometheus", "overview", []string{"--prometheus", d.Prometheus.URL}},
		{"overview/sample", "overview", nil},
		{"report", "report", nil},
	} {
		b.Run(c.name, func(b *testing.B) {
			var warm time.Duration
			for range b.N {
				b.StopTimer()
				s := startServe(b, bin, append([]string{"--source", "jaeger=" + d.QueryURL}, c.args...)...)
				b.StartTimer()
				bodies := getAll(b, s, pages[c.page])
				b.StopTimer()
				var answer struct {
					Stages   []handlers.StageRow `json:"stages"`
					Analysed int                 `json:"traces_analysed"`
					Method   string              `json:"method"`
					Coverage any                 `json:"coverage"`
				}
				if err := json.Unmarshal(bodies[len(bodies)-1], &answer); err != nil {
					b.Fatal(err)
				}
				if n := countRows(answer.Stages); c.page == "overview" && n != spansSent || c.page == "report" && answer.Analysed != 2*perCollector {
					b.Fatalf("%s: %d spans in the stages, %d traces analysed; want %d spans, %d traces (%s %v)", c.name, n, answer.Analysed, spansSent, 2*perCollector, answer.Method, answer.Coverage)
				}
				t0 := time.Now()
				getAll(b, s, pages[c.page])
				warm += time.Since(t0)
				s.stop()
				b.StartTimer()
			}
			b.ReportMetric(float64(warm.Microseconds())/1e3/float64(b.N), "warm-ms")
		})
	}
}

// getAll GETs every path at once, as a page does, checks each answers
// and returns the bodies in the order of paths.
func getAll(b *testing.B, s *serveProcess, paths []string) [][]byte {
	bodies := make([][]byte, len(paths))
	errs := make(chan error, len(paths))
	for i, p := range paths {
		go func() {
			resp, err := http.Get(s.url + p)
			if err == nil {
				bodies[i], err = io.ReadAll(resp.Body)
				resp.Body.Close()
				if err == nil && resp.StatusCode != http.StatusOK {
					err = fmt.Errorf("GET %s: %s %s", p, resp.Status, bodies[i])
				}
			}
			errs <- err
		}()
	}
	for range paths {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	return bodies
}

func countRows(rows []handlers.StageRow) int {
	n := 0
	for _, r := range rows {
		n += int(r.Count)
	}
	return n
}
