package jaeger_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stagescope/stagescope/collector/jaeger"
	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/spans"
)

// fixture builds n traces of six spans each: a query root with every
// attribute kind and a tag, retrieve with an event and an embed child of
// another service, rerank, an LLM call that failed (with an exception
// event and a link to retrieve) and a dropped stream span. Times are whole
// microseconds, which both protocols keep exactly.
func fixture(n int, service string) []jaeger.Trace {
	base := time.Now().Add(-2 * time.Minute).Truncate(time.Microsecond).UTC()
	out := make([]jaeger.Trace, n)
	for i := range out {
		tid := spans.NewTraceID()
		at := func(us int) time.Time {
			return base.Add(time.Duration(i)*time.Second + time.Duration(us)*time.Microsecond)
		}
		tags := []spans.Tag{{Key: "tenant", Value: "acme"}}
		mk := func(name string, st spans.Stage, parent spans.SpanID, from, to int) *spans.Span {
			return &spans.Span{TraceID: tid, SpanID: spans.NewSpanID(), ParentID: parent, Name: name, Scope: "engine." + st.String(),
				Stage: st, Start: at(from), End: at(to), Status: spans.StatusOK, Tags: tags,
				Attrs: []spans.Attribute{spans.String(spans.KeyService, service)}}
		}
		root := mk("query", spans.StageQuery, spans.SpanID{}, 0, 90_000)
		root.Attrs = append(root.Attrs,
			spans.String(spans.KeyQueryText, fmt.Sprintf("how do channels work %d", i)),
			spans.Int64("big", math.MaxInt64-int64(i)), spans.Float64("ratio", 0.25), spans.Bool("cached", i%2 == 0),
			spans.Strings("docs", []string{"a", "b"}), spans.Int64s("ids", []int64{1, -2}), spans.Float64s("scores", []float64{0.5, 1.25}),
			spans.Bools("flags", []bool{true, false}))
		retrieve := mk("retrieve", spans.StageRetrieve, root.SpanID, 1_000, 21_000)
		retrieve.Attrs = append(retrieve.Attrs, spans.Int(spans.KeyRetrievalTopK, 5))
		embed := mk("embed", spans.StageEmbed, retrieve.SpanID, 1_500, 6_000)
		embed.Attrs = []spans.Attribute{spans.String(spans.KeyService, service+"-embedder"), spans.Int(spans.KeyEmbeddingTokens, 12)}
		rerank := mk("rerank", spans.StageRerank, root.SpanID, 21_000, 30_000)
		llm := mk("llm.chat", spans.StageLLM, root.SpanID, 30_000, 80_000)
		llm.Status, llm.Err = spans.StatusError, "rate limited"
		llm.Attrs = append(llm.Attrs, spans.String(spans.KeyLLMModel, "gpt-4o-mini"), spans.Int(spans.KeyLLMPromptTokens, 120))
		llm.Links = []spans.Link{{TraceID: tid, SpanID: retrieve.SpanID}}
		stream := mk("synth.stream", spans.StageSynth, root.SpanID, 80_000, 85_000)
		stream.Status, stream.Err = spans.StatusDropped, "stream closed early"
		out[i] = jaeger.Trace{
			Spans: []*spans.Span{llm, root, retrieve, embed, rerank, stream}, // any order
			Events: []event.Record{
				{Header: event.Header{Time: at(20_000), TraceID: tid, SpanID: retrieve.SpanID}, Name: "retrieval.end", Stage: spans.StageRetrieve,
					Attrs: []spans.Attribute{spans.Int("retrieval.top_k", 5), spans.Strings("retrieval.document_ids", []string{"d1", "d2"})}},
				{Header: event.Header{Time: at(79_000), TraceID: tid, SpanID: llm.SpanID}, Name: "exception", Stage: spans.StageLLM,
					Attrs: []spans.Attribute{spans.String("exception.message", "rate limited"), spans.Bool("exception.panic", false)}},
			},
		}
	}
	return out
}

// waitTrace polls Jaeger until the trace has want spans: Jaeger stores
// batches asynchronously.
func waitTrace(t *testing.T, qc *jaeger.QueryClient, id spans.TraceID, want int) jaeger.Trace {
	t.Helper()
	var last jaeger.Trace
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		last, err = qc.GetTrace(context.Background(), id)
		if err == nil && len(last.Spans) >= want {
			return last
		}
	}
	t.Fatalf("trace %s: %d spans in Jaeger, want %d (last error %v)", id, len(last.Spans), want, err)
	return last
}

// sameValue compares an attribute sent with the one read back; thrift
// carries slices as JSON text.
func sameValue(sent, got spans.Value, slicesAsJSON bool) bool {
	if slicesAsJSON && sent.Kind() >= spans.KindStringSlice {
		b, _ := json.Marshal(sent.AsAny())
		return got.Kind() == spans.KindString && got.AsString() == string(b)
	}
	return sent.Equal(got)
}

// checkRoundTrip asserts that got holds the spans and events of want with
// the same IDs, parents, names, stages, status, times, tags, attributes,
// links and events.
func checkRoundTrip(t *testing.T, want, got jaeger.Trace, thrift bool) {
	t.Helper()
	if got.ID() != want.ID() || len(got.Spans) != len(want.Spans) {
		t.Fatalf("trace %s: got %s with %d spans, want %d", want.ID(), got.ID(), len(got.Spans), len(want.Spans))
	}
	byID := map[spans.SpanID]*spans.Span{}
	for _, s := range got.Spans {
		byID[s.SpanID] = s
	}
	for _, w := range want.Spans {
		g := byID[w.SpanID]
		if g == nil {
			t.Errorf("span %s %s missing", w.Name, w.SpanID)
			continue
		}
		if g.TraceID != w.TraceID || g.ParentID != w.ParentID || g.Name != w.Name || g.Stage != w.Stage || g.Scope != w.Scope {
			t.Errorf("span %s: got trace %s parent %s name %q stage %v scope %q; want %s %s %q %v %q",
				w.Name, g.TraceID, g.ParentID, g.Name, g.Stage, g.Scope, w.TraceID, w.ParentID, w.Name, w.Stage, w.Scope)
		}
		if g.Status != w.Status || g.Err != w.Err {
			t.Errorf("span %s: status %v %q, want %v %q", w.Name, g.Status, g.Err, w.Status, w.Err)
		}
		if !g.Start.Equal(w.Start) || !g.End.Equal(w.End) {
			t.Errorf("span %s: times %v–%v, want %v–%v", w.Name, g.Start, g.End, w.Start, w.End)
		}
		if len(g.Tags) != len(w.Tags) || (len(w.Tags) > 0 && g.Tags[0] != w.Tags[0]) {
			t.Errorf("span %s: tags %v, want %v", w.Name, g.Tags, w.Tags)
		}
		for _, a := range w.Attrs {
			v, ok := g.Attr(a.Key)
			if !ok || !sameValue(a.Value, v, thrift) {
				t.Errorf("span %s: attribute %s = %v (%v), want %v (%v)", w.Name, a.Key, v.Emit(), v.Kind(), a.Value.Emit(), a.Value.Kind())
			}
		}
		if len(g.Links) != len(w.Links) || (len(w.Links) > 0 && (g.Links[0].SpanID != w.Links[0].SpanID || g.Links[0].TraceID != w.Links[0].TraceID)) {
			t.Errorf("span %s: links %v, want %v", w.Name, g.Links, w.Links)
		}
	}
	if len(got.Events) != len(want.Events) {
		t.Fatalf("trace %s: %d events, want %d", want.ID(), len(got.Events), len(want.Events))
	}
	gotEv := map[string]event.Record{}
	for _, e := range got.Events {
		gotEv[e.Name] = e
	}
	for _, w := range want.Events {
		g, ok := gotEv[w.Name]
		if !ok || g.SpanID != w.SpanID || !g.Time.Equal(w.Time) || g.Stage != w.Stage {
			t.Errorf("event %s: got %+v, want on span %s at %v", w.Name, g.Header, w.SpanID, w.Time)
			continue
		}
		for _, a := range w.Attrs {
			var found bool
			for _, b := range g.Attrs {
				if b.Key == a.Key {
					found = sameValue(a.Value, b.Value, thrift)
				}
			}
			if !found {
				t.Errorf("event %s: attribute %s lost or changed: %v", w.Name, a.Key, g.Attrs)
			}
		}
	}
}
