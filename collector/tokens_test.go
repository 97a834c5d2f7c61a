package collector_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/collector/analysis"
	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/spans"
)

// tokenTrace is shaped like the engine's traces: the query root and the
// synthesize span repeat the totals of the model calls below them, which
// must be counted once. One model call names no model; the embedding call
// reports embedding tokens. The spans come in the order a dispatcher ends
// them, children first.
func tokenTrace(start time.Time, n int) []spans.Span {
	tid := spans.NewTraceID()
	mk := func(parent spans.SpanID, name string, st spans.Stage, from, to time.Duration, attrs ...spans.Attribute) spans.Span {
		return spans.Span{TraceID: tid, SpanID: spans.NewSpanID(), ParentID: parent, Name: name, Stage: st,
			Start: start.Add(from), End: start.Add(to), Status: spans.StatusOK, Attrs: attrs}
	}
	p1, c1, p2, c2 := int64(100+n), int64(20+n), int64(200+2*n), int64(40+n)
	root := mk(spans.SpanID{}, "query", spans.StageQuery, 0, 100*time.Millisecond,
		spans.Int(spans.KeyLLMPromptTokens, int(p1+p2)), spans.Int(spans.KeyLLMCompletionTokens, int(c1+c2)))
	emb := mk(root.SpanID, "embed", spans.StageEmbed, 0, 5*time.Millisecond,
		spans.String(spans.KeyEmbeddingModel, "text-embedding-3-small"), spans.Int(spans.KeyEmbeddingTokens, 12+n))
	synth := mk(root.SpanID, "synthesize", spans.StageSynth, 10*time.Millisecond, 90*time.Millisecond,
		spans.Int(spans.KeyLLMPromptTokens, int(p1+p2)), spans.Int(spans.KeyLLMCompletionTokens, int(c1+c2)))
	l1 := mk(synth.SpanID, "llm", spans.StageLLM, 10*time.Millisecond, 40*time.Millisecond,
		spans.String(spans.KeyLLMModel, "gpt-4o-mini"), spans.Int(spans.KeyLLMPromptTokens, int(p1)), spans.Int(spans.KeyLLMCompletionTokens, int(c1)))
	l2 := mk(synth.SpanID, "llm", spans.StageLLM, 40*time.Millisecond, 90*time.Millisecond,
		spans.String(spans.KeyLLMModel, "gpt-4o-2024-08-06"), spans.Int(spans.KeyLLMPromptTokens, int(p2)), spans.Int(spans.KeyLLMCompletionTokens, int(c2)))
	// A tool's model call that names no model, beside the synthesis.
	tool := mk(root.SpanID, "tool", spans.StageTool, 90*time.Millisecond, 95*time.Millisecond,
		spans.Int(spans.KeyLLMPromptTokens, 7), spans.Int(spans.KeyLLMCompletionTokens, 3))
	return []spans.Span{emb, l1, l2, synth, tool, root}
}

// The token rollups count what the report counts: per stage and model, the
// same calls and tokens, and priced at read time the same dollars — from
// the stored rollups and from the traces read (TraceRollup), with traces
// straddling batches (a parent's children in an earlier batch).
func TestTokenSeriesCountsWhatTheReportCounts(t *testing.T) {
	ctx := context.Background()
	s, err := collector.OpenSQLite(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := collector.New(s, collector.WithBatchSize(4))
	defer c.Shutdown(ctx)
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range 30 {
		// Three minutes, ten traces each.
		for _, sp := range tokenTrace(base.Add(time.Duration(i)*6*time.Second), i) {
			c.Handler().SpanEnded(&sp)
		}
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	from, to := base, base.Add(3*time.Minute-time.Nanosecond)
	pts, err := s.TokenSeries(ctx, from, to, time.Minute, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 3 {
		t.Fatalf("%d points, want 3", len(pts))
	}
	loaded, err := s.LoadTraces(ctx, collector.TraceQuery{From: from, To: to, Limit: collector.MaxTraceLimit})
	if err != nil || len(loaded) != 30 {
		t.Fatalf("%d traces, %v", len(loaded), err)
	}
	traces := make([]analysis.Trace, len(loaded))
	for i, tr := range loaded {
		traces[i] = tr.Trace
	}
	prices := analysis.DefaultPrices()
	rep := analysis.Analyze(traces, analysis.WithPriceTable(prices))

	type key struct {
		stage spans.Stage
		model string
	}
	sum := func(pts []collector.TokenPoint) (map[key]collector.TokenUse, float64) {
		out := map[key]collector.TokenUse{}
		var usd float64
		for _, p := range pts {
			for _, u := range p.Use {
				k := key{u.Stage, u.Model}
				a := out[k]
				a.Calls += u.Calls
				a.Prompt += u.Prompt
				a.Completion += u.Completion
				a.Embedding += u.Embedding
				out[k] = a
				pr, _ := analysis.PriceOf(prices, u.Model)
				usd += pr.Cost(u.Prompt, u.Completion, u.Embedding)
			}
		}
		return out, usd
	}
	got, usd := sum(pts)
	if len(got) != len(rep.Cost) {
		t.Fatalf("rollups hold %d stage/model pairs, the report %d: %+v vs %+v", len(got), len(rep.Cost), got, rep.Cost)
	}
	for _, cs := range rep.Cost {
		g := got[key{cs.Stage, cs.Model}]
		if g.Calls != int64(cs.Calls) || g.Prompt != cs.PromptTokens || g.Completion != cs.CompletionTokens || g.Embedding != cs.EmbeddingTokens {
			t.Errorf("%s/%s: rollups %+v, report %+v", cs.Stage, cs.Model, g, cs)
		}
	}
	if u := got[key{spans.StageLLM, "gpt-4o-mini"}]; u.Calls != 30 || u.Prompt != 30*100+435 {
		t.Errorf("gpt-4o-mini: %+v", u)
	}
	if u := got[key{spans.StageTool, collector.UnknownModel}]; u.Calls != 30 || u.Prompt != 210 || u.Completion != 90 {
		t.Errorf("the unnamed model: %+v", u)
	}
	for _, st := range []spans.Stage{spans.StageQuery, spans.StageSynth} {
		for k := range got {
			if k.stage == st {
				t.Errorf("%s repeats its children's tokens and was counted: %+v", st, got[k])
			}
		}
	}
	if want := rep.CostTotalUSD; roundMicro(usd) != want || want == 0 {
		t.Errorf("rollups priced at $%.9f, the report $%.6f", usd, want)
	}
	// Each minute holds its own ten traces' tokens.
	for i, p := range pts {
		var calls int64
		for _, u := range p.Use {
			if u.Stage == spans.StageLLM {
				calls += u.Calls
			}
		}
		if calls != 20 || !p.Start.Equal(base.Add(time.Duration(i)*time.Minute)) {
			t.Errorf("point %d at %s: %d llm calls, want 20", i, p.Start, calls)
		}
	}

	// The traces read give the same series, point by point.
	rl, err := s.RollupTraces(ctx, collector.TraceQuery{From: from, To: to}, 0)
	if err != nil {
		t.Fatal(err)
	}
	own, err := rl.TokenSeries(from, to, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for i := range pts {
		if !slices.Equal(own[i].Use, pts[i].Use) {
			t.Errorf("point %d: traces read %+v, rollups %+v", i, own[i].Use, pts[i].Use)
		}
	}

}

func roundMicro(f float64) float64 { return float64(int64(f*1e6+0.5)) / 1e6 }

// A batch part of events alone, while a span with tokens waits for its
// parent, is written (it once indexed a span that was not there).
func TestEventsOnlyPartWhileTokensWaitForAParent(t *testing.T) {
	ctx := context.Background()
	s, err := collector.OpenSQLite(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := collector.New(s)
	defer c.Shutdown(ctx)
	now := time.Now().Add(-time.Minute)
	tid := spans.NewTraceID()
	child := spans.Span{TraceID: tid, SpanID: spans.NewSpanID(), ParentID: spans.NewSpanID(), Name: "llm", Stage: spans.StageLLM,
		Start: now, End: now.Add(time.Millisecond), Status: spans.StatusOK,
		Attrs: []spans.Attribute{spans.String(spans.KeyLLMModel, "gpt-4o"), spans.Int(spans.KeyLLMPromptTokens, 10)}}
	if err := c.Ingest(ctx, []spans.Span{child}, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	other := spans.NewTraceID()
	ev := event.Record{Header: event.Header{Time: now, TraceID: other, SpanID: spans.NewSpanID()}, Name: "note", Stage: spans.StageOther}
	if err := c.Ingest(ctx, nil, []event.Record{ev}); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if m := c.Metrics(); m.SpansWritten != 1 || m.EventsWritten != 1 {
		t.Fatalf("metrics %+v", m)
	}
}
