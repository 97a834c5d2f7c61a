package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/collector/analysis"
	"github.com/stagescope/stagescope/handlers"
	"github.com/stagescope/stagescope/spans"
	"github.com/stagescope/stagescope/spans/semconv"
)

const unpricedModel = "house-model-x"

// pricedTraces adds engine-shaped traces to the seeded store: the query
// and synthesize spans repeat the totals of their model calls (counted
// once), one call per trace is to a model without a price, and the second
// call starts in the next minute.
func pricedTraces(t *testing.T, s *seeded) {
	t.Helper()
	ctx := context.Background()
	for i := range 10 {
		tid := spans.NewTraceID()
		start := s.base.Add(time.Duration(i)*time.Minute + 50*time.Second)
		mk := func(parent spans.SpanID, name string, st spans.Stage, from, d time.Duration, attrs ...spans.Attribute) spans.Span {
			return spans.Span{TraceID: tid, SpanID: spans.NewSpanID(), ParentID: parent, Name: name, Stage: st,
				Start: start.Add(from), End: start.Add(from + d), Status: spans.StatusOK,
				Attrs: append([]spans.Attribute{spans.String(spans.KeyService, "rag-api")}, attrs...)}
		}
		p1, c1, p2, c2 := 500+7*i, 60+i, 300+i, 30
		root := mk(spans.SpanID{}, "query: priced", spans.StageQuery, 0, 20*time.Second,
			spans.Int(spans.KeyLLMPromptTokens, p1+p2), spans.Int(spans.KeyLLMCompletionTokens, c1+c2))
		synth := mk(root.SpanID, "synthesize", spans.StageSynth, time.Second, 18*time.Second,
			spans.Int(spans.KeyLLMPromptTokens, p1+p2), spans.Int(spans.KeyLLMCompletionTokens, c1+c2))
		l1 := mk(synth.SpanID, "chat", spans.StageLLM, time.Second, 5*time.Second,
			spans.String(spans.KeyLLMModel, "gpt-4o"), spans.Int(spans.KeyLLMPromptTokens, p1), spans.Int(spans.KeyLLMCompletionTokens, c1))
		l2 := mk(synth.SpanID, "chat", spans.StageLLM, 12*time.Second, 6*time.Second,
			spans.String(spans.KeyLLMModel, unpricedModel), spans.Int(spans.KeyLLMPromptTokens, p2), spans.Int(spans.KeyLLMCompletionTokens, c2))
		if err := s.coll.Ingest(ctx, []spans.Span{l1, l2, synth, root}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.coll.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// costPoint is what a step of the cost chart should hold, computed from
// the spans themselves.
type costPoint struct {
	in, out int64
	usd     float64
	stage   map[string]float64
}

// expectedCost sums analysis.PriceOf over the spans of the window that
// start in each step, counting a span's tokens only when no span below it
// reports any (the report's rule), written here independently of the
// collector's.
func expectedCost(t *testing.T, s *seeded, from time.Time, step time.Duration, n int, prices map[string]analysis.Price) []costPoint {
	t.Helper()
	traces, err := s.store.LoadTraces(context.Background(), collector.TraceQuery{From: from, To: from.Add(time.Duration(n) * step), Limit: collector.MaxTraceLimit})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]costPoint, n)
	for i := range out {
		out[i].stage = map[string]float64{}
	}
	for _, tr := range traces {
		kids := map[spans.SpanID][]int{}
		for i, sp := range tr.Spans {
			kids[sp.ParentID] = append(kids[sp.ParentID], i)
		}
		var below func(i int) bool // a span below i reports tokens
		below = func(i int) bool {
			for _, k := range kids[tr.Spans[i].SpanID] {
				if !semconv.UsageOf(tr.Spans[k]).Zero() || below(k) {
					return true
				}
			}
			return false
		}
		for i := range tr.Spans {
			sp := tr.Spans[i]
			u := semconv.UsageOf(sp)
			if u.Zero() || below(i) {
				continue
			}
			k := int(sp.Start.Sub(from) / step)
			if k < 0 || k >= n {
				continue
			}
			model := semconv.Model(sp)
			if model == "" {
				model = collector.UnknownModel
			}
			p, _ := analysis.PriceOf(prices, model)
			c := p.Cost(u.Prompt, u.Completion, u.Embedding)
			out[k].in += u.Prompt + u.Embedding
			out[k].out += u.Completion
			out[k].usd += c
			out[k].stage[sp.Stage.String()] += c
		}
	}
	return out
}

// sameUSD allows for the order of a floating-point sum only.
func sameUSD(a, b float64) bool { return math.Abs(a-b) <= 1e-12*math.Max(1, math.Abs(b)) }

// The Overview's cost chart draws the API's numbers, and the API's numbers
// are the sum of analysis.PriceOf over the spans of each step; the window's
// total is the report's cost. A model without a price is named.
func TestCostOverTimeInBrowser(t *testing.T) {
	bin := chromium(t)
	s := newSeeded(t)
	pricedTraces(t, s)
	from, to := s.base, s.base.Add(45*time.Minute)
	q := fmt.Sprintf("from=%d&to=%d", from.UnixMilli(), to.UnixMilli())
	var ts handlers.Series
	s.getJSON("/api/timeseries?"+q, 200, &ts)
	if ts.StepMs != 60_000 || len(ts.Points) != 46 {
		t.Fatalf("step %d ms, %d points", ts.StepMs, len(ts.Points))
	}
	want := expectedCost(t, s, from, time.Minute, len(ts.Points), analysis.DefaultPrices())
	var total float64
	var llmSteps int
	for i, p := range ts.Points {
		w := want[i]
		if p.TokensIn != w.in || p.TokensOut != w.out || !sameUSD(p.CostUSD, w.usd) {
			t.Errorf("step %d: API in %d out %d $%.12f, spans say in %d out %d $%.12f", i, p.TokensIn, p.TokensOut, p.CostUSD, w.in, w.out, w.usd)
		}
		if len(p.StageCostUSD) != len(w.stage) {
			t.Errorf("step %d: stage costs %v, want %v", i, p.StageCostUSD, w.stage)
		}
		for st, c := range w.stage {
			if !sameUSD(p.StageCostUSD[st], c) {
				t.Errorf("step %d stage %s: $%.12f, want $%.12f", i, st, p.StageCostUSD[st], c)
			}
		}
		if _, ok := p.StageCostUSD["synth"]; ok {
			t.Errorf("step %d: synthesize repeats its calls' tokens and was priced", i)
		}
		if w.stage["llm"] > 0 {
			llmSteps++
		}
		total += p.CostUSD
	}
	// Every minute holds a seeded gpt-4o-mini call, the first ten also a
	// gpt-4o call: the numbers are not all alike.
	if llmSteps != seedTotal || want[0].usd <= want[20].usd || want[20].usd <= 0 {
		t.Fatalf("%d steps with model calls; step 0 $%v, step 20 $%v", llmSteps, want[0].usd, want[20].usd)
	}
	if len(ts.Unpriced) != 1 || ts.Unpriced[0] != unpricedModel {
		t.Errorf("unpriced %q", ts.Unpriced)
	}
	// The window's total is what the report counts.
	var rep struct {
		Report analysis.Report `json:"report"`
	}
	s.getJSON("/api/report?"+q, 200, &rep)
	if got := math.Round(total*1e6) / 1e6; got != rep.Report.CostTotalUSD {
		t.Errorf("series total $%.6f, report $%.6f", got, rep.Report.CostTotalUSD)
	}

	b := startBrowser(t, bin, s)
	b.open("overview?"+q, "overview")
	b.waitFor("the cost chart", `!!document.querySelector('.cost-chart .uplot') && !!document.querySelector('.tokens-chart .uplot')`)
	var drawn struct {
		Cost, Tokens struct {
			Xs     []float64 `json:"xs"`
			Series []struct {
				Label  string    `json:"label"`
				Values []float64 `json:"values"`
			} `json:"series"`
		}
	}
	js, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`JSON.stringify({cost: document.querySelector('.cost-chart').plotData, tokens: document.querySelector('.tokens-chart').plotData})`))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(js), &drawn); err != nil {
		t.Fatal(err)
	}
	if len(drawn.Cost.Xs) != len(ts.Points) {
		t.Fatalf("cost chart has %d points, the API %d", len(drawn.Cost.Xs), len(ts.Points))
	}
	series := map[string][]float64{}
	for _, sr := range drawn.Cost.Series {
		series[sr.Label] = sr.Values
	}
	for _, sr := range drawn.Tokens.Series {
		series["tokens "+sr.Label] = sr.Values
	}
	if len(series) != 5 { // total, embed, llm; input, output
		t.Errorf("series drawn: %v", keys(series))
	}
	for i, p := range ts.Points {
		if drawn.Cost.Xs[i] != float64(p.T)/1000 {
			t.Errorf("point %d drawn at %v, API %d", i, drawn.Cost.Xs[i], p.T)
		}
		if series["total"][i] != p.CostUSD || series["llm"][i] != p.StageCostUSD["llm"] || series["embed"][i] != p.StageCostUSD["embed"] {
			t.Errorf("point %d drawn $%v (llm $%v, embed $%v), API $%v %v", i, series["total"][i], series["llm"][i], series["embed"][i], p.CostUSD, p.StageCostUSD)
		}
		if series["tokens input"][i] != float64(p.TokensIn) || series["tokens output"][i] != float64(p.TokensOut) {
			t.Errorf("point %d drawn tokens %v/%v, API %d/%d", i, series["tokens input"][i], series["tokens output"][i], p.TokensIn, p.TokensOut)
		}
	}
	if got, want := b.text(`.stat[data-stat="cost"] .stat-value`), usdText(total); got != want {
		t.Errorf("cost card %q, want %q", got, want)
	}
	if got := b.viewText(); !strings.Contains(got, "No price for "+unpricedModel) {
		t.Errorf("the unpriced model is not named: %.300s", got)
	}
	b.shot("overview-cost")
	b.checkClean("cost over time")
}

// usdText formats as format.js's usd does.
func usdText(v float64) string {
	switch {
	case v == 0:
		return "$0"
	case v < 0.01:
		return "$" + strconv.FormatFloat(v, 'g', 2, 64)
	}
	return "$" + strconv.FormatFloat(v, 'f', 2, 64)
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
