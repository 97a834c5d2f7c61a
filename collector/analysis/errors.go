package analysis

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stagescope/stagescope/spans"
)

// ErrorStats is what failures did to the requests. A request (trace) failed
// when its root span ended in error or was abandoned (for a trace without a
// single root: when one of its top-level spans did). The failure is charged
// to the stage where it began: walking down from the root through failed
// spans, taking at each level the failed child that ended first (errors
// before cancellations), the deepest failed span reached.
type ErrorStats struct {
	// FailedTraces of all the traces failed: FailureRate.
	FailedTraces int     `json:"failed_traces"`
	FailureRate  float64 `json:"failure_rate"`
	// TracesWithErrors have at least one failed span, whether or not the
	// request failed: the difference was absorbed (retried, fallen back).
	TracesWithErrors int `json:"traces_with_errors"`
	// GaveUp counts failed requests whose failure went through a retried
	// call that gave up.
	GaveUp int `json:"gave_up"`
	// Succeeded and Failed are the latency of the successful and the
	// failed requests. Failed requests often end early, so the report's
	// end-to-end figures (all requests) can look better than what
	// successful users saw: P95Shift is the p95 of all requests minus the
	// p95 of the successful ones (negative: failures flattered it).
	Succeeded  Percentiles   `json:"succeeded"`
	Failed     Percentiles   `json:"failed"`
	P95Shift   time.Duration `json:"p95_shift_ns"`
	P95ShiftMs float64       `json:"p95_shift_ms"`
	// Stages lists the stages with failed spans, the one causing most
	// failed requests first.
	Stages []StageErrors `json:"stages"`
	// Exemplars are failed requests.
	Exemplars []spans.TraceID `json:"exemplars"`
}

// StageErrors is one stage's failures.
type StageErrors struct {
	Stage spans.Stage `json:"stage"`
	// Errors of the stage's Spans failed (per span: ErrorRate). Failed
	// spans that planted faults ran in (fault.injected) are counted apart,
	// in Injected — each failed the stage span it was planted in — and are
	// not among the Spans.
	Spans     int     `json:"spans"`
	Errors    int     `json:"errors"`
	ErrorRate float64 `json:"error_rate"`
	Injected  int     `json:"injected"`
	// TracesWithErrors of the Traces that have the stage saw one of its
	// spans fail (per request: TraceErrorRate).
	Traces           int     `json:"traces"`
	TracesWithErrors int     `json:"traces_with_errors"`
	TraceErrorRate   float64 `json:"trace_error_rate"`
	// FailedRequests are failed requests whose failure began in the stage;
	// Absorbed are requests that succeeded although the stage failed in
	// them.
	FailedRequests int `json:"failed_requests"`
	Absorbed       int `json:"absorbed"`
	// Exemplars are requests the stage failed.
	Exemplars []spans.TraceID `json:"exemplars"`
}

// errorAcc gathers failures over traces.
type errorAcc struct {
	failedTraces, withErrors, gaveUp int
	okE2E, failedE2E                 []int64
	// okW and failedW are the weights of okE2E and failedE2E when the
	// traces are weighted (WithSample); failedWeight sums failedW.
	okW, failedW []float64
	failedWeight float64
	exemplars    []spans.TraceID
	stages       []stageErrAcc // by stage
	spanErr      []bool        // per stage, for the current trace
}

type stageErrAcc struct {
	errors, injected, tracesWithErrors, failedRequests, absorbed int
	exemplars                                                    []spans.TraceID
}

func failedStatus(s *spans.Span) bool {
	return s != nil && (s.Status == spans.StatusError || s.Status == spans.StatusDropped)
}

// addErrors gathers the failures of the current trace, whose result is r.
func (a *accumulator) addErrors(r *traceResult) {
	e := &a.errs
	if e.stages == nil {
		e.stages = make([]stageErrAcc, numStages)
		e.spanErr = make([]bool, numStages)
	}
	tr := a.tree
	clear(e.spanErr)
	anyErr := false
	for _, v := range tr.order {
		n := &tr.nodes[v]
		if !failedStatus(n.span) {
			continue
		}
		anyErr = true
		st := &e.stages[n.stage]
		if b, ok := n.span.Attr(spans.KeyFaultInjected); ok && b.AsBool() {
			st.injected++
		} else {
			st.errors++
		}
		if !e.spanErr[n.stage] {
			e.spanErr[n.stage] = true
			st.tracesWithErrors++
		}
	}
	if anyErr {
		e.withErrors++
	}
	origin, gaveUp, failed := a.failureOrigin()
	r.failed = failed
	if !failed {
		e.okE2E = append(e.okE2E, r.e2e)
		if a.cfg.sample != nil {
			e.okW = append(e.okW, r.w)
		}
		for st, hit := range e.spanErr {
			if hit {
				e.stages[st].absorbed++
			}
		}
		return
	}
	e.failedTraces++
	e.failedE2E = append(e.failedE2E, r.e2e)
	e.failedWeight += r.w
	if a.cfg.sample != nil {
		e.failedW = append(e.failedW, r.w)
	}
	if gaveUp {
		e.gaveUp++
	}
	if len(e.exemplars) < a.cfg.maxExemplars {
		e.exemplars = append(e.exemplars, r.id)
	}
	st := &e.stages[origin]
	st.failedRequests++
	if len(st.exemplars) < a.cfg.maxExemplars {
		st.exemplars = append(st.exemplars, r.id)
	}
}

// failureOrigin reports whether the current trace failed, the stage where
// its failure began, and whether it went through a retried call that gave
// up.
func (a *accumulator) failureOrigin() (origin spans.Stage, gaveUp, failed bool) {
	tr := a.tree
	v := tr.root
	if tr.nodes[v].span != nil && !failedStatus(tr.nodes[v].span) {
		return 0, false, false
	}
	for {
		next := int32(-1)
		for _, c := range tr.children(v) {
			cn := &tr.nodes[c]
			if !failedStatus(cn.span) {
				continue
			}
			if next < 0 || better(cn, &tr.nodes[next]) {
				next = c
			}
		}
		if next < 0 {
			break
		}
		if a.isRetryCall(next) {
			gaveUp = true
		}
		v = next
	}
	if tr.nodes[v].span == nil {
		return 0, false, false // a virtual root without a failed top-level span
	}
	return tr.nodes[v].stage, gaveUp, true
}

// better reports whether failed child x explains its parent's failure
// better than y: an error before a cancellation, then the earlier end.
func better(x, y *node) bool {
	xe, ye := x.span.Status == spans.StatusError, y.span.Status == spans.StatusError
	if xe != ye {
		return xe
	}
	return x.end < y.end
}

// errorStats assembles ErrorStats; c holds every request's latency, sorted.
// The rate and the latencies are weighted (WithSample), the counts are of
// the analysed traces.
func (a *accumulator) errorStats(c cohort) ErrorStats {
	e := &a.errs
	out := ErrorStats{Stages: []StageErrors{}, Exemplars: []spans.TraceID{}}
	n := len(a.results)
	if n == 0 {
		return out
	}
	out.FailedTraces, out.TracesWithErrors, out.GaveUp = e.failedTraces, e.withErrors, e.gaveUp
	out.FailureRate = round4(ratio(e.failedWeight, c.totalW))
	out.Succeeded, out.Failed = summarizeWeighted(e.okE2E, e.okW), summarizeWeighted(e.failedE2E, e.failedW)
	if len(e.okE2E) > 0 && e.failedTraces > 0 {
		out.P95Shift = time.Duration(wquantile(c.e2eSorted, c.e2eW, 0.95)) - out.Succeeded.P95
		out.P95ShiftMs = ms(out.P95Shift)
	}
	if e.exemplars != nil {
		out.Exemplars = e.exemplars
	}
	for st := range e.stages {
		se := &e.stages[st]
		if se.errors == 0 && se.injected == 0 && se.failedRequests == 0 {
			continue
		}
		acc := &a.stages[st]
		nspans := len(acc.totals) // injected spans are kept apart
		s := StageErrors{
			Stage: spans.Stage(st), Spans: nspans, Errors: se.errors, Injected: se.injected,
			ErrorRate: round4(ratio(float64(se.errors), float64(nspans))),
			Traces:    acc.traces, TracesWithErrors: se.tracesWithErrors,
			TraceErrorRate: round4(ratio(float64(se.tracesWithErrors), float64(acc.traces))),
			FailedRequests: se.failedRequests, Absorbed: se.absorbed, Exemplars: []spans.TraceID{},
		}
		if se.exemplars != nil {
			s.Exemplars = se.exemplars
		}
		out.Stages = append(out.Stages, s)
	}
	slices.SortStableFunc(out.Stages, func(x, y StageErrors) int {
		if x.FailedRequests != y.FailedRequests {
			return y.FailedRequests - x.FailedRequests
		}
		return y.Errors - x.Errors
	})
	return out
}

// Error finding thresholds: the share of failed requests from which an
// error finding is critical or a warning.
const (
	errorCritical = 0.05
	errorWarning  = 0.01
)

// errorFindings says which stages fail requests, and what the failures did
// to the latency figures.
// missingRootFinding says how many requests lost their root span: their
// outcome is unknown, so the failure rate can read low by that much. An
// instrumentation that ends its span only when the work succeeds leaves
// exactly this behind for every request that throws.
func missingRootFinding(rep *Report) []Finding {
	an := rep.Anomalies
	n := an.MissingRoot
	if n == 0 {
		return nil
	}
	share := an.MissingRootShare
	sev := "info"
	if share >= errorWarning {
		sev = "warning"
	}
	f := Finding{Kind: "incomplete", Severity: sev, Stage: spans.StageQuery, Share: share, Exemplars: an.MissingRootExemplars}
	f.Title = fmt.Sprintf("%d of %d requests have no root span (%.1f%%): their outcome is unknown", n, rep.Traces, 100*share)
	if rep.Weighting.Weighted {
		f.Title = fmt.Sprintf("%d of the %d analysed requests have no root span (weighted back to the window: %.1f%% of requests): their outcome is unknown", n, rep.Traces, 100*share)
	}
	f.Detail = fmt.Sprintf("The outermost span of %s never arrived: the spans that did name a parent the trace does not hold. "+
		"A request whose instrumentation ends its span only on success leaves this behind when it throws, as does a process that stops mid-request or an exporter that dropped the span; "+
		"their end-to-end latency counts only the spans that arrived, and no failure is counted for them.", plural(n, "request"))
	f.Recommendation = fmt.Sprintf("Open the exemplar traces to see where they stop, and end every span in a finally block (or its equivalent) so a failing request reports its error; until then the failure rate (%.1f%%) can read low by up to %.1f points.",
		100*rep.Errors.FailureRate, 100*share)
	return []Finding{f}
}

func (a *accumulator) errorFindings(rep *Report) []Finding {
	es := &rep.Errors
	var out []Finding
	for _, s := range es.Stages {
		if s.FailedRequests == 0 {
			continue
		}
		share := float64(s.FailedRequests) / float64(rep.Traces)
		sev := "info"
		switch {
		case share >= errorCritical:
			sev = "critical"
		case share >= errorWarning:
			sev = "warning"
		}
		f := Finding{Kind: "error", Severity: sev, Stage: s.Stage, Share: round4(share), Exemplars: s.Exemplars}
		f.Title = fmt.Sprintf("%s failures failed %d of %d requests (%.1f%%)", s.Stage, s.FailedRequests, rep.Traces, 100*share)
		var b strings.Builder
		fmt.Fprintf(&b, "%d of %d %s spans failed (%.1f%%), in %d of the %d requests that reach %s", s.Errors, s.Spans, s.Stage, 100*s.ErrorRate, s.TracesWithErrors, s.Traces, s.Stage)
		if s.Injected > 0 {
			fmt.Fprintf(&b, "; %d failures were planted (fault.injected spans)", s.Injected)
		}
		b.WriteString(".")
		if s.Absorbed > 0 {
			fmt.Fprintf(&b, " %d requests survived a %s failure.", s.Absorbed, s.Stage)
		}
		if es.Failed.Count > 0 && es.Succeeded.Count > 0 {
			fmt.Fprintf(&b, " Failed requests ended after %s at p50, successful ones after %s", dur(es.Failed.P50), dur(es.Succeeded.P50))
			if es.P95Shift < 0 {
				fmt.Fprintf(&b, "; with the failures the p95 reads %s, for successful requests it is %s", dur(rep.E2E.P95), dur(es.Succeeded.P95))
			}
			b.WriteString(".")
		}
		f.Detail = b.String()
		rec := fmt.Sprintf("make %s fail less (its errors are in the exemplar traces)", s.Stage)
		if es.GaveUp > 0 {
			rec += fmt.Sprintf("; %d failed requests went through retries that gave up", es.GaveUp)
		} else if s.Absorbed == 0 {
			rec += fmt.Sprintf(", or retry %s calls: no request survived a %s failure", s.Stage, s.Stage)
		}
		if es.P95Shift < 0 {
			rec += fmt.Sprintf("; judge latency by the successful requests (p95 %s)", dur(es.Succeeded.P95))
		}
		f.Recommendation = rec + "."
		out = append(out, f)
	}
	return out
}
