package handlers_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/handlers"
	"github.com/stagescope/stagescope/spans"
)

// Every route counts failures by the same two rules: a failed request is a
// trace whose root span failed (the trace list's status=error, the
// end-to-end errors of /api/stages, the report's failed traces), and a trace
// with errors has a failed span anywhere (status=with_errors, the report's
// traces with errors). A failed child under a root that succeeded or left
// its status unset is an error of the child's stage, not a failed request.
func TestEveryRouteCountsFailuresByOneRule(t *testing.T) {
	const (
		failedRoot = 3 // root, synth and llm fail
		unsetRoot  = 4 // llm fails under a root with no status
		absorbed   = 2 // rerank fails under a root that succeeded
		healthy    = 5
	)
	s := serveIngested(t, func(ctx context.Context, coll *collector.Collector) {
		at := time.Now().Add(-30 * time.Minute).Truncate(time.Minute)
		add := func(n int, shape func([]spans.Span)) {
			for range n {
				ss, evs := ragTrace(at, ragShape{name: nameNormal, embed: 10, retrieve: 30, rerank: 20, llm: 38, service: "rag-api"})
				shape(ss)
				if err := coll.Ingest(ctx, ss, evs); err != nil {
					t.Fatal(err)
				}
				at = at.Add(time.Second)
			}
		}
		// ragTrace's spans: query, embed, retrieve, rerank, synth, llm.
		add(failedRoot, func(ss []spans.Span) {
			for _, i := range []int{0, 4, 5} {
				ss[i].Status, ss[i].Err = spans.StatusError, "failed"
			}
		})
		add(unsetRoot, func(ss []spans.Span) {
			ss[0].Status = spans.StatusUnset
			ss[5].Status, ss[5].Err = spans.StatusError, "rate limited"
		})
		add(absorbed, func(ss []spans.Span) { ss[3].Status, ss[3].Err = spans.StatusError, "reranker timeout; fell back" })
		add(healthy, func([]spans.Span) {})
	})

	count := func(status string) int {
		var l handlers.TraceList
		s.getJSON("/api/traces?limit=100&status="+status, http.StatusOK, &l)
		return len(l.Traces)
	}
	const total = failedRoot + unsetRoot + absorbed + healthy
	if n := count("error"); n != failedRoot {
		t.Errorf("status=error lists %d traces, want the %d failed requests", n, failedRoot)
	}
	if n := count(collector.StatusWithErrors); n != failedRoot+unsetRoot+absorbed {
		t.Errorf("status=with_errors lists %d traces, want %d", n, failedRoot+unsetRoot+absorbed)
	}
	if n := count("unset"); n != unsetRoot {
		t.Errorf("status=unset lists %d traces, want %d", n, unsetRoot)
	}

	var st handlers.StageBreakdown
	s.getJSON("/api/stages", http.StatusOK, &st)
	if st.E2E == nil || st.E2E.Traces != total || st.E2E.Errors != failedRoot {
		t.Errorf("/api/stages e2e %+v, want %d traces and %d errors", st.E2E, total, failedRoot)
	}
	errs := map[string]int64{}
	for _, r := range st.Stages {
		errs[r.Stage] = r.Errors
	}
	if errs["llm"] != failedRoot+unsetRoot || errs["rerank"] != absorbed || errs["synth"] != failedRoot || errs["retrieve"] != 0 {
		t.Errorf("stage errors %v, want llm %d, rerank %d, synth %d, retrieve 0", errs, failedRoot+unsetRoot, absorbed, failedRoot)
	}

	var r handlers.ReportResponse
	s.getJSON("/api/report", http.StatusOK, &r)
	if e := r.Report.Errors; e.FailedTraces != failedRoot || e.TracesWithErrors != failedRoot+unsetRoot+absorbed {
		t.Errorf("report: %d failed traces and %d with errors, want %d and %d", e.FailedTraces, e.TracesWithErrors, failedRoot, failedRoot+unsetRoot+absorbed)
	}
}
