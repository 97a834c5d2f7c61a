package analysis

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stagescope/stagescope/spans"
)

func TestWriteTextShowsStagesPathAndFindings(t *testing.T) {
	var traces []Trace
	for i := range 20 {
		b := newTrace()
		q := b.span(nil, "query", spans.StageQuery, 0, 30)
		b.span(q, "rerank", spans.StageRerank, 1, 11+float64(i%3))
		traces = append(traces, b.trace())
	}
	var sb strings.Builder
	if err := Analyze(traces).WriteText(&sb, "test.db"); err != nil {
		t.Fatal(err)
	}
	out := sb.String()
	for _, want := range []string{"Bottleneck report — 20 traces, 40 spans (test.db)", "STAGE", "rerank", "query", "Critical path", "Findings:", "1. ["} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
	sb.Reset()
	if err := Analyze(nil).WriteText(&sb, "empty.db"); err != nil || !strings.Contains(sb.String(), "No traces in the selection.") {
		t.Fatalf("empty report: %v\n%s", err, sb.String())
	}
}

// textSections names, for every field of Report, what the text report
// prints for it. A field added to Report without a text section fails
// TestWriteTextCarriesEverySection.
var textSections = map[string]string{
	"Traces": " traces, ", "Spans": " spans (", "SlowQuantile": "(share of slow traces ≥ p95)",
	"E2E": textE2E, "Stages": textStages, "CriticalPath": textPath, "Pools": textPools, "Retries": textRetries,
	"Cost": textCost, "CostTotalUSD": " in all", "UnpricedModels": textUnpriced, "Tail": textTail, "WhatIf": textWhatIf,
	"Gains": textGains, "Errors": textErrors, "Anomalies": textAnomalies, "Weighting": textWeighting, "Findings": textFindings,
	"Streaming": textStreaming,
}

func TestWriteTextCarriesEverySection(t *testing.T) {
	var traces []Trace
	for i := range 30 {
		switch i % 6 {
		case 0:
			traces = append(traces, poolTrace(false))
		case 1:
			traces = append(traces, retryTrace(true))
		case 2:
			traces = append(traces, costTrace())
		case 3:
			traces = append(traces, rerankTrace(true, false).trace())
		case 4:
			traces = append(traces, rerankTrace(false, true).trace())
		default:
			o := newTrace()
			q := o.span(nil, "query", spans.StageQuery, 0, 100)
			o.span(&spans.Span{SpanID: spans.SpanID{0xee}}, "llm", spans.StageLLM, 10, 90+float64(i))
			// A streamed call: its time to first token is analysed.
			o.span(q, "llm stream", spans.StageLLM, 91+float64(i), 99+float64(i),
				spans.Bool("llm.stream", true), spans.Int64("llm.ttft_ns", 3_000_000))
			traces = append(traces, o.trace())
		}
	}
	r := Analyze(traces, WithSample(msDur(500), 0.25), WithPriceTable(map[string]Price{"gpt-4o-mini": {PromptPerMTok: 1}}))
	var sb strings.Builder
	if err := r.WriteText(&sb, "all.db"); err != nil {
		t.Fatal(err)
	}
	out := sb.String()
	rt := reflect.TypeOf(*r)
	for i := range rt.NumField() {
		f := rt.Field(i)
		heading, ok := textSections[f.Name]
		if !ok {
			t.Errorf("Report.%s (json %q) has no section in the text report: print it in WriteText and name it in textSections", f.Name, f.Tag.Get("json"))
			continue
		}
		if !strings.Contains(out, heading) {
			t.Errorf("text report lacks the %s section (%q):\n%s", f.Name, heading, out)
		}
	}
	// Exemplars are printed with the findings and the tail.
	if !strings.Contains(out, "   exemplars: "+r.Findings[0].Exemplars[0].String()) || !strings.Contains(out, "µs") {
		t.Errorf("text report lacks exemplars or microseconds:\n%s", out)
	}
}

func TestTextDurationsStayReadable(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0"}, {850, "850ns"}, {27 * time.Microsecond, "27µs"}, {27_400, "27µs"}, {410 * time.Microsecond, "410µs"}, {999_499, "999µs"}, {999_600, "1ms"},
		{3_414_000, "3.41ms"}, {182_449_000, "182.4ms"}, {1_204_000_000, "1.2s"}, {-9 * time.Microsecond, "-9µs"},
	} {
		if got := dur(c.d); got != c.want {
			t.Errorf("dur(%d) = %q, want %q", c.d, got, c.want)
		}
	}
}
