package analysis

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stagescope/stagescope/spans"
)

func TestReportJSON(t *testing.T) {
	p := basePipeline(5)
	p.failures, p.backoff = 1, 5
	r := Analyze(p.traces(50))
	raw, err := json.Marshal(r)
	if err != nil {
		t.Fatalf("marshal report: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("unmarshal report: %v", err)
	}
	for _, k := range []string{"traces", "spans", "e2e", "stages", "critical_path", "pools", "retries", "cost", "tail", "what_if", "findings", "unpriced_models"} {
		if _, ok := m[k]; !ok {
			t.Errorf("report JSON lacks %q", k)
		}
	}
	e2e := m["e2e"].(map[string]any)
	if e2e["p95_ms"].(float64) <= 0 || e2e["p95_ns"].(float64) != float64(r.E2E.P95) {
		t.Fatalf("e2e JSON = %v", e2e)
	}
	if st := m["stages"].([]any)[0].(map[string]any)["stage"]; st != "pool" {
		t.Fatalf("stages[0].stage = %v, want the name pool", st)
	}
	if !strings.Contains(string(raw), `"exemplars":["ab`) {
		t.Fatalf("exemplar trace ids are not hex strings")
	}
	// A round trip gives the same report.
	var back Report
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatalf("unmarshal into Report: %v", err)
	}
	again, _ := json.Marshal(&back)
	if string(again) != string(raw) {
		t.Fatalf("round trip changed the report")
	}
}

func TestReportStableOrder(t *testing.T) {
	traces := basePipeline(8).traces(60)
	a, _ := json.Marshal(Analyze(traces))
	b, _ := json.Marshal(Analyze(traces))
	if string(a) != string(b) {
		t.Fatalf("two analyses of the same traces differ")
	}
}

func TestEmptyReport(t *testing.T) {
	for _, in := range [][]Trace{nil, {{}}, {{Spans: []*spans.Span{nil}}}} {
		r := Analyze(in)
		raw, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		if r.Traces != 0 || strings.Contains(string(raw), "null") {
			t.Fatalf("empty report = %s", raw)
		}
	}
	c := Compare(nil, basePipeline(1).traces(3))
	if len(c.Regressions) != 0 {
		t.Fatalf("comparison against nothing flagged %v", c.Regressions)
	}
	if _, err := json.Marshal(c); err != nil {
		t.Fatalf("marshal comparison: %v", err)
	}
}

func TestDegenerateSpans(t *testing.T) {
	b := newTrace()
	q := b.span(nil, "query", spans.StageQuery, 0, 10)
	backwards := b.span(q, "backwards", spans.StageLLM, 2, 2)
	backwards.End = backwards.End.AddDate(-1000, 0, 0) // ends before it starts
	open := b.span(q, "open", spans.StageLLM, 3, 3)
	open.End = time.Time{} // never ended
	weird := b.span(q, "weird", spans.Stage(200), 4, 6,
		spans.Int64(spans.KeyPoolQueueNanos, -5), spans.String(spans.KeyLLMPromptTokens, "many"),
		spans.Int(spans.KeyRetryAttempt, 1))
	weird.Status = spans.StatusError
	r := Analyze([]Trace{b.trace()}, WithSlowQuantile(7), WithMaxExemplars(-1), WithWhatIf(spans.Stage(99), 2))
	if r.Traces != 1 || r.Spans != 4 || r.E2E.P50 != msDur(10) || r.SlowQuantile != DefaultSlowQuantile {
		t.Fatalf("report = %+v", r)
	}
	if _, ok := stageStats(r, spans.StageOther); !ok {
		t.Fatalf("an unknown stage must be folded into other: %+v", r.Stages)
	}
	if _, err := json.Marshal(r); err != nil {
		t.Fatalf("marshal: %v", err)
	}
}

func TestDegenerateSpansZeroDurations(t *testing.T) {
	b := newTrace()
	q := b.span(nil, "query", spans.StageQuery, 0, 10)
	b.span(q, "backwards", spans.StageLLM, 5, 1)
	r := Analyze([]Trace{b.trace()})
	if ss, _ := stageStats(r, spans.StageLLM); ss.Total.Max != 0 || ss.Self.Max != 0 {
		t.Fatalf("a span ending before it starts must count as 0: %+v", ss)
	}
	if c, _ := stageCP(r, spans.StageQuery); c.MeanPerTrace != msDur(10) {
		t.Fatalf("query on path %v, want all 10ms", c.MeanPerTrace)
	}
}
