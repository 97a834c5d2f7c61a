package prom

import (
	"math"
	"testing"
	"time"
)

func TestQuantileInterpolatesLikeHistogramQuantile(t *testing.T) {
	b := buckets{}
	for le, c := range map[string]float64{"0.1": 5, "0.2": 15, "+Inf": 20} {
		if err := b.add(le, c); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct{ q, want float64 }{
		{0.1, 0.04}, // rank 2 of 5 in (0, 0.1]
		{0.25, 0.1}, // rank 5: the first bucket's top
		{0.5, 0.15}, // rank 10: 5 past 5 of 10 in (0.1, 0.2]
		{0.75, 0.2}, // rank 15: the second bucket's top
		{0.99, 0.2}, // rank 19.8 in +Inf: the highest finite bound
		{0.76, 0.2}, // likewise
		{0.3, 0.11}, // rank 6: 1 of 10 in (0.1, 0.2]
		{0.0, 0.0},  // rank 0: the first bucket's start
	} {
		if got := b.quantile(c.q); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("quantile(%v) = %v, want %v", c.q, got, c.want)
		}
	}
	if got := (buckets{}).quantile(0.5); !math.IsNaN(got) {
		t.Errorf("empty histogram: %v, want NaN", got)
	}
	if got := (buckets{0.1: 3, 0.2: 4}).quantile(0.5); !math.IsNaN(got) {
		t.Errorf("no +Inf bucket: %v, want NaN", got)
	}
	if got := (buckets{0.1: 0, math.Inf(1): 0}).quantile(0.5); !math.IsNaN(got) {
		t.Errorf("no observations: %v, want NaN", got)
	}
	// Sums of series scraped at different moments can dip; they are evened.
	if got := (buckets{0.1: 6, 0.2: 5, 0.3: 10, math.Inf(1): 10}).quantile(0.65); math.Abs(got-0.2125) > 1e-12 {
		t.Errorf("non-monotonic buckets: %v, want 0.2125", got)
	}
	if err := b.add("fast", 1); err == nil {
		t.Error("a bound that is not a number was accepted")
	}
}

func TestStepIncreases(t *testing.T) {
	from := time.Unix(1000, 0)
	step := 10 * time.Second
	at := func(k int) time.Time { return from.Add(time.Duration(k) * step) }
	cases := []struct {
		name   string
		times  []int
		values []float64
		want   []float64
	}{
		{"steady", []int{0, 1, 2, 3}, []float64{5, 7, 7, 10}, []float64{2, 0, 3}},
		{"appears inside", []int{2, 3}, []float64{4, 6}, []float64{0, 4, 2}},
		{"reset counts from zero", []int{0, 1, 2, 3}, []float64{5, 9, 2, 3}, []float64{4, 2, 1}},
		{"gap leaves the increase to the next sample", []int{0, 2, 3}, []float64{5, 9, 9}, []float64{0, 4, 0}},
		{"samples outside are ignored", []int{-1, 0, 4}, []float64{1, 2, 3}, []float64{0, 0, 0}},
	}
	for _, c := range cases {
		s := series{}
		for i, k := range c.times {
			s.times = append(s.times, at(k))
			s.values = append(s.values, c.values[i])
		}
		got := make([]float64, 3)
		stepIncreases(s, from, step, 3, func(i int, d float64) { got[i] += d })
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%s: increases %v, want %v", c.name, got, c.want)
				break
			}
		}
	}
}

func TestStageOfAppliesTheOneMapping(t *testing.T) {
	for _, c := range []struct {
		labels map[string]string
		want   string
	}{
		{map[string]string{"span_name": "ChatOpenAI", "stagescope_stage": "rerank", "openinference_span_kind": "LLM"}, "rerank"},
		{map[string]string{"span_name": "VectorStoreRetriever", "openinference_span_kind": "RETRIEVER"}, "retrieve"},
		{map[string]string{"span_name": "x", "gen_ai_operation_name": "embeddings"}, "embed"},
		{map[string]string{"span_name": "ai.generateText.doGenerate", "ai_operationId": "ai.generateText.doGenerate"}, "llm"},
		{map[string]string{"span_name": "openai.call", "gen_ai_request_model": "gpt-4o"}, "llm"},
		{map[string]string{"span_name": "vector search"}, "retrieve"},
		{map[string]string{"span_name": "retrieve-docs", "langfuse_observation_type": "retriever"}, "retrieve"},
		{map[string]string{"span_name": "qdrant.search", "db_system": "qdrant"}, "retrieve"},
		{map[string]string{"span_name": "pg.insert", "db_system_name": "postgresql"}, "storage"},
		{map[string]string{"span_name": "web", "traceloop_span_kind": "tool"}, "tool"},
		{map[string]string{"span_name": "handle request"}, "other"},
	} {
		if got := stageOf(c.labels).String(); got != c.want {
			t.Errorf("stageOf(%v) = %s, want %s", c.labels, got, c.want)
		}
	}
}

func TestFailedByStatusOrConvention(t *testing.T) {
	for _, c := range []struct {
		labels map[string]string
		want   bool
	}{
		{map[string]string{"status_code": "STATUS_CODE_ERROR"}, true},
		{map[string]string{"status_code": "STATUS_CODE_UNSET"}, false},
		{map[string]string{"status_code": "STATUS_CODE_UNSET", "langfuse_observation_level": "ERROR"}, true},
		{map[string]string{"status_code": "STATUS_CODE_OK", "langfuse_observation_level": "ERROR"}, false},
		{map[string]string{"status_code": "STATUS_CODE_UNSET", "langfuse_observation_level": "WARNING"}, false},
	} {
		if got := failed(c.labels); got != c.want {
			t.Errorf("failed(%v) = %v, want %v", c.labels, got, c.want)
		}
	}
}
