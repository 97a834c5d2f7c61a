package collector

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/spans"
)

// TestOverloadAddsUp floods the collector from an instrumented pipeline and
// from OTLP clients while its writer is stalled. The pipeline must finish
// without waiting for the writer (if a handler call blocked, this test
// would deadlock: the writer is held until the flood is over), and every
// span must end up stored, dropped or refused, exactly.
func TestOverloadAddsUp(t *testing.T) {
	s := openStore(t)
	c := newCollector(t, s, WithQueueSize(2000), WithBatchSize(256))
	d := dispatcher.Get("collectortest.overload")
	h := c.Handler()
	removeS := d.AddSpanHandler(h)
	removeE := d.AddEventHandler(h)
	defer removeS()
	defer removeE()
	srv := httptest.NewServer(NewOTLPHandler(c))
	defer srv.Close()

	s.wmu.Lock() // stall the writer
	const workers, perWorker = 4, 5000
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			for i := 0; i < perWorker; i++ {
				_, sp := d.Start(ctx, "llm.call", spans.StageLLM, spans.Int("i", i))
				sp.End()
			}
		}()
	}
	wg.Wait() // returns although nothing can be written

	// OTLP clients against the full queue, some before and some after the
	// writer resumes.
	var otlpSent, otlpOK, otlpRefused atomic.Int64
	var cwg sync.WaitGroup
	send := func() {
		defer cwg.Done()
		for i := 0; i < 20; i++ {
			req, _, _ := otlpRequest(50, time.Now())
			b, _ := proto.Marshal(req)
			resp, err := http.Post(srv.URL, "application/x-protobuf", bytes.NewReader(b))
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			otlpSent.Add(50)
			switch resp.StatusCode {
			case 200:
				otlpOK.Add(50)
			case 429, 503:
				otlpRefused.Add(50)
			default:
				t.Errorf("status %d", resp.StatusCode)
			}
		}
	}
	cwg.Add(2)
	go send()
	go send()
	time.Sleep(20 * time.Millisecond) // let some requests meet the stalled writer (not an assertion)
	s.wmu.Unlock()
	cwg.Wait()
	if err := c.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	m := c.Metrics()
	stored := int64(storedSpanCount(t, s.DB(), spans.TraceID{}))
	var droppedRow, refusedRow int64
	s.DB().QueryRow("SELECT coalesce(sum(spans),0), coalesce(sum(refused),0) FROM drops").Scan(&droppedRow, &refusedRow)
	inproc := int64(workers * perWorker)
	t.Logf("in-process %d, OTLP %d: stored %d, dropped %d, refused %d", inproc, otlpSent.Load(), stored, m.SpansDropped, m.SpansRefused)
	if m.SpansDropped == 0 || m.SpansDropped < uint64(inproc-2000) {
		t.Fatalf("dropped %d of %d with a queue of 2000 and a stalled writer", m.SpansDropped, inproc)
	}
	if got := stored + int64(m.SpansDropped) + int64(m.SpansRefused); got != inproc+otlpSent.Load() {
		t.Fatalf("stored %d + dropped %d + refused %d = %d, sent %d", stored, m.SpansDropped, m.SpansRefused, got, inproc+otlpSent.Load())
	}
	if int64(m.SpansRefused) != otlpRefused.Load() || stored != inproc-int64(m.SpansDropped)+otlpOK.Load() {
		t.Fatalf("refused %d vs clients' %d; stored %d", m.SpansRefused, otlpRefused.Load(), stored)
	}
	// The drop counters in the database match too.
	if droppedRow != int64(m.SpansDropped) || refusedRow != int64(m.SpansRefused) {
		t.Fatalf("drops table: %d dropped, %d refused; metrics %d, %d", droppedRow, refusedRow, m.SpansDropped, m.SpansRefused)
	}
}

func TestEventsAndPrometheus(t *testing.T) {
	s := openStore(t)
	c := newCollector(t, s, WithService("inproc"))
	d := dispatcher.Get("collectortest.events")
	h := c.Handler()
	defer d.AddSpanHandler(h)()
	defer d.AddEventHandler(h)()
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		ctx2, sp := d.Start(ctx, "retrieve", spans.StageRetrieve)
		d.Emit(ctx2, &event.RetrievalEnd{Retriever: "bm25", Query: "q", TopK: 3, Docs: []event.ScoredDoc{{ID: "a", Score: 0.5}}})
		sp.End()
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	page, err := s.ListTraces(ctx, TraceQuery{Service: "inproc", Limit: 100})
	if err != nil || len(page.Traces) != 10 {
		t.Fatalf("%d traces of service inproc, %v", len(page.Traces), err)
	}
	tr, err := s.GetTrace(ctx, page.Traces[0].TraceID)
	if err != nil || len(tr.Events) != 1 || tr.Events[0].Name != "retrieval.end" || tr.Events[0].SpanID != tr.Spans[0].SpanID {
		t.Fatalf("trace events %+v %v", tr, err)
	}
	if v, ok := tr.Events[0].Attrs[3].Value, true; !ok || strings.Join(v.AsStrings(), ",") != "a" {
		t.Fatalf("event attrs %+v", tr.Events[0].Attrs)
	}

	reg := prometheus.NewRegistry()
	if err := reg.Register(c.PrometheusCollector()); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch {
			case m.GetCounter() != nil:
				got[mf.GetName()] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				got[mf.GetName()] = m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				got[mf.GetName()] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	met := c.Metrics()
	for name, want := range map[string]float64{
		"stagescope_collector_spans_written_total":  10,
		"stagescope_collector_events_written_total": 10,
		"stagescope_collector_spans_dropped_total":  0,
		"stagescope_collector_queue_capacity":       DefaultQueueSize,
		"stagescope_collector_queue_depth":          0,
		"stagescope_collector_batch_seconds":        float64(met.Batches),
		"stagescope_collector_batches_total":        float64(met.Batches),
	} {
		if v, ok := got[name]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", name, v, ok, want)
		}
	}
	if met.Batches == 0 {
		t.Fatal("no batches counted")
	}
}
