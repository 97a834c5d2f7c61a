package analysis

import (
	"time"

	"github.com/stagescope/stagescope/collector/tracetree"
	"github.com/stagescope/stagescope/spans"
)

// Report is the bottleneck analysis of a set of traces. Its JSON form is the
// contract with the API and the dashboard: fields are only ever added. Slices
// are never nil, so they encode as [] rather than null.
type Report struct {
	Traces       int     `json:"traces"`
	Spans        int     `json:"spans"`
	SlowQuantile float64 `json:"slow_quantile"`
	// E2E is the distribution of end-to-end latency (the root span's
	// duration, or the extent of the trace without a single root).
	E2E Percentiles `json:"e2e"`
	// Stages are in pipeline order; only stages seen are listed.
	Stages []StageStats `json:"stages"`
	// CriticalPath is each stage's share of the critical path, largest
	// slow-cohort contribution first.
	CriticalPath   []StageCP       `json:"critical_path"`
	Pools          []PoolStats     `json:"pools"`
	Retries        []RetryStats    `json:"retries"`
	Cost           []CostStats     `json:"cost"`
	CostTotalUSD   float64         `json:"cost_total_usd"`
	UnpricedModels []string        `json:"unpriced_models"`
	Tail           TailAttribution `json:"tail"`
	WhatIf         []WhatIf        `json:"what_if"`
	// Gains predicts, per stage on the critical path, the end-to-end gain
	// of making it DefaultWhatIfFactor× faster or removing it, and says
	// which stage sets the floor and which drives the tail; largest
	// predicted p95 gain first.
	Gains []StageGain `json:"gains"`
	// Errors is what failures did to the requests: which stage's failures
	// fail them, and how failed requests bend the latency figures.
	Errors ErrorStats `json:"errors"`
	// Streaming is the time to first token and stream duration of streamed
	// model calls, per stage and model, and how much of the wait it is.
	Streaming StreamingStats `json:"streaming"`
	// Anomalies counts the spans whose place in their trace had to be
	// interpreted: orphans, clock skew, fire-and-forget (package tracetree).
	Anomalies TraceAnomalies `json:"anomalies"`
	// Weighting says how the traces were weighted back to the window they
	// were sampled from (WithSample).
	Weighting Weighting `json:"weighting"`
	// Findings are ranked: critical error findings, then the bottlenecks
	// by the p95 the user would gain by making them faster (StageGain),
	// then the other error findings and the cost findings.
	Findings []Finding `json:"findings"`
}

// Weighting describes the weights of a sample drawn unevenly (WithSample):
// every trace at or above SlowThreshold, a fraction HashRate of the others.
// A trace below the threshold weighs 1/HashRate, a slow one 1; percentiles,
// means, shares, the slow cohort and predicted gains are weighted, span and
// trace counts are not.
type Weighting struct {
	Weighted        bool          `json:"weighted"`
	SlowThreshold   time.Duration `json:"slow_threshold_ns"`
	SlowThresholdMs float64       `json:"slow_threshold_ms"`
	HashRate        float64       `json:"hash_rate"`
	// SlowTraces are the analysed traces at or above SlowThreshold;
	// Represented is the traces' summed weight: how many traces of the
	// window the sample stands for.
	SlowTraces  int     `json:"slow_traces"`
	Represented float64 `json:"represented"`
}

// StageStats describes one stage: first what it costs a request, then its
// spans.
type StageStats struct {
	Stage spans.Stage `json:"stage"`
	// PerTrace is the primary figure: over the Traces that have the stage,
	// the distribution of the stage's cost in a request — the self time of
	// all its spans in the trace, summed (planted faults' spans included:
	// their delay is the request's cost). PerRequest is the mean of that
	// cost over all analysed requests, those without the stage counting 0.
	PerTrace     Percentiles   `json:"per_trace"`
	PerRequest   time.Duration `json:"per_request_ns"`
	PerRequestMs float64       `json:"per_request_ms"`
	Traces       int           `json:"traces"` // traces with at least one span of the stage
	// Count, Errors, Total and Self are per span, secondary: the stage's
	// spans, those that ended in error or were dropped, and the
	// distributions of span durations and span self times. Spans planted
	// faults ran in (fault.injected) are not among them: Injected counts
	// them and InjectedSelf is their self time.
	Count        int         `json:"count"`
	Errors       int         `json:"errors"`
	Total        Percentiles `json:"total"`
	Self         Percentiles `json:"self"`
	Injected     int         `json:"injected"`
	InjectedSelf Percentiles `json:"injected_self"`
	// SelfSum is the stage's self time over all traces (parallel spans each
	// count their own). ShareOfE2E is the fraction of end-to-end time during
	// which at least one span of the stage ran its own code: the union of
	// the stage's self intervals, clipped to each trace's extent, over the
	// summed end-to-end latency. It cannot exceed 1; stages running
	// concurrently with one another can still add up to more than 1.
	SelfSum    time.Duration `json:"self_sum_ns"`
	SelfSumMs  float64       `json:"self_sum_ms"`
	ShareOfE2E float64       `json:"share_of_e2e"`
}

// StageCP is a stage's contribution to the critical path.
type StageCP struct {
	Stage spans.Stage `json:"stage"`
	// MeanPerTrace and MeanPerSlowTrace are the path time charged to the
	// stage per trace, over all traces and over the slow cohort.
	MeanPerTrace       time.Duration `json:"mean_per_trace_ns"`
	MeanPerTraceMs     float64       `json:"mean_per_trace_ms"`
	MeanPerSlowTrace   time.Duration `json:"mean_per_slow_trace_ns"`
	MeanPerSlowTraceMs float64       `json:"mean_per_slow_trace_ms"`
	// Share is the stage's part of all critical-path time (= all end-to-end
	// time); SlowShare the same within the slow cohort.
	Share     float64 `json:"share"`
	SlowShare float64 `json:"slow_share"`
	// OnPath and SlowOnPath are the fractions of traces (of slow traces)
	// whose critical path passes through the stage.
	OnPath     float64 `json:"on_path"`
	SlowOnPath float64 `json:"slow_on_path"`
}

// PoolStats describes one worker pool (by pool.name).
type PoolStats struct {
	Name    string `json:"name"`
	Runs    int    `json:"runs"`    // pool spans
	Jobs    int    `json:"jobs"`    // job spans
	Workers int    `json:"workers"` // largest pool.workers seen (0 if unknown)
	// MaxJobsPerRun is the most jobs seen in one run.
	MaxJobsPerRun int         `json:"max_jobs_per_run"`
	QueueWait     Percentiles `json:"queue_wait"`
	RunTime       Percentiles `json:"run_time"`
	// QueueShare is queue wait / (queue wait + run time) over all jobs.
	QueueShare float64 `json:"queue_share"`
	// Utilisation is run time / (workers × pool wall time) over runs whose
	// workers are known; Busy is the mean number of jobs running and InSystem
	// the mean number queued or running (Little's law: arrival rate × time in
	// system).
	Utilisation float64 `json:"utilisation"`
	Busy        float64 `json:"busy"`
	InSystem    float64 `json:"in_system"`
	Saturated   bool    `json:"saturated"`
	// IdleWaitShare is the share of the queue wait (in runs whose workers
	// are known) that passed while fewer jobs ran than there were workers;
	// CPUContention is set for a saturated pool whose wait is mostly such
	// (≥ 50 %), or that never had more jobs at once than workers: the
	// workers waited for a CPU, and more workers would not help.
	IdleWaitShare float64 `json:"idle_wait_share"`
	CPUContention bool    `json:"cpu_contention"`
	// BatchTime is the mean measured wall time of a run (pool span); Model
	// predicts it for other worker counts, up to the largest batch (see
	// recommendWorkers).
	BatchTime   time.Duration     `json:"batch_time_ns"`
	BatchTimeMs float64           `json:"batch_time_ms"`
	Model       []BatchPrediction `json:"batch_model"`
	// RecommendedWorkers is the worker count that would serve the observed
	// demand without queueing (or without idling); 0 if it cannot be
	// derived.
	RecommendedWorkers int    `json:"recommended_workers"`
	Recommendation     string `json:"recommendation"`
}

// RetryStats describes the retried calls of one operation (by retry.op).
type RetryStats struct {
	Op    string      `json:"op"`
	Stage spans.Stage `json:"stage"` // the stage of the work being retried
	Calls int         `json:"calls"` // logical calls
	// Attempts counts all attempts; AttemptsPerCall is the amplification.
	Attempts        int     `json:"attempts"`
	AttemptsPerCall float64 `json:"attempts_per_call"`
	MaxAttempts     int     `json:"max_attempts"`
	FailedAttempts  int     `json:"failed_attempts"`
	// FailedAttemptShare is the share of attempts that failed (weighted
	// by the trace weights, as AttemptsPerCall, LostPerCall and the give-up
	// rates are; the counts and time totals are of the analysed traces).
	FailedAttemptShare float64 `json:"failed_attempt_share"`
	GaveUp             int     `json:"gave_up"`
	// FailedTime is spent in failed attempts, Backoff sleeping between
	// attempts; Lost is their sum, LostPerCall its mean per logical call.
	FailedTime    time.Duration `json:"failed_time_ns"`
	FailedTimeMs  float64       `json:"failed_time_ms"`
	Backoff       time.Duration `json:"backoff_ns"`
	BackoffMs     float64       `json:"backoff_ms"`
	Lost          time.Duration `json:"lost_ns"`
	LostMs        float64       `json:"lost_ms"`
	LostPerCall   time.Duration `json:"lost_per_call_ns"`
	LostPerCallMs float64       `json:"lost_per_call_ms"`
	// TokensLost and CostLostUSD are spent by failed attempts.
	TokensLost  int64   `json:"tokens_lost"`
	CostLostUSD float64 `json:"cost_lost_usd"`
	// GiveUpRate is the share of analysed requests in which a call gave
	// up; Caps predicts it for each attempt cap up to MaxAttempts, from the
	// attempts each request's calls needed. RecommendedCap and
	// Recommendation say what to do, with the predicted give-ups.
	GiveUpRate     float64    `json:"give_up_rate"`
	Caps           []RetryCap `json:"caps"`
	RecommendedCap int        `json:"recommended_cap"`
	Recommendation string     `json:"recommendation"`
}

// CostStats is the token use and cost of one stage and model.
type CostStats struct {
	Stage            spans.Stage `json:"stage"`
	Model            string      `json:"model"`
	Calls            int         `json:"calls"`
	PromptTokens     int64       `json:"prompt_tokens"`
	CompletionTokens int64       `json:"completion_tokens"`
	EmbeddingTokens  int64       `json:"embedding_tokens"`
	USD              float64     `json:"usd"`
	USDPerTrace      float64     `json:"usd_per_trace"`
	Priced           bool        `json:"priced"`
}

// TailAttribution explains the gap between the slow cohort and the rest.
type TailAttribution struct {
	Quantile    float64       `json:"quantile"`
	Threshold   time.Duration `json:"threshold_ns"`
	ThresholdMs float64       `json:"threshold_ms"`
	SlowTraces  int           `json:"slow_traces"`
	RestTraces  int           `json:"rest_traces"`
	SlowMean    time.Duration `json:"slow_mean_ns"`
	SlowMeanMs  float64       `json:"slow_mean_ms"`
	RestMean    time.Duration `json:"rest_mean_ns"`
	RestMeanMs  float64       `json:"rest_mean_ms"`
	Gap         time.Duration `json:"gap_ns"`
	GapMs       float64       `json:"gap_ms"`
	// Stages are ordered by how much of the gap they explain, most first.
	Stages []TailStage `json:"stages"`
	// Top is the stage explaining most of the gap (other when none).
	Top spans.Stage `json:"top"`
	// Exemplars are slow traces where Top weighs most.
	Exemplars []spans.TraceID `json:"exemplars"`
}

// TailStage is one stage's critical-path time in the slow cohort and the rest.
type TailStage struct {
	Stage      spans.Stage   `json:"stage"`
	SlowMean   time.Duration `json:"slow_mean_ns"`
	SlowMeanMs float64       `json:"slow_mean_ms"`
	RestMean   time.Duration `json:"rest_mean_ns"`
	RestMeanMs float64       `json:"rest_mean_ms"`
	Delta      time.Duration `json:"delta_ns"`
	DeltaMs    float64       `json:"delta_ms"`
	// ShareOfGap is Delta over the summed Delta of the stages whose path
	// time grew: the stage's part of the growth. It is at most 1, the
	// growing stages' shares add up to 1, and a stage that shrank has a
	// negative share. (Delta over Gap could exceed 1 when other stages
	// shrank.)
	ShareOfGap float64 `json:"share_of_gap"`
}

// TraceAnomalies counts the flagged spans of the analysed traces.
type TraceAnomalies struct {
	tracetree.Anomalies
	// Traces is how many traces have at least one flagged span; Exemplars
	// are the first of them.
	Traces    int             `json:"traces"`
	Exemplars []spans.TraceID `json:"exemplars"`
	// MissingRootShare is the share of requests (weighted) whose root span
	// never arrived (Anomalies.MissingRoot counts them);
	// MissingRootExemplars are the first of them.
	MissingRootShare     float64         `json:"missing_root_share"`
	MissingRootExemplars []spans.TraceID `json:"missing_root_exemplars"`
}

// WhatIf is the end-to-end latency if one stage's critical-path time were
// Factor× shorter. It assumes the critical path keeps its shape, so it is an
// optimistic bound: another branch may become critical.
type WhatIf struct {
	Stage    spans.Stage   `json:"stage"`
	Factor   float64       `json:"factor"`
	P50      time.Duration `json:"p50_ns"`
	P50Ms    float64       `json:"p50_ms"`
	P95      time.Duration `json:"p95_ns"`
	P95Ms    float64       `json:"p95_ms"`
	P95Now   time.Duration `json:"p95_now_ns"`
	P95NowMs float64       `json:"p95_now_ms"`
	// Gain is the relative drop of the p95 (0.25 = 25 % faster).
	Gain float64 `json:"gain"`
}

// Finding is one ranked observation with a recommendation.
type Finding struct {
	// Severity is "critical" (≥ 50 % of slow-trace latency), "warning"
	// (≥ 20 %) or "info".
	Severity string `json:"severity"`
	// Kind is "latency", "pool", "retry", "error", "ttft" (waiting for a
	// streamed model call's first token dominates) or "cost".
	Kind  string      `json:"kind"`
	Stage spans.Stage `json:"stage"`
	// Subject names the pool, retry operation or model when there is one.
	Subject string `json:"subject,omitempty"`
	// Score is the time the finding costs each slow trace.
	Score   time.Duration `json:"score_ns"`
	ScoreMs float64       `json:"score_ms"`
	// TailGain and P95Gain are the predicted drops of the mean latency of
	// the slow cohort (≥ p95) and of the p95 if the stage were
	// DefaultWhatIfFactor× faster (StageGain.Faster; a pool's or retry
	// operation's part of its stage's gain, in proportion to Score).
	// Latency, pool and retry findings are ranked by TailGain, then
	// P95Gain, then Score: the p95 alone cannot see a delay on fewer
	// requests than the 5% above it.
	TailGain   time.Duration `json:"tail_gain_ns"`
	TailGainMs float64       `json:"tail_gain_ms"`
	P95Gain    time.Duration `json:"p95_gain_ns"`
	P95GainMs  float64       `json:"p95_gain_ms"`
	// Role is the stage's StageGain.Role: "floor", "tail", "floor and
	// tail" or empty.
	Role string `json:"role,omitempty"`
	// Share is Score over the mean slow-trace latency, counting the wait
	// before a trace began for pools whose jobs are trace roots; the
	// latency findings' scores tile that latency, so Share is at most 1.
	Share          float64         `json:"share"`
	Title          string          `json:"title"`
	Detail         string          `json:"detail"`
	Recommendation string          `json:"recommendation"`
	Exemplars      []spans.TraceID `json:"exemplars"`
}
