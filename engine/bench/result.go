package bench

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/stagescope/stagescope/spans/quantile"
)

// Result is what one configuration measured.
type Result struct {
	Config    Config
	RunID     string
	Questions int // questions asked
	Errors    int // queries that failed (counted as misses)
	// Elapsed is the wall time of the whole batch; Throughput is
	// Questions / Elapsed in queries per second.
	Elapsed    time.Duration
	Throughput float64
	// P50, P95 and P99 are percentiles of the query spans' durations
	// (nearest rank).
	P50, P95, P99 time.Duration
	// Tokens are summed over the successful queries.
	PromptTokens, CompletionTokens int64
	// HitRate is the fraction of questions whose expected document is among
	// the passages kept for synthesis (top_n after reranking); MRR is the
	// mean reciprocal rank of the first such passage (0 when absent).
	HitRate, MRR float64
	// OnFront is set by MarkFront.
	OnFront bool
}

// Summary is the JSON a run's summary is stored as. The dashboard's Runs page
// reads p50_ms, p95_ms, p99_ms, hit_rate, mrr and traces; the other fields
// are for people and scripts.
type Summary struct {
	P50Ms            float64 `json:"p50_ms"`
	P95Ms            float64 `json:"p95_ms"`
	P99Ms            float64 `json:"p99_ms"`
	HitRate          float64 `json:"hit_rate"`
	MRR              float64 `json:"mrr"`
	Traces           int     `json:"traces"`
	Errors           int     `json:"errors"`
	ThroughputQPS    float64 `json:"throughput_qps"`
	ElapsedMs        float64 `json:"elapsed_ms"`
	PromptTokens     int64   `json:"prompt_tokens"`
	CompletionTokens int64   `json:"completion_tokens"`
}

// RunConfig is the JSON a run's configuration is stored as.
type RunConfig struct {
	Config
	Questions int    `json:"questions"`
	Seed      uint64 `json:"seed"`
	Corpus    string `json:"corpus,omitempty"`
}

// Summary returns r in its stored form.
func (r Result) Summary() Summary {
	return Summary{
		P50Ms: ms(r.P50), P95Ms: ms(r.P95), P99Ms: ms(r.P99),
		HitRate: r.HitRate, MRR: r.MRR, Traces: r.Questions, Errors: r.Errors,
		ThroughputQPS: r.Throughput, ElapsedMs: ms(r.Elapsed),
		PromptTokens: r.PromptTokens, CompletionTokens: r.CompletionTokens,
	}
}

// MarshalJSON writes r in the project's one JSON style (the style of
// report --json and the API): snake_case keys, durations in milliseconds
// with an _ms suffix.
func (r Result) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		RunID   string `json:"run_id,omitempty"`
		Config  Config `json:"config"`
		Summary        // traces: the questions asked
		OnFront bool   `json:"on_pareto_front"`
	}{r.RunID, r.Config, r.Summary(), r.OnFront})
}

// SummaryJSON encodes r's summary.
func (r Result) SummaryJSON() json.RawMessage {
	b, _ := json.Marshal(r.Summary()) // plain numbers: cannot fail
	return b
}

// ms is d in milliseconds rounded to the microsecond.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// MarkFront sets OnFront on the results on the Pareto front of p95 latency
// against MRR, the dashboard's default axes.
func MarkFront(results []Result) {
	pts := make([]Point, len(results))
	for i, r := range results {
		pts[i] = Point{Latency: float64(r.P95), Quality: r.MRR}
	}
	for i, on := range ParetoFront(pts) {
		results[i].OnFront = on
	}
}

// latencies sorts ds and returns its p50, p95 and p99.
func latencies(ds []time.Duration) (p50, p95, p99 time.Duration) {
	slices.Sort(ds)
	return quantile.Of(ds, 0.50), quantile.Of(ds, 0.95), quantile.Of(ds, 0.99)
}
