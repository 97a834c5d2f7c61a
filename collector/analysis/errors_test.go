package analysis

import (
	"slices"
	"strings"
	"testing"

	"github.com/stagescope/stagescope/spans"
)

// rerankTrace is query → retrieve → rerank → llm; with fail, rerank fails
// (a planted fault inside it) and the query ends at once; with absorbed, a
// first rerank fails and a second succeeds.
func rerankTrace(fail, absorbed bool) *traceBuilder {
	b := newTrace()
	if fail {
		q := b.span(nil, "query", spans.StageQuery, 0, 30)
		q.Status = spans.StatusError
		b.span(q, "retrieve", spans.StageRetrieve, 0, 20)
		r := b.span(q, "rerank", spans.StageRerank, 20, 30)
		r.Status = spans.StatusError
		f := b.span(r, "fault", spans.StageRerank, 20, 30, spans.Bool(spans.KeyFaultInjected, true))
		f.Status = spans.StatusError
		return b
	}
	q := b.span(nil, "query", spans.StageQuery, 0, 100)
	b.span(q, "retrieve", spans.StageRetrieve, 0, 20)
	at := 20.0
	if absorbed {
		r := b.span(q, "rerank", spans.StageRerank, 20, 25)
		r.Status = spans.StatusError
		at = 25
	}
	b.span(q, "rerank", spans.StageRerank, at, 40)
	b.span(q, "llm", spans.StageLLM, 40, 100)
	return b
}

func TestErrorsAsFindings(t *testing.T) {
	var traces []Trace
	var failedIDs []spans.TraceID
	for i := range 20 {
		fail, absorbed := i%10 == 3, i == 5
		b := rerankTrace(fail, absorbed)
		if fail {
			failedIDs = append(failedIDs, b.id)
		}
		traces = append(traces, b.trace())
	}
	r := Analyze(traces)
	e := r.Errors
	if e.FailedTraces != 2 || e.FailureRate != 0.1 || e.TracesWithErrors != 3 || e.GaveUp != 0 {
		t.Fatalf("errors %+v", e)
	}
	if !slices.Equal(e.Exemplars, failedIDs) {
		t.Fatalf("exemplars %v, want %v", e.Exemplars, failedIDs)
	}
	// Failed requests end after 30 ms, successful ones after 100: the p95
	// of all requests is 100 ms either way, the p50 of failures 30.
	if e.Failed.P50 != msDur(30) || e.Succeeded.P50 != msDur(100) || e.Succeeded.Count != 18 || e.P95Shift != 0 {
		t.Fatalf("latency: failed %+v succeeded %+v shift %v", e.Failed, e.Succeeded, e.P95Shift)
	}
	if len(e.Stages) != 2 || e.Stages[0].Stage != spans.StageRerank || e.Stages[1].Stage != spans.StageQuery {
		t.Fatalf("stages %+v", e.Stages)
	}
	rr := e.Stages[0]
	// rerank spans: 20 + 1 retried (the 2 fault spans apart); failed: 2 + 1,
	// and the 2 planted fault spans.
	want := StageErrors{Stage: spans.StageRerank, Spans: 21, Errors: 3, ErrorRate: 0.1429, Injected: 2,
		Traces: 20, TracesWithErrors: 3, TraceErrorRate: 0.15, FailedRequests: 2, Absorbed: 1, Exemplars: failedIDs}
	if rr.Stage != want.Stage || rr.Spans != want.Spans || rr.Errors != want.Errors || rr.ErrorRate != want.ErrorRate ||
		rr.Injected != want.Injected || rr.Traces != want.Traces || rr.TracesWithErrors != want.TracesWithErrors ||
		rr.TraceErrorRate != want.TraceErrorRate || rr.FailedRequests != want.FailedRequests || rr.Absorbed != want.Absorbed ||
		!slices.Equal(rr.Exemplars, want.Exemplars) {
		t.Fatalf("rerank errors\n got %+v\nwant %+v", rr, want)
	}
	if q := e.Stages[1]; q.FailedRequests != 0 || q.Errors != 2 {
		t.Fatalf("query errors %+v: the query only passed rerank's failure on", q)
	}
	// The finding: critical (10% of requests), first, naming the stage.
	f := r.Findings[0]
	if f.Kind != "error" || f.Severity != "critical" || f.Stage != spans.StageRerank || f.Share != 0.1 ||
		!strings.Contains(f.Title, "failed 2 of 20 requests") || !strings.Contains(f.Detail, "2 failures were planted") ||
		!slices.Equal(f.Exemplars, failedIDs) {
		t.Fatalf("first finding %+v", f)
	}
}

// Failed requests that end early flatter the p95: the shift says by how
// much.
func TestFailedRequestsFlatterTheP95(t *testing.T) {
	var traces []Trace
	for i := range 20 {
		b := newTrace()
		q := b.span(nil, "query", spans.StageQuery, 0, 100+float64(i)) // successful: 100–119 ms
		if i >= 15 {
			q.End = msAt(5) // the five slowest fail after 5 ms instead
			q.Status = spans.StatusError
		}
		traces = append(traces, b.trace())
	}
	r := Analyze(traces)
	e := r.Errors
	// Successful requests: p95 is the 15th of 15 values, 114 ms; all
	// requests: the 19th of 20, 113 ms, as the failures sorted first.
	if e.FailedTraces != 5 || e.Succeeded.P95 != msDur(114) || r.E2E.P95 != msDur(113) || e.P95Shift != -msDur(1) || e.P95ShiftMs != -1 {
		t.Fatalf("failed %d, succeeded p95 %v, all p95 %v, shift %v", e.FailedTraces, e.Succeeded.P95, r.E2E.P95, e.P95Shift)
	}
	if f := r.Findings[0]; f.Kind != "error" || !strings.Contains(f.Detail, "the p95 reads 113ms, for successful requests it is 114ms") ||
		!strings.Contains(f.Recommendation, "judge latency by the successful requests (p95 114ms)") {
		t.Fatalf("finding %+v", f)
	}
	// Origin: the root itself (no failed child).
	if len(e.Stages) != 1 || e.Stages[0].Stage != spans.StageQuery || e.Stages[0].FailedRequests != 5 {
		t.Fatalf("stages %+v", e.Stages)
	}
}

func TestGiveUpAndCancellation(t *testing.T) {
	// A retried llm call gives up after three failed attempts.
	b := newTrace()
	q := b.span(nil, "query", spans.StageQuery, 0, 100)
	q.Status = spans.StatusError
	call := b.span(q, "retry llm", spans.StageRetry, 0, 100, spans.String(spans.KeyRetryOp, "llm.complete"))
	call.Status = spans.StatusError
	for i, from := range []float64{0, 40, 80} {
		at := b.span(call, "attempt", spans.StageRetry, from, from+20, spans.Int(spans.KeyRetryAttempt, i+1))
		at.Status = spans.StatusError
		l := b.span(at, "llm", spans.StageLLM, from, from+20)
		l.Status = spans.StatusError
	}
	// Parallel shards: one fails at 10 ms; the other is cancelled (dropped)
	// at 8 ms — a consequence, not the cause.
	b2 := newTrace()
	q2 := b2.span(nil, "query", spans.StageQuery, 0, 12)
	q2.Status = spans.StatusError
	s1 := b2.span(q2, "shard", spans.StageEmbed, 0, 8)
	s1.Status = spans.StatusDropped
	s2 := b2.span(q2, "shard", spans.StageRetrieve, 0, 10)
	s2.Status = spans.StatusError
	// No single root: two top-level spans, one failed.
	b3 := newTrace()
	b3.span(nil, "a", spans.StageSynth, 0, 10)
	x := b3.span(nil, "b", spans.StageStorage, 0, 5)
	x.Status = spans.StatusError

	r := Analyze([]Trace{b.trace(), b2.trace(), b3.trace()})
	e := r.Errors
	if e.FailedTraces != 3 || e.GaveUp != 1 {
		t.Fatalf("failed %d, gave up %d", e.FailedTraces, e.GaveUp)
	}
	got := map[spans.Stage]int{}
	for _, s := range e.Stages {
		got[s.Stage] = s.FailedRequests
	}
	want := map[spans.Stage]int{spans.StageLLM: 1, spans.StageRetrieve: 1, spans.StageStorage: 1, spans.StageEmbed: 0, spans.StageRetry: 0, spans.StageQuery: 0}
	for st, n := range want {
		if got[st] != n {
			t.Errorf("%s failed %d requests, want %d", st, got[st], n)
		}
	}
	if !strings.Contains(r.Findings[0].Recommendation, "1 failed requests went through retries that gave up") {
		t.Errorf("recommendation %q", r.Findings[0].Recommendation)
	}
}

func TestNoErrorsNoErrorFindings(t *testing.T) {
	r := Analyze(basePipeline(3).traces(50))
	if r.Errors.FailedTraces != 0 || len(r.Errors.Stages) != 0 || r.Errors.Succeeded.Count != 50 {
		t.Fatalf("errors %+v", r.Errors)
	}
	for _, f := range r.Findings {
		if f.Kind == "error" {
			t.Fatalf("error finding without errors: %+v", f)
		}
	}
}

// A request whose root span never arrived (its instrumentation ended the
// span only on success, and the request threw) has an unknown outcome: it is
// counted, named in an "incomplete" finding with its exemplar, and is not a
// failure.
func TestMissingRootIsAnUnknownOutcome(t *testing.T) {
	var traces []Trace
	for range 19 {
		traces = append(traces, stepTrace(10, 5, 20))
	}
	b := newTrace()
	ghost := &spans.Span{TraceID: b.id, SpanID: spans.SpanID{0xee}}
	b.span(ghost, "retrieve", spans.StageRetrieve, 0, 10)
	b.span(ghost, "rerank", spans.StageRerank, 10, 15)
	lost := b.trace()
	traces = append(traces, lost)

	r := Analyze(traces)
	an := r.Anomalies
	if an.MissingRoot != 1 || an.MissingRootShare != 0.05 || len(an.MissingRootExemplars) != 1 || an.MissingRootExemplars[0] != lost.ID() || an.Orphans != 2 {
		t.Fatalf("anomalies = %+v", an)
	}
	if r.Errors.FailedTraces != 0 || r.Errors.FailureRate != 0 {
		t.Fatalf("a lost root counted as a failure: %+v", r.Errors)
	}
	var found []Finding
	for _, f := range r.Findings {
		if f.Kind == "incomplete" {
			found = append(found, f)
		}
	}
	if len(found) != 1 {
		t.Fatalf("incomplete findings %+v, want one", found)
	}
	f := found[0]
	if f.Severity != "warning" || f.Share != 0.05 || len(f.Exemplars) != 1 || f.Exemplars[0] != lost.ID() ||
		f.Title != "1 of 20 requests have no root span (5.0%): their outcome is unknown" ||
		!strings.Contains(f.Recommendation, "can read low by up to 5.0 points") {
		t.Errorf("finding = %+v", f)
	}
	var text strings.Builder
	if err := r.WriteText(&text, "test"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "1 traces without their root span (5.0% of requests, outcome unknown)") {
		t.Errorf("text report does not count the lost root:\n%s", text.String())
	}

	// Below 1% of requests it is worth knowing, not a warning.
	for range 100 {
		traces = append(traces, stepTrace(10, 5, 20))
	}
	for _, f := range Analyze(traces).Findings {
		if f.Kind == "incomplete" && f.Severity != "info" {
			t.Errorf("1 of 120 lost roots: severity %s, want info", f.Severity)
		}
	}
}
