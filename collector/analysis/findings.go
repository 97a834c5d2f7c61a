package analysis

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stagescope/stagescope/spans"
)

// Finding thresholds.
const (
	// severityCritical and severityWarning are the shares of slow-trace
	// latency from which a finding is critical or a warning.
	severityCritical = 0.5
	severityWarning  = 0.2
	// minFindingShare: latency findings below this share of slow-trace
	// latency are left out (the first is always kept).
	minFindingShare = 0.05
	// maxCostFindings is how many (stage, model) cost findings are listed.
	maxCostFindings = 3
)

func severity(share float64) string {
	switch {
	case share >= severityCritical:
		return "critical"
	case share >= severityWarning:
		return "warning"
	}
	return "info"
}

// findings ranks the bottlenecks. Every latency candidate is scored by the
// critical-path time it is charged per slow trace: stages by their own
// charged time, pools by the queue wait charged to the pool stage, retries by
// the failed attempts and backoff charged to the retry stage (plus, for pools
// whose jobs are trace roots, the wait before the trace began). So the stage
// whose delay bounds the slow traces comes first whatever kind it is.
func (a *accumulator) findings(rep *Report, c cohort) []Finding {
	slowMean := c.slowMean()
	sums := make([]float64, numStages)
	slowOn := make([]float64, numStages)
	for _, i := range c.slow {
		r := &a.results[i]
		for st, d := range r.attr {
			sums[st] += r.w * float64(d)
			if d > 0 {
				slowOn[st] += r.w
			}
		}
	}
	var preWait float64
	for _, i := range c.slow {
		preWait += a.results[i].w * float64(a.results[i].preWait)
	}
	if preWait > 0 {
		// Jobs that are trace roots waited before their trace began: that
		// wait is still latency the pool adds to each request.
		sums[spans.StagePool] += preWait
		slowOn[spans.StagePool] = c.slowW
	}
	perSlow := make([]int64, numStages)
	for st := range sums {
		perSlow[st] = int64(ratio(sums[st], c.slowW))
	}
	// Shares are of the latency the request saw, wait before the trace
	// included, so that they cannot exceed 1.
	latency := slowMean + ratio(preWait, c.slowW)
	gainOf := map[spans.Stage]StageGain{}
	for _, g := range rep.Gains {
		gainOf[g.Stage] = g
	}
	var out []Finding
	for st := range perSlow {
		score := perSlow[st]
		if score <= 0 {
			continue
		}
		stage := spans.Stage(st)
		gain := gainOf[stage]
		ctx := findingContext{
			a: a, rep: rep, c: c, stage: stage, score: score, slowMean: slowMean, gain: gain,
			onSlow: ratio(slowOn[st], c.slowW),
		}
		var fs []Finding
		switch {
		case ctx.mostlyInjected():
			// A planted fault's time: said as such by the latency
			// finding, not as waiting for a worker or retrying.
		case stage == spans.StagePool:
			fs = ctx.poolFindings()
		case stage == spans.StageRetry:
			fs = ctx.retryFindings()
		}
		if len(fs) == 0 {
			fs = []Finding{ctx.latencyFinding()}
		}
		for i := range fs {
			f := &fs[i]
			f.ScoreMs = ms(f.Score)
			f.Share = round4(min(ratio(float64(f.Score), latency), 1))
			f.Severity = severity(f.Share)
			f.Exemplars = a.exemplars(c, stage)
			part := ratio(float64(f.Score), float64(score))
			f.P95Gain = time.Duration(float64(gain.Faster.P95Gain) * part)
			f.TailGain = time.Duration(float64(gain.Faster.TailMeanGain) * part)
			f.P95GainMs, f.TailGainMs, f.Role = ms(f.P95Gain), ms(f.TailGain), gain.Role
		}
		out = append(out, fs...)
	}
	slices.SortStableFunc(out, func(x, y Finding) int {
		switch {
		case x.TailGain > y.TailGain:
			return -1
		case x.TailGain < y.TailGain:
			return 1
		case x.P95Gain > y.P95Gain:
			return -1
		case x.P95Gain < y.P95Gain:
			return 1
		case x.Score > y.Score:
			return -1
		case x.Score < y.Score:
			return 1
		case x.Stage != y.Stage:
			return int(x.Stage) - int(y.Stage)
		}
		return strings.Compare(x.Subject, y.Subject)
	})
	kept := []Finding{}
	for i, f := range out {
		if i == 0 || f.Share >= minFindingShare {
			kept = append(kept, f)
		}
	}
	return append(kept, a.costFindings(rep)...)
}

type findingContext struct {
	a        *accumulator
	rep      *Report
	c        cohort
	stage    spans.Stage
	score    int64
	slowMean float64
	onSlow   float64
	gain     StageGain
}

func (fc *findingContext) stageStats() (StageStats, bool) {
	for _, s := range fc.rep.Stages {
		if s.Stage == fc.stage {
			return s, true
		}
	}
	return StageStats{}, false
}

func (fc *findingContext) tailShare() float64 {
	for _, t := range fc.rep.Tail.Stages {
		if t.Stage == fc.stage {
			return t.ShareOfGap
		}
	}
	return 0
}

// latencyFinding describes a stage that its own spans put on the path.
func (fc *findingContext) latencyFinding() Finding {
	st := fc.stage
	share := min(ratio(float64(fc.score), fc.slowMean), 1) // path time tiles the latency
	f := Finding{Kind: "latency", Stage: st, Score: time.Duration(fc.score)}
	f.Title = fmt.Sprintf("%s puts %s on the critical path of slow traces (%.0f%% of their latency)", st, fmtDur(fc.score), 100*share)
	if g := fc.gain; g.Faster.TailMeanGain > 0 {
		f.Title += fmt.Sprintf("; %g× faster would save the slow requests %s and the p95 %s", g.Factor, dur(g.Faster.TailMeanGain), dur(g.Faster.P95Gain))
	}
	var b strings.Builder
	if fc.gain.Summary != "" {
		b.WriteString(fc.gain.Summary + " ")
	}
	fmt.Fprintf(&b, "%s is on the critical path of %.0f%% of slow traces (≥ p%.0f = %s).", st, 100*fc.onSlow, 100*fc.a.cfg.slowQuantile, fmtDur(fc.c.threshold))
	if ss, ok := fc.stageStats(); ok {
		fmt.Fprintf(&b, " It costs a request %s at p50 and %s at p95 (its self time summed per trace, over the %d traces that have it); per span, its %d spans take %s self time at p50 and %s at p95.",
			dur(ss.PerTrace.P50), dur(ss.PerTrace.P95), ss.Traces, ss.Count, dur(ss.Self.P50), dur(ss.Self.P95))
		if ss.Injected > 0 {
			fmt.Fprintf(&b, " %s planted faults ran in are counted apart (%s self time at p50).", plural(ss.Injected, "injected span"), dur(ss.InjectedSelf.P50))
		}
	}
	if g := fc.tailShare(); g > 0 && fc.rep.Tail.Gap > 0 {
		fmt.Fprintf(&b, " It explains %.0f%% of the %s gap between slow traces and the rest.", 100*g, dur(fc.rep.Tail.Gap))
	}
	f.Detail = b.String()
	f.Recommendation = fc.stageRecommendation(share)
	return f
}

// stageRecommendation is the action sentence for a latency finding, quoting
// the settings the traces carry.
func (fc *findingContext) stageRecommendation(share float64) string {
	st, h := fc.stage, &fc.a.hints
	lead := fmt.Sprintf("%s is on the critical path of %.0f%% of slow traces and costs each %s (%.0f%%); ", st, 100*fc.onSlow, fmtDur(fc.score), 100*share)
	if fc.mostlyInjected() {
		// Time in spans of a planted fault is not the stage's own work:
		// no setting of the stage would remove it.
		ss, _ := fc.stageStats()
		injected, own := injectedAndOwn(ss)
		return lead + fmt.Sprintf("%.0f%% of %s's time is in %s of a planted fault (attribute %s), not in its own work: remove the plant to see what %s really costs; no %s setting would win this time back.",
			100*injected/(injected+own), st, plural(ss.Injected, "span"), spans.KeyFaultInjected, st, st)
	}
	switch st {
	case spans.StageRetrieve:
		if k, from, ok := h.retrievalTopK(); ok && k > 1 {
			return lead + fmt.Sprintf("lower retrieval.top_k from %d (%s) to %d, or put an approximate-nearest-neighbour index or a query cache in front of the store.", k, from, max(k/2, 1))
		}
		return lead + "add an approximate-nearest-neighbour index, cache frequent queries or retrieve fewer candidates."
	case spans.StageRerank:
		model := ""
		if m, ok := h.rerankModel.mode(); ok {
			model = " than " + quote(m)
		}
		if n, from, ok := h.rerankTopN(); ok && n > 1 {
			return lead + fmt.Sprintf("lower rerank.top_n from %d (%s) to %d (rerank fewer candidates), or use a smaller rerank model%s.", n, from, max(n/2, 1), model)
		}
		return lead + fmt.Sprintf("rerank fewer candidates (lower rerank.top_n) or use a smaller rerank model%s.", model)
	case spans.StageSynth:
		if m, ok := h.synthMode.mode(); ok && m != "compact" {
			return lead + fmt.Sprintf("this is time outside the model calls: switch synthesize.mode from %s (attribute synthesize.mode of the synthesize spans) to \"compact\", or pass fewer and shorter chunks to synthesis.", quote(m))
		}
		return lead + "this is time outside the model calls: pass fewer and shorter chunks to synthesis and avoid per-chunk post-processing."
	case spans.StageLLM:
		var b strings.Builder
		b.WriteString(lead)
		if calls, m, ok := fc.a.callsPerRequest(fc.rep.Traces); ok {
			fmt.Fprintf(&b, "each request makes %.1f model calls because synthesize.mode is %s (attribute synthesize.mode of the synthesize spans): switch it to \"compact\" for one call a request; or ", calls, quote(m))
		}
		if m, ok := h.llmModel.mode(); ok {
			fmt.Fprintf(&b, "use a faster model than %s", quote(m))
		} else {
			b.WriteString("use a faster model")
		}
		if h.llmCalls > 0 {
			fmt.Fprintf(&b, ", cap completions (they average %d tokens)", h.completionTokens/h.llmCalls)
		}
		b.WriteString(", stream the answer or cache repeated prompts.")
		return b.String()
	case spans.StageEmbed:
		if m, ok := h.embModel.mode(); ok {
			return lead + fmt.Sprintf("batch embedding requests and cache query embeddings (model %s), or use a smaller embedding model.", quote(m))
		}
		return lead + "batch embedding requests and cache query embeddings, or use a smaller embedding model."
	case spans.StageStorage:
		return lead + "cache hot reads in memory or keep the store closer to the pipeline."
	case spans.StageQuery:
		return lead + "this is query-span time that no child span covers: wrap that work in spans to see what it is, or move it off the request path."
	case spans.StagePool:
		return lead + "the pool's own bookkeeping is on the path: check for lock contention or per-job setup in the pool."
	case spans.StageRetry:
		return lead + "the retry wrapper itself is on the path: check its backoff settings."
	}
	return lead + fmt.Sprintf("profile the %s spans with the most self time (see the exemplar traces) and make that step faster or concurrent.", st)
}

// poolFindings splits the pool's charged time over the pools by queue wait.
func (fc *findingContext) poolFindings() []Finding {
	var total int64
	for _, p := range fc.rep.Pools {
		total += int64(p.QueueWait.Mean) * int64(p.QueueWait.Count)
	}
	if total <= 0 {
		return nil
	}
	var out []Finding
	for _, p := range fc.rep.Pools {
		wait := int64(p.QueueWait.Mean) * int64(p.QueueWait.Count)
		if wait <= 0 {
			continue
		}
		score := int64(float64(fc.score) * float64(wait) / float64(total))
		f := Finding{Kind: "pool", Stage: spans.StagePool, Subject: p.Name, Score: time.Duration(score)}
		f.Title = fmt.Sprintf("worker pool %s: waiting for a worker costs slow traces %s", quote(p.Name), fmtDur(score))
		f.Detail = fmt.Sprintf("%d jobs in %d runs with %s; queue wait p50 %s, p95 %s against run time p50 %s (%.0f%% of job time is waiting); utilisation %.0f%%, %.1f jobs in the pool on average.",
			p.Jobs, p.Runs, plural(p.Workers, "worker"), dur(p.QueueWait.P50), dur(p.QueueWait.P95), dur(p.RunTime.P50),
			100*p.QueueShare, 100*p.Utilisation, p.InSystem)
		f.Recommendation = p.Recommendation
		out = append(out, f)
	}
	return out
}

// retryFindings splits the retry stage's charged time over the operations by
// time lost.
func (fc *findingContext) retryFindings() []Finding {
	var total int64
	for _, r := range fc.rep.Retries {
		total += int64(r.Lost)
	}
	if total <= 0 {
		return nil
	}
	var out []Finding
	for _, r := range fc.rep.Retries {
		if r.Lost <= 0 {
			continue
		}
		score := int64(float64(fc.score) * float64(r.Lost) / float64(total))
		f := Finding{Kind: "retry", Stage: spans.StageRetry, Subject: r.Op, Score: time.Duration(score)}
		f.Title = fmt.Sprintf("retries of %s cost slow traces %s (%.2f attempts per call)", quote(r.Op), fmtDur(score), r.AttemptsPerCall)
		f.Detail = fmt.Sprintf("%d calls made %d attempts (max %d), %d failed and %d calls gave up; %s was lost in failed attempts and %s in backoff; failed attempts spent %d tokens ($%.4f).",
			r.Calls, r.Attempts, r.MaxAttempts, r.FailedAttempts, r.GaveUp, dur(r.FailedTime), dur(r.Backoff), r.TokensLost, r.CostLostUSD)
		f.Recommendation = r.Recommendation
		out = append(out, f)
	}
	return out
}

// costFindings lists where the money goes, after the latency findings.
func (a *accumulator) costFindings(rep *Report) []Finding {
	var out []Finding
	for _, c := range rep.Cost {
		share := ratio(c.USD, rep.CostTotalUSD)
		if len(out) == maxCostFindings || c.USD <= 0 || (len(out) > 0 && share < minFindingShare) {
			break
		}
		f := Finding{Kind: "cost", Severity: "info", Stage: c.Stage, Subject: c.Model, Share: round4(share), Exemplars: []spans.TraceID{}}
		f.Title = fmt.Sprintf("%s calls to %s cost $%.4f (%.0f%% of spend)", c.Stage, quote(c.Model), c.USD, 100*share)
		f.Detail = fmt.Sprintf("%d calls used %d prompt, %d completion and %d embedding tokens: $%.6f per trace.",
			c.Calls, c.PromptTokens, c.CompletionTokens, c.EmbeddingTokens, c.USDPerTrace)
		switch c.Stage {
		case spans.StageLLM, spans.StageSynth:
			f.Recommendation = fmt.Sprintf("prompts average %d tokens: send fewer or shorter chunks, or move %s calls to a cheaper model.",
				c.PromptTokens/int64(max(c.Calls, 1)), quote(c.Model))
			if calls, m, ok := a.callsPerRequest(rep.Traces); ok {
				f.Recommendation = fmt.Sprintf("each request makes %.1f model calls because synthesize.mode is %s (attribute synthesize.mode of the synthesize spans), each resending context: switch it to \"compact\" for one call a request; ", calls, quote(m)) + f.Recommendation
			}
		case spans.StageEmbed:
			f.Recommendation = fmt.Sprintf("cache embeddings of repeated texts, or move to a cheaper embedding model than %s.", quote(c.Model))
		default:
			f.Recommendation = fmt.Sprintf("reduce the tokens %s sends to %s, or use a cheaper model.", c.Stage, quote(c.Model))
		}
		out = append(out, f)
	}
	if len(rep.UnpricedModels) > 0 {
		out = append(out, Finding{Kind: "cost", Severity: "info", Stage: spans.StageOther, Exemplars: []spans.TraceID{},
			Title:          "no price for " + plural(len(rep.UnpricedModels), "model"),
			Detail:         "No price is configured for: " + strings.Join(rep.UnpricedModels, ", ") + ".",
			Recommendation: "add these models to the price table (a JSON file given to --prices or STAGESCOPE_PRICES, or analysis.WithPriceTable) so their cost is counted."})
	}
	return out
}

// plural writes n and noun, with an s unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// callsPerRequest reports how many model calls a request makes when a
// response mode other than compact (refine, tree_summarize: a call per
// chunk or per pack) makes it more than one and a half, with that mode.
func (a *accumulator) callsPerRequest(traces int) (float64, string, bool) {
	m, ok := a.hints.synthMode.mode()
	if !ok || m == "compact" || traces == 0 {
		return 0, "", false
	}
	calls := float64(a.hints.llmCalls) / float64(traces)
	return calls, m, calls >= 1.5
}

// injectedAndOwn is the self time of a stage's spans that planted faults
// ran in, and of its other spans.
func injectedAndOwn(ss StageStats) (injected, own float64) {
	return float64(ss.InjectedSelf.Mean) * float64(ss.Injected), float64(ss.Self.Mean) * float64(ss.Count)
}

// mostlyInjected reports whether most of the stage's self time was spent in
// spans of planted faults (fault.injected).
func (fc *findingContext) mostlyInjected() bool {
	ss, ok := fc.stageStats()
	if !ok || ss.Injected == 0 {
		return false
	}
	injected, own := injectedAndOwn(ss)
	return injected >= own
}
