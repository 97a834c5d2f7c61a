package otelbridge_test

import (
	"context"
	"errors"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"

	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/dispatcher/otelbridge"
	"github.com/stagescope/stagescope/spans"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func setup(t *testing.T, d *dispatcher.Dispatcher, idgen bool) (*tracetest.InMemoryExporter, *otelbridge.Bridge) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	opts := []sdktrace.TracerProviderOption{sdktrace.WithSyncer(exp), sdktrace.WithSampler(sdktrace.AlwaysSample())}
	if idgen {
		opts = append(opts, sdktrace.WithIDGenerator(otelbridge.IDGenerator()))
	}
	tp := sdktrace.NewTracerProvider(opts...)
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	br := otelbridge.New(tp)
	t.Cleanup(d.AddSpanHandler(br))
	t.Cleanup(d.AddEventHandler(br))
	return exp, br
}

func attrMap(kvs []attribute.KeyValue) map[string]attribute.Value {
	m := map[string]attribute.Value{}
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value
	}
	return m
}

func runQuery(d *dispatcher.Dispatcher) (root, llm *dispatcher.Span) {
	ctx := spans.WithTags(context.Background(), spans.Tag{Key: "tenant", Value: "acme"})
	ctx, q := d.Start(ctx, "query", spans.StageQuery)
	rctx, r := d.Start(ctx, "retrieve", spans.StageRetrieve, spans.Int(spans.KeyRetrievalTopK, 5))
	d.Emit(rctx, &event.RetrievalEnd{Query: "q", TopK: 5, Docs: []event.ScoredDoc{{ID: "d1", Score: 0.9}}})
	r.End()
	lctx, l := d.Start(ctx, "llm.chat", spans.StageLLM)
	l.SetAttributes(spans.String(spans.KeyLLMModel, "gpt-4o-mini"), spans.Int(spans.KeyLLMPromptTokens, 120), spans.Int(spans.KeyLLMCompletionTokens, 30))
	d.Emit(lctx, &event.LLMEnd{Model: "gpt-4o-mini", PromptTokens: 120, CompletionTokens: 30})
	l.EndErr(errors.New("rate limited"))
	q.End()
	return q, l
}

func TestBridgeProducesExpectedOTelSpans(t *testing.T) {
	d := dispatcher.Get("bridge1")
	exp, br := setup(t, d, true)
	q, l := runQuery(d)

	got := exp.GetSpans()
	if len(got) != 3 {
		t.Fatalf("%d OTel spans, want 3", len(got))
	}
	byName := map[string]tracetest.SpanStub{}
	for _, s := range got {
		byName[s.Name] = s
	}
	qs, rs, ls := byName["query"], byName["retrieve"], byName["llm.chat"]
	// IDs are stagescope's own.
	if qs.SpanContext.TraceID() != [16]byte(q.SpanContext().TraceID) || qs.SpanContext.SpanID() != [8]byte(q.SpanContext().SpanID) {
		t.Fatal("query span IDs differ from stagescope's")
	}
	if ls.SpanContext.SpanID() != [8]byte(l.SpanContext().SpanID) {
		t.Fatal("llm span ID differs")
	}
	if rs.Parent.SpanID() != qs.SpanContext.SpanID() || ls.Parent.SpanID() != qs.SpanContext.SpanID() || qs.Parent.IsValid() {
		t.Fatal("parent links wrong")
	}
	// Timestamps are the stagescope ones.
	if !qs.StartTime.Equal(q.Record().Start) || !qs.EndTime.Equal(q.Record().End) {
		t.Fatal("timestamps not carried over")
	}
	la := attrMap(ls.Attributes)
	checks := map[string]any{
		"stagescope.stage": "llm", "openinference.span.kind": "LLM", "gen_ai.operation.name": "chat",
		"gen_ai.request.model": "gpt-4o-mini", "gen_ai.usage.input_tokens": int64(120), "gen_ai.usage.output_tokens": int64(30),
		"llm.token_count.prompt": int64(120), "tag.tenant": "acme",
	}
	for k, want := range checks {
		if v, ok := la[k]; !ok || v.AsInterface() != want {
			t.Errorf("llm attr %s = %v, want %v", k, v.AsInterface(), want)
		}
	}
	if ls.InstrumentationScope.Name != "bridge1" || ls.SpanKind != trace.SpanKindInternal {
		t.Errorf("llm scope %q kind %v, want the dispatcher's name and internal", ls.InstrumentationScope.Name, ls.SpanKind)
	}
	if _, ok := la["stagescope.scope"]; ok {
		t.Error("scope written as an attribute too")
	}
	if ls.Status.Code != codes.Error || ls.Status.Description != "rate limited" {
		t.Errorf("llm status %+v", ls.Status)
	}
	if qs.Status.Code != codes.Ok {
		t.Errorf("query status %+v", qs.Status)
	}
	if ra := attrMap(rs.Attributes); ra["openinference.span.kind"].AsString() != "RETRIEVER" || ra[spans.KeyRetrievalTopK].AsInt64() != 5 {
		t.Errorf("retrieve attrs %v", rs.Attributes)
	}
	// Events land on the span that was current.
	if len(rs.Events) != 1 || rs.Events[0].Name != "retrieval.end" {
		t.Fatalf("retrieve events %+v", rs.Events)
	}
	ev := attrMap(rs.Events[0].Attributes)
	if ids := ev["retrieval.document_ids"].AsStringSlice(); len(ids) != 1 || ids[0] != "d1" {
		t.Errorf("event attrs %v", rs.Events[0].Attributes)
	}
	// The error also produced an exception event on the llm span.
	names := []string{}
	for _, e := range ls.Events {
		names = append(names, e.Name)
	}
	if len(names) != 2 || names[0] != "llm.end" || names[1] != "exception" {
		t.Errorf("llm events %v", names)
	}
	if br.OrphanEvents() != 0 {
		t.Errorf("orphan events %d", br.OrphanEvents())
	}
}

func TestBridgeWithoutIDGeneratorKeepsStructure(t *testing.T) {
	d := dispatcher.Get("bridge2")
	exp, _ := setup(t, d, false)
	runQuery(d)
	got := exp.GetSpans()
	byName := map[string]tracetest.SpanStub{}
	for _, s := range got {
		byName[s.Name] = s
	}
	q := byName["query"]
	for _, n := range []string{"retrieve", "llm.chat"} {
		if byName[n].Parent.SpanID() != q.SpanContext.SpanID() || byName[n].SpanContext.TraceID() != q.SpanContext.TraceID() {
			t.Errorf("%s not a child of query", n)
		}
	}
}

func TestReplayStoredSpansInAnyOrder(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithIDGenerator(otelbridge.IDGenerator()))
	defer tp.Shutdown(context.Background())
	br := otelbridge.New(tp)

	rec := dispatcher.NewRecorder(0)
	d := dispatcher.Get("bridge3")
	defer d.AddSpanHandler(rec)()
	defer d.AddEventHandler(rec)()
	runQuery(d)
	stored := rec.Spans() // children end first: replay order is child before parent
	for _, s := range stored {
		var evs []event.Record
		for _, e := range rec.Events() {
			if e.EventHeader().SpanID == s.SpanID {
				evs = append(evs, event.ToRecord(e))
			}
		}
		br.Replay(s, evs)
	}
	got := exp.GetSpans()
	if len(got) != 3 {
		t.Fatalf("%d replayed spans", len(got))
	}
	for i, s := range got {
		want := stored[i]
		if s.SpanContext.SpanID() != [8]byte(want.SpanID) || s.Parent.SpanID() != [8]byte(want.ParentID) || s.SpanContext.TraceID() != [16]byte(want.TraceID) {
			t.Errorf("replayed %s ids/parent differ", s.Name)
		}
		if !s.StartTime.Equal(want.Start) || !s.EndTime.Equal(want.End) {
			t.Errorf("replayed %s times differ", s.Name)
		}
	}
	if len(got[0].Events) != 1 {
		t.Errorf("retrieve replay events %d", len(got[0].Events))
	}
}
