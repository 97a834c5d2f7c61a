package jaeger_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stagescope/stagescope/collector/jaeger"
	"github.com/stagescope/stagescope/collector/jaeger/jaegertest"
	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/spans"
)

// runQueries runs n small pipelines of four spans (query → retrieve,
// llm.chat failing, synth) with one event each through d.
func runQueries(d *dispatcher.Dispatcher, n int) {
	for i := range n {
		ctx, q := d.Start(context.Background(), "query", spans.StageQuery, spans.Int("i", i))
		rctx, r := d.Start(ctx, "retrieve", spans.StageRetrieve, spans.Int(spans.KeyRetrievalTopK, 5))
		d.Emit(rctx, &event.RetrievalEnd{Query: "q", TopK: 5, Docs: []event.ScoredDoc{{ID: "d1", Score: 0.9}}})
		r.End()
		_, l := d.Start(ctx, "llm.chat", spans.StageLLM)
		l.EndErr(errors.New("rate limited"))
		_, s := d.Start(ctx, "synthesize", spans.StageSynth)
		s.End()
		q.End()
	}
}

func TestLiveExportReachesJaeger(t *testing.T) {
	j := needJaeger(t)
	const n = 20
	service := jaegertest.UniqueService("ss-live")
	live, err := jaeger.NewLiveExporter(context.Background(), j.OTLPURL, jaeger.WithServiceName(service),
		jaeger.WithBatchTimeout(20*time.Millisecond), jaeger.WithBatchSize(16))
	if err != nil {
		t.Fatal(err)
	}
	d := dispatcher.Get("jaegertest.live")
	rec := dispatcher.NewRecorder(0)
	rmRec := d.AddSpanHandler(rec)
	rmSpans, rmEvents := d.AddSpanHandler(live), d.AddEventHandler(live)
	runQueries(d, n)
	rmSpans()
	rmEvents()
	rmRec()
	if err := live.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := live.Stats()
	if st.Ended != 4*n || st.Exported != 4*n || st.Dropped != 0 || st.Failed != 0 || st.Queued != 0 || st.LastErr != nil {
		t.Fatalf("stats %+v, want %d ended and exported, nothing dropped or failed", st, 4*n)
	}
	qc, err := jaeger.NewQueryClient(j.QueryURL)
	if err != nil {
		t.Fatal(err)
	}
	defer qc.Close()
	byTrace := map[spans.TraceID][]*spans.Span{}
	for _, s := range rec.Spans() {
		byTrace[s.TraceID] = append(byTrace[s.TraceID], s)
	}
	if len(byTrace) != n {
		t.Fatalf("recorded %d traces, want %d", len(byTrace), n)
	}
	for id, want := range byTrace {
		got := waitTrace(t, qc, id, len(want))
		checkRoundTrip(t, jaeger.Trace{Spans: want}, jaeger.Trace{Spans: got.Spans}, false)
		var exceptions, retrievals int
		for _, e := range got.Events {
			switch e.Name {
			case "exception":
				exceptions++
			case "retrieval.end":
				retrievals++
			}
		}
		if exceptions != 1 || retrievals != 1 {
			t.Errorf("trace %s: %d exception and %d retrieval.end events, want 1 and 1", id, exceptions, retrievals)
		}
	}
	found, err := qc.FindTraces(context.Background(), jaeger.Query{Service: service})
	if err != nil || len(found) != n {
		t.Fatalf("FindTraces: %d traces, %v; want %d", len(found), err, n)
	}
}

func TestLiveExportSaturatedDropsAndCounts(t *testing.T) {
	const n = 5000
	var handled int
	live, err := jaeger.NewLiveExporter(context.Background(), closedAddr(t),
		jaeger.WithQueueSize(8), jaeger.WithBatchSize(4), jaeger.WithRetry(false), jaeger.WithBatchTimeout(time.Millisecond),
		jaeger.WithErrorHandler(func(error) { handled++ })) // called from the processor's one goroutine
	if err != nil {
		t.Fatal(err)
	}
	d := dispatcher.Get("jaegertest.saturate")
	remove := d.AddSpanHandler(live)
	for i := range n {
		_, s := d.Start(context.Background(), fmt.Sprint("job", i%10), spans.StagePool)
		s.End()
	}
	remove()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := live.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	st := live.Stats()
	if st.Ended != n || st.Exported != 0 || st.Dropped == 0 || st.Failed == 0 || st.Queued != 0 {
		t.Fatalf("stats %+v: want %d ended, none exported, some dropped, some failed, none queued", st, n)
	}
	if st.Failed+st.Dropped != n {
		t.Fatalf("failed %d + dropped %d != ended %d", st.Failed, st.Dropped, n)
	}
	if live.Dropped() != st.Dropped || st.LastErr == nil || handled == 0 {
		t.Fatalf("Dropped() %d, LastErr %v, error handler calls %d", live.Dropped(), st.LastErr, handled)
	}
	// After Shutdown, spans are refused and counted, never queued.
	remove = d.AddSpanHandler(live)
	_, s := d.Start(context.Background(), "late", spans.StagePool)
	s.End()
	remove()
	if after := live.Stats(); after.Dropped != st.Dropped+1 || after.Ended != n+1 {
		t.Fatalf("span after Shutdown: %+v", after)
	}
}
