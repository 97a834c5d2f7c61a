package handlers_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/stagescope/stagescope/handlers"
	"github.com/stagescope/stagescope/spans"
)

// The seeded store has two services: "hostile" (one trace) and "rag-api"
// (every other).
const (
	svcMain    = "rag-api"
	svcHostile = "hostile"
)

func TestServicesListComesFromTheStore(t *testing.T) {
	s := newSeeded(t)
	var l handlers.ServiceList
	s.getJSON("/api/services", http.StatusOK, &l)
	want := []handlers.ServiceRow{{Service: svcHostile, Traces: 1}, {Service: svcMain, Traces: seedTotal - 1}}
	if fmt.Sprint(l.Services) != fmt.Sprint(want) || l.Truncated || l.Partial {
		t.Errorf("services %+v (truncated %v, partial %v), want %+v", l.Services, l.Truncated, l.Partial, want)
	}
	// A window: the first ten minutes hold ten rag-api traces and nothing else.
	var w handlers.ServiceList
	s.getJSON(fmt.Sprintf("/api/services?from=%d&to=%d", s.base.UnixMilli(), s.base.Add(10*time.Minute).UnixMilli()-1), http.StatusOK, &w)
	if len(w.Services) != 1 || w.Services[0] != (handlers.ServiceRow{Service: svcMain, Traces: 10}) {
		t.Errorf("services of the first ten minutes: %+v", w.Services)
	}
	var none handlers.ServiceList
	s.getJSON("/api/services?to="+fmt.Sprint(s.base.Add(-time.Minute).UnixMilli()), http.StatusOK, &none)
	if none.Services == nil || len(none.Services) != 0 {
		t.Errorf("services before the first trace: %+v", none.Services)
	}
}

func TestServiceFilterOnEveryRoute(t *testing.T) {
	s := newSeeded(t)
	q := url.QueryEscape

	// Traces.
	var tl handlers.TraceList
	s.getJSON("/api/traces?limit=1000&service="+q(svcMain), http.StatusOK, &tl)
	if len(tl.Traces) != seedTotal-1 || tl.Partial {
		t.Errorf("traces of %s: %d (partial %v), want %d", svcMain, len(tl.Traces), tl.Partial, seedTotal-1)
	}
	for _, r := range tl.Traces {
		if r.Service != svcMain {
			t.Errorf("trace %s of service %q in the %s list", r.TraceID, r.Service, svcMain)
		}
	}

	// One trace: found in its service, not in another.
	hostile := s.ids["hostile"][0].String()
	var d handlers.TraceDetail
	s.getJSON("/api/traces/"+hostile+"?service="+q(svcHostile), http.StatusOK, &d)
	if d.TraceID != hostile {
		t.Errorf("trace %s in its service: got %s", hostile, d.TraceID)
	}
	if msg := s.errorOf("/api/traces/"+hostile+"?service="+q(svcMain), http.StatusNotFound); !strings.Contains(msg, "no span of service") {
		t.Errorf("trace in another service: %q", msg)
	}

	// Stages: the hostile trace alone, computed from its spans.
	var one handlers.StageBreakdown
	s.getJSON("/api/stages?service="+q(svcHostile), http.StatusOK, &one)
	rows := stageMap(one)
	if r := rows["rerank"]; r.Count != 1 || r.SelfMs != 20 || r.TotalMs != 20 || r.Errors != 0 {
		t.Errorf("rerank of %s: %+v", svcHostile, r)
	}
	if r := rows["synth"]; r.Count != 1 || r.SelfMs != 2 || r.TotalMs != 40 {
		t.Errorf("synth of %s: %+v", svcHostile, r)
	}
	if one.E2E == nil || one.E2E.Traces != 1 || one.E2E.Errors != 0 || one.Service != svcHostile {
		t.Errorf("e2e of %s: %+v", svcHostile, one.E2E)
	}
	if one.Coverage == nil || one.Coverage.Source != "traces" || one.Coverage.Traces != 1 || one.Coverage.Partial {
		t.Errorf("coverage of %s: %+v", svcHostile, one.Coverage)
	}
	// The main service: everything but the hostile trace (same shape as a
	// normal one), so the sums are the whole store's minus one normal trace.
	var all, main handlers.StageBreakdown
	s.getJSON("/api/stages", http.StatusOK, &all)
	s.getJSON("/api/stages?service="+q(svcMain), http.StatusOK, &main)
	allRows, mainRows := stageMap(all), stageMap(main)
	for name, a := range allRows {
		m := mainRows[name]
		if m.Count != a.Count-1 || m.SelfMs != a.SelfMs-rows[name].SelfMs || m.TotalMs != a.TotalMs-rows[name].TotalMs || m.Errors != a.Errors {
			t.Errorf("stage %s of %s: %+v; whole store %+v", name, svcMain, m, a)
		}
	}
	if main.E2E.Traces != seedTotal-1 || main.E2E.Errors != seedFailing {
		t.Errorf("e2e of %s: %+v", svcMain, main.E2E)
	}
	// Where rollups and traces both answer (a run, all of one service),
	// they agree exactly, percentiles included.
	var runRollup, runTraces handlers.StageBreakdown
	s.getJSON("/api/stages?run="+runCand, http.StatusOK, &runRollup)
	s.getJSON("/api/stages?run="+runCand+"&service="+q(svcMain), http.StatusOK, &runTraces)
	if fmt.Sprint(runRollup.Stages) != fmt.Sprint(runTraces.Stages) || len(runTraces.Stages) == 0 {
		t.Errorf("run %s from rollups %+v\nand from its traces %+v", runCand, runRollup.Stages, runTraces.Stages)
	}

	// Time series.
	from, to := s.base.UnixMilli(), s.base.Add(40*time.Minute).UnixMilli()
	var ts handlers.Series
	s.getJSON(fmt.Sprintf("/api/timeseries?from=%d&to=%d&step=5m&service=%s", from, to, q(svcHostile)), http.StatusOK, &ts)
	var traces int64
	var rerankSelf float64
	for _, p := range ts.Points {
		traces += p.Traces
		rerankSelf += p.Stages["rerank"].SelfMs
	}
	if traces != 1 || rerankSelf != 20 || ts.Service != svcHostile || ts.Coverage == nil || ts.Coverage.Traces != 1 {
		t.Errorf("series of %s: %d traces, rerank self %v, coverage %+v", svcHostile, traces, rerankSelf, ts.Coverage)
	}
	var mts handlers.Series
	s.getJSON(fmt.Sprintf("/api/timeseries?from=%d&to=%d&step=5m&service=%s", from, to, q(svcMain)), http.StatusOK, &mts)
	traces = 0
	var errs int64
	for _, p := range mts.Points {
		traces += p.Traces
		errs += p.Errors
	}
	if traces != seedTotal-1 || errs != seedFailing {
		t.Errorf("series of %s: %d traces, %d errors", svcMain, traces, errs)
	}

	// Report.
	var r handlers.ReportResponse
	s.getJSON("/api/report?service="+q(svcHostile), http.StatusOK, &r)
	if r.TracesAnalysed != 1 || r.Report.Traces != 1 || r.Service != svcHostile {
		t.Errorf("report of %s: %d traces analysed", svcHostile, r.TracesAnalysed)
	}

	// A sampled report of one service knows how many traces it has.
	var sm handlers.ReportResponse
	s.getJSON("/api/report?sample=5&service="+q(svcMain), http.StatusOK, &sm)
	if !sm.Sampled || sm.HashSampled != 5 || sm.TracesAnalysed != 5+sm.SlowAdded || sm.TracesMatched == nil || *sm.TracesMatched != seedTotal-1 {
		t.Errorf("sampled report of %s: sampled %v, analysed %d, matched %v", svcMain, sm.Sampled, sm.TracesAnalysed, sm.TracesMatched)
	}

	// Compare: both sides restricted.
	var c handlers.CompareResponse
	s.getJSON("/api/compare?base_run="+runBase+"&cand_run="+runCand+"&service="+q(svcHostile), http.StatusOK, &c)
	if c.Baseline.TracesAnalysed != 0 || c.Candidate.TracesAnalysed != 0 {
		t.Errorf("compare in %s: %d and %d traces, want none", svcHostile, c.Baseline.TracesAnalysed, c.Candidate.TracesAnalysed)
	}
	s.getJSON("/api/compare?base_run="+runBase+"&cand_run="+runCand+"&service="+q(svcMain), http.StatusOK, &c)
	if c.Baseline.TracesAnalysed != seedRun || c.Candidate.TracesAnalysed != seedRun || c.Comparison.E2E.DeltaMs != 100 {
		t.Errorf("compare in %s: %d and %d traces, e2e delta %v", svcMain, c.Baseline.TracesAnalysed, c.Candidate.TracesAnalysed, c.Comparison.E2E.DeltaMs)
	}

	// Bad values.
	for _, c := range []struct{ path, want string }{
		{"/api/stages?service=" + q("a\x01b"), "control character"},
		{"/api/timeseries?service=" + q(" rag-api"), "leading or trailing spaces"},
		{"/api/traces?service=" + strings.Repeat("s", 300), "too long"},
		{"/api/report?service=a&service=b", "given 2 times"},
		{"/api/compare?base_run=a&cand_run=b&service=" + q("x\ny"), "control character"},
		{"/api/live?service=" + q("\x7f"), "control character"},
		{"/api/traces/" + hostile + "?service=" + q("\t"), "control character"},
		{"/api/services?service=x", `unknown parameter "service"`},
		{"/api/services?from=later", `"from": "later" is not a time`},
	} {
		if msg := s.errorOf(c.path, http.StatusBadRequest); !strings.Contains(msg, c.want) {
			t.Errorf("GET %s: %q, want it to mention %q", c.path, msg, c.want)
		}
	}
}

func stageMap(b handlers.StageBreakdown) map[string]handlers.StageRow {
	m := map[string]handlers.StageRow{}
	for _, r := range b.Stages {
		m[r.Stage] = r
	}
	return m
}

// The live stream of one service announces only that service's traces.
func TestLiveStreamOfOneService(t *testing.T) {
	s := newSeeded(t, handlers.WithLivePoll(10*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, done := liveClient(t, s, ctx, "service=wanted")
	defer done()
	var want spans.TraceID
	for i, svc := range []string{"other", "wanted"} {
		ss, evs := ragTrace(time.Now().Add(time.Duration(i)*time.Millisecond), ragShape{name: "live " + svc, embed: 1, retrieve: 1, rerank: 1, llm: 1, service: svc})
		if err := s.coll.Ingest(ctx, ss, evs); err != nil {
			t.Fatal(err)
		}
		want = ss[0].TraceID
	}
	if err := s.coll.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	name, data, err := nextEvent(r)
	if err != nil {
		t.Fatal(err)
	}
	var row handlers.TraceRow
	if err := jsonUnmarshal([]byte(data), &row); err != nil {
		t.Fatal(err)
	}
	if name != "trace" || row.TraceID != want.String() || row.Service != "wanted" {
		t.Errorf("first event %s %s, want the trace of service wanted", name, data)
	}
}

// A database without the traces_by_service index (made before migration
// 0005, or by a layout that lacks it) gives the same answers, by scanning.
func TestServicesWithoutServiceIndex(t *testing.T) {
	s := newSeeded(t)
	db, err := sql.Open("sqlite3", s.store.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("DROP INDEX traces_by_service"); err != nil {
		t.Fatal(err)
	}
	var l handlers.ServiceList
	s.getJSON("/api/services", http.StatusOK, &l)
	want := []handlers.ServiceRow{{Service: svcHostile, Traces: 1}, {Service: svcMain, Traces: seedTotal - 1}}
	if fmt.Sprint(l.Services) != fmt.Sprint(want) || l.Partial {
		t.Errorf("services without the index: %+v (partial %v), want %+v", l.Services, l.Partial, want)
	}
	var tl handlers.TraceList
	s.getJSON("/api/traces?limit=1000&service="+url.QueryEscape(svcMain), http.StatusOK, &tl)
	if len(tl.Traces) != seedTotal-1 || tl.Partial {
		t.Errorf("traces of %s without the index: %d (partial %v)", svcMain, len(tl.Traces), tl.Partial)
	}
	var st handlers.StageBreakdown
	s.getJSON("/api/stages?service="+url.QueryEscape(svcHostile), http.StatusOK, &st)
	if r := stageMap(st)["rerank"]; r.Count != 1 || r.SelfMs != 20 {
		t.Errorf("rerank of %s without the index: %+v", svcHostile, r)
	}
}
