package handlers_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/collector/analysis"
	"github.com/stagescope/stagescope/handlers"
	"github.com/stagescope/stagescope/spans"
)

const token = "s3cret-token-for-tests"

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

func TestAuthProtectsAPIIngestAndMetrics(t *testing.T) {
	s := newSeeded(t, handlers.WithToken(token))
	for _, path := range []string{"/api/traces", "/api/stages", "/api/report", "/api/runs", "/api/traces/" + s.ids["normal"][0].String(), "/metrics"} {
		code, h, body := s.do(http.MethodGet, path, nil)
		if code != http.StatusUnauthorized || !strings.Contains(string(body), `"error"`) || h.Get("WWW-Authenticate") == "" {
			t.Errorf("GET %s without token: %d %s (WWW-Authenticate %q), want 401 JSON", path, code, body, h.Get("WWW-Authenticate"))
		}
		if msg := s.errorOf(path, http.StatusUnauthorized, bearer("wrong")...); !strings.Contains(msg, "invalid bearer token") {
			t.Errorf("GET %s with a wrong token: %q", path, msg)
		}
		if code, _, body := s.do(http.MethodGet, path, nil, bearer(token)...); code != http.StatusOK {
			t.Errorf("GET %s with the token: %d %s", path, code, body)
		}
	}
	// Ingest needs the token too.
	code, _, body := s.do(http.MethodPost, "/v1/traces", strings.NewReader(otlpJSON(spans.NewTraceID(), "x", time.Now())), "Content-Type", "application/json")
	if code != http.StatusUnauthorized {
		t.Errorf("ingest without token: %d %s", code, body)
	}
	// Open: health, the page, its assets.
	for _, path := range []string{"/api/health", "/", "/assets/js/app.js"} {
		if code, _, body := s.do(http.MethodGet, path, nil); code != http.StatusOK {
			t.Errorf("GET %s without token: %d %.200s, want 200", path, code, body)
		}
	}

	// The dashboard's session: a wrong token gets nothing, the right one a
	// cookie that opens GETs but not ingest.
	if code, h, _ := s.do(http.MethodPost, "/api/session", strings.NewReader(`{"token":"nope"}`), "Content-Type", "application/json"); code != http.StatusUnauthorized || h.Get("Set-Cookie") != "" {
		t.Fatalf("session with a wrong token: %d, cookie %q", code, h.Get("Set-Cookie"))
	}
	code, h, body := s.do(http.MethodPost, "/api/session", strings.NewReader(`{"token":"`+token+`"}`), "Content-Type", "application/json")
	cookie := h.Get("Set-Cookie")
	if code != http.StatusOK || !strings.Contains(cookie, handlers.SessionCookie+"=") || !strings.Contains(cookie, "HttpOnly") || !strings.Contains(cookie, "SameSite=Strict") {
		t.Fatalf("session: %d %s, cookie %q", code, body, cookie)
	}
	ck := strings.SplitN(cookie, ";", 2)[0]
	var list handlers.TraceList
	s.getJSON("/api/traces?limit=1000", http.StatusOK, &list, "Cookie", ck)
	if len(list.Traces) != seedTotal {
		t.Errorf("with the session cookie: %d traces, want %d", len(list.Traces), seedTotal)
	}
	code, _, _ = s.do(http.MethodPost, "/v1/traces", strings.NewReader(otlpJSON(spans.NewTraceID(), "x", time.Now())), "Content-Type", "application/json", "Cookie", ck)
	if code != http.StatusUnauthorized {
		t.Errorf("ingest with only the session cookie: %d, want 401", code)
	}
	s.errorOf("/api/traces", http.StatusUnauthorized, "Cookie", handlers.SessionCookie+"=forged")
}

func TestBodyLimit(t *testing.T) {
	s := newSeeded(t, handlers.WithMaxBodyBytes(1024))
	big := otlpJSON(spans.NewTraceID(), strings.Repeat("x", 2000), time.Now())
	code, _, body := s.do(http.MethodPost, "/v1/traces", strings.NewReader(big), "Content-Type", "application/json")
	if code != http.StatusRequestEntityTooLarge || !strings.Contains(string(body), "limit is 1024 bytes") {
		t.Errorf("oversized body: %d %s, want 413 JSON", code, body)
	}
	// Without a Content-Length (chunked), the limit holds as the body arrives.
	req, _ := http.NewRequest(http.MethodPost, s.ts.URL+"/v1/traces", io.MultiReader(strings.NewReader(big)))
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	res, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked oversized body: %d %s", res.StatusCode, b)
	}
	// A small body passes the limit and is stored.
	id := spans.NewTraceID()
	code, _, body = s.do(http.MethodPost, "/v1/traces", strings.NewReader(otlpJSON(id, "small", time.Now())), "Content-Type", "application/json")
	if code != http.StatusOK {
		t.Fatalf("small body: %d %s", code, body)
	}
	var d handlers.TraceDetail
	s.getJSON("/api/traces/"+id.String(), http.StatusOK, &d)
	if d.Name != "small" || len(d.Spans) != 1 {
		t.Errorf("ingested trace: %+v", d.TraceRow)
	}
}

func TestRequestTimeout(t *testing.T) {
	s := newSeeded(t, handlers.WithRequestTimeout(time.Nanosecond))
	msg := s.errorOf("/api/traces", http.StatusGatewayTimeout)
	if !strings.Contains(msg, "timed out") {
		t.Errorf("timeout message %q", msg)
	}
}

func TestBadParametersGetClearErrors(t *testing.T) {
	s := newSeeded(t)
	for _, c := range []struct{ path, want string }{
		{"/api/traces?stage=bogus", `unknown stage "bogus"`},
		{"/api/traces?status=broken", `unknown status "broken"`},
		{"/api/traces?min_duration=fast", `"min_duration": "fast" is not a duration`},
		{"/api/traces?min_duration=-5ms", `out of range`},
		{"/api/traces?from=last%20tuesday", `"from": "last tuesday" is not a time (want RFC 3339`},
		{"/api/traces?min_duration=1s&max_duration=500ms", `"max_duration" (500ms) is below "min_duration" (1s)`},
		{"/api/traces?from=2000&to=1000", `"from" (1970-01-01T00:00:02Z) is after "to"`},
		{"/api/traces?to=99999999999999999", `out of range`},
		{"/api/traces?limit=0", `"limit": "0" is not a whole number from 1 to 1000`},
		{"/api/traces?limit=abc", `is not a whole number`},
		{"/api/traces?cursor=garbage", `not a cursor`},
		{"/api/traces?attr=novalue", `is not key=value`},
		{"/api/traces?name=" + url.QueryEscape("a\x00b"), `control character`},
		{"/api/traces?name=" + strings.Repeat("n", 300), `too long`},
		{"/api/traces?colour=red", `unknown parameter "colour"`},
		{"/api/traces?stage=llm&stage=rerank", `given 2 times`},
		{"/api/traces/xyz", `trace id "xyz" is invalid`},
		{"/api/traces/" + strings.Repeat("0", 32), `invalid`},
		{"/api/timeseries?step=10s", `below the one-minute resolution`},
		{"/api/report?slow_quantile=2", `"slow_quantile"`},
		{"/api/report?sample=-1", `"sample"`},
		{"/api/compare?base_run=a", `candidate side needs cand_run`},
		{"/api/compare?base_run=a&base_from=1&cand_run=b", `either base_run or base_from`},
		{"/api/runs?x=1", `takes no parameters`},
	} {
		msg := s.errorOf(c.path, http.StatusBadRequest)
		if !strings.Contains(msg, c.want) {
			t.Errorf("GET %s: error %q, want it to mention %q", c.path, msg, c.want)
		}
	}
	s.errorOf("/api/traces/"+spans.NewTraceID().String(), http.StatusNotFound)
	if msg := s.errorOf("/api/nothing", http.StatusNotFound); !strings.Contains(msg, "no such route") {
		t.Errorf("unknown route: %q", msg)
	}
	if msg := s.errorOf("/api/compare?base_run=nope&cand_run="+runCand, http.StatusBadRequest); !strings.Contains(msg, `run "nope" does not exist`) {
		t.Errorf("unknown run: %q", msg)
	}
}

// Every filter gets the classic injection strings. Each request must be a
// 400 or a correct answer (free-text filters match nothing, since no trace
// has such a name), and the database must be intact afterwards.
func TestSQLInjectionInEveryFilter(t *testing.T) {
	s := newSeeded(t)
	payloads := []string{
		`' OR 1=1 --`, `"; DROP TABLE spans; --`, `') OR ('1'='1`, `1; DELETE FROM traces`,
		`%' OR '%'='`, `1 UNION SELECT * FROM runs --`, `\'; DROP TABLE traces; --`,
	}
	filters := []string{"from", "to", "service", "stage", "status", "min_duration", "max_duration", "name", "attr", "run", "cursor", "limit"}
	for _, f := range filters {
		for _, p := range payloads {
			values := []string{p}
			if f == "attr" {
				values = []string{"customer=" + p, p + "=acme", p}
			}
			for _, v := range values {
				path := "/api/traces?" + url.Values{f: {v}}.Encode()
				code, _, body := s.do(http.MethodGet, path, nil)
				switch code {
				case http.StatusBadRequest:
				case http.StatusOK:
					var l handlers.TraceList
					if err := jsonUnmarshal(body, &l); err != nil {
						t.Fatalf("%s: %v", path, err)
					}
					if len(l.Traces) != 0 {
						t.Errorf("GET %s: %d traces, want none", path, len(l.Traces))
					}
				default:
					t.Errorf("GET %s: status %d %s, want 400 or 200", path, code, body)
				}
			}
		}
	}
	for _, p := range payloads {
		for _, path := range []string{
			"/api/traces/" + url.PathEscape(p),
			"/api/stages?run=" + url.QueryEscape(p),
			"/api/report?run=" + url.QueryEscape(p),
			"/api/compare?base_run=" + url.QueryEscape(p) + "&cand_run=" + runCand,
			"/api/timeseries?from=" + url.QueryEscape(p),
		} {
			code, _, body := s.do(http.MethodGet, path, nil)
			if code != http.StatusBadRequest && code != http.StatusOK && code != http.StatusNotFound {
				t.Errorf("GET %s: %d %s", path, code, body)
			}
		}
	}
	// Intact: every trace, span and run is still there.
	var all handlers.TraceList
	s.getJSON("/api/traces?limit=1000", http.StatusOK, &all)
	if len(all.Traces) != seedTotal {
		t.Fatalf("after injection attempts: %d traces, want %d", len(all.Traces), seedTotal)
	}
	var d handlers.TraceDetail
	s.getJSON("/api/traces/"+s.ids["slow"][0].String(), http.StatusOK, &d)
	if len(d.Spans) != spansPerRAG {
		t.Errorf("after injection attempts: %d spans in a trace, want %d", len(d.Spans), spansPerRAG)
	}
	var runs handlers.RunList
	s.getJSON("/api/runs", http.StatusOK, &runs)
	if len(runs.Runs) != 2 {
		t.Errorf("after injection attempts: %d runs, want 2", len(runs.Runs))
	}
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	s := newSeeded(t, handlers.WithToken(token))
	for _, c := range []struct {
		method, path string
		code         int
	}{
		{"GET", "/", 200}, {"GET", "/assets/js/app.js", 200}, {"GET", "/assets/vendor/uplot/uPlot.iife.min.js", 200},
		{"GET", "/api/health", 200}, {"GET", "/api/traces", 401}, {"GET", "/nope", 404}, {"GET", "/assets/../go.mod", 404},
		{"POST", "/v1/traces", 401},
	} {
		code, h, body := s.do(c.method, c.path, nil)
		if code != c.code {
			t.Errorf("%s %s: %d %.100s, want %d", c.method, c.path, code, body, c.code)
		}
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"script-src 'self'", "frame-ancestors 'none'", "default-src 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s %s: CSP %q lacks %q", c.method, c.path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s %s: CSP %q allows unsafe sources", c.method, c.path, csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" || h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s %s: headers %v", c.method, c.path, h)
		}
		if code >= 400 && !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
			t.Errorf("%s %s: error with content type %q", c.method, c.path, h.Get("Content-Type"))
		}
	}
	_, h, _ := s.do("GET", "/assets/js/app.js", nil)
	if ct := h.Get("Content-Type"); !strings.Contains(ct, "javascript") {
		t.Errorf("app.js served as %q", ct)
	}
}

func TestTraceListFiltersAndPages(t *testing.T) {
	s := newSeeded(t)
	count := func(query string) []handlers.TraceRow {
		t.Helper()
		var l handlers.TraceList
		s.getJSON("/api/traces?limit=1000&"+query, http.StatusOK, &l)
		return l.Traces
	}
	for _, c := range []struct {
		query string
		want  int
	}{
		{"", seedTotal},
		{"stage=rerank", seedTotal},
		{"stage=tool", 0},
		{"status=error", seedFailing},
		{"min_duration=500ms", seedSlow},
		{"min_duration=500", seedSlow},
		{"max_duration=150ms", seedTotal - seedSlow - seedRun},
		{"min_duration=150ms&max_duration=500ms", seedRun}, // the candidate run's 200 ms traces
		{"name=" + url.QueryEscape("slow rerank"), seedSlow},
		{"attr=customer%3Dacme", 1},
		{"run=" + runBase, seedRun},
		{"service=hostile", 1},
		{"from=" + fmt.Sprint(s.base.Add(10*time.Minute).UnixMilli()) + "&to=" + fmt.Sprint(s.base.Add(14*time.Minute).UnixMilli()), 5},
		{"from=now-2h", seedTotal},
	} {
		if got := count(c.query); len(got) != c.want {
			t.Errorf("traces?%s: %d, want %d", c.query, len(got), c.want)
		}
	}
	errs := count("status=error")
	for _, r := range errs {
		if r.Name != nameFailing || r.Status != "error" || r.Errors != 3 {
			t.Errorf("error filter returned %+v", r)
		}
	}
	// Pages of 7 cover everything once, newest first.
	var seen []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
		var l handlers.TraceList
		s.getJSON("/api/traces?limit=7&cursor="+url.QueryEscape(cursor), http.StatusOK, &l)
		for i, r := range l.Traces {
			if len(seen) > 0 && i == 0 && r.StartMs > 0 && slices.Contains(seen, r.TraceID) {
				t.Fatalf("trace %s repeated across pages", r.TraceID)
			}
			seen = append(seen, r.TraceID)
		}
		if l.NextCursor == "" {
			break
		}
		cursor = l.NextCursor
	}
	if len(seen) != seedTotal || len(slices.Compact(slices.Sorted(slices.Values(seen)))) != seedTotal {
		t.Errorf("pages returned %d traces (%d distinct), want %d", len(seen), len(slices.Compact(slices.Sorted(slices.Values(seen)))), seedTotal)
	}
}

func TestTraceDetail(t *testing.T) {
	s := newSeeded(t, handlers.WithJaegerUI("http://127.0.0.1:16686/"))
	id := s.ids["slow"][0]
	var d handlers.TraceDetail
	s.getJSON("/api/traces/"+id.String(), http.StatusOK, &d)
	if d.TraceID != id.String() || d.Name != nameSlow || len(d.Spans) != spansPerRAG {
		t.Fatalf("trace %s: name %q, %d spans", d.TraceID, d.Name, len(d.Spans))
	}
	if d.JaegerURL != "http://127.0.0.1:16686/trace/"+id.String() {
		t.Errorf("jaeger url %q", d.JaegerURL)
	}
	wantOrder := []struct {
		name  string
		depth int
	}{{nameSlow, 0}, {"embed query", 1}, {"retrieve top-k", 1}, {"rerank passages", 1}, {"synthesize answer", 1}, {"chat completion", 2}}
	byName := map[string]handlers.SpanDetail{}
	for i, sp := range d.Spans {
		if sp.Name != wantOrder[i].name || sp.Depth != wantOrder[i].depth {
			t.Errorf("span %d: %q at depth %d, want %q at %d", i, sp.Name, sp.Depth, wantOrder[i].name, wantOrder[i].depth)
		}
		byName[sp.Name] = sp
	}
	total := 10.0 + 30 + slowRerankMs + 40
	if d.DurationMs != total {
		t.Errorf("duration %v ms, want %v", d.DurationMs, total)
	}
	rr := byName["rerank passages"]
	if !rr.Critical || rr.CriticalMs != slowRerankMs || rr.DurationMs != slowRerankMs || rr.OffsetMs != 40 {
		t.Errorf("rerank: critical %v %v ms, duration %v, offset %v", rr.Critical, rr.CriticalMs, rr.DurationMs, rr.OffsetMs)
	}
	// The sequential spans tile the root: it has no self time; synth has
	// 2 ms around its llm call.
	if root := byName[nameSlow]; root.SelfMs != 0 || !root.Critical {
		t.Errorf("root self %v ms, critical %v", root.SelfMs, root.Critical)
	}
	if synth := byName["synthesize answer"]; synth.SelfMs != 2 {
		t.Errorf("synth self %v ms, want 2", synth.SelfMs)
	}
	var cpTotal float64
	for _, seg := range d.CriticalPath {
		cpTotal += seg.DurationMs
	}
	if cpTotal != total {
		t.Errorf("critical path adds up to %v ms, want %v", cpTotal, total)
	}
	llm := byName["chat completion"]
	if llm.Tokens == nil || llm.Tokens.Prompt != 900 || llm.Tokens.Completion != 120 || llm.Tokens.Model != "gpt-4o-mini" {
		t.Errorf("llm tokens %+v", llm.Tokens)
	}
	// The call streamed: first token at 15 ms of 38.
	if ft := llm.FirstToken; ft == nil || ft.TTFTMs != seedTTFTMs || ft.StreamMs != 23 {
		t.Errorf("llm first token %+v", ft)
	}
	if byName["rerank passages"].FirstToken != nil {
		t.Error("rerank has a first token")
	}
	ret := byName["retrieve top-k"]
	if len(ret.Events) != 1 || ret.Events[0].Name != "retrieval.end" || ret.Events[0].OffsetMs != 40 || len(ret.Events[0].Attrs) != 2 {
		t.Errorf("retrieve events %+v", ret.Events)
	}

	var f handlers.TraceDetail
	s.getJSON("/api/traces/"+s.ids["failing"][0].String(), http.StatusOK, &f)
	for _, sp := range f.Spans {
		if sp.Name == "chat completion" && (sp.Status != "error" || sp.Error != "rate limited by provider") {
			t.Errorf("failed llm span: %s %q", sp.Status, sp.Error)
		}
	}
}

func TestStagesTimeseriesAndHealth(t *testing.T) {
	s := newSeeded(t)
	var st handlers.StageBreakdown
	s.getJSON("/api/stages", http.StatusOK, &st)
	stages := map[string]handlers.StageRow{}
	for _, r := range st.Stages {
		stages[r.Stage] = r
	}
	if r := stages["rerank"]; r.Count != seedTotal || r.SelfMs != float64(20*(seedTotal-seedSlow)+slowRerankMs*seedSlow) {
		t.Errorf("rerank row %+v", r)
	}
	if r := stages["llm"]; r.Errors != seedFailing {
		t.Errorf("llm errors %d, want %d", r.Errors, seedFailing)
	}
	if st.E2E == nil || st.E2E.Traces != seedTotal || st.E2E.Errors != seedFailing {
		t.Errorf("e2e %+v", st.E2E)
	}
	var run handlers.StageBreakdown
	s.getJSON("/api/stages?run="+runCand, http.StatusOK, &run)
	for _, r := range run.Stages {
		if r.Count != seedRun {
			t.Errorf("run %s stage %s: %d spans, want %d", runCand, r.Stage, r.Count, seedRun)
		}
	}

	var ts handlers.Series
	from, to := s.base.UnixMilli(), s.base.Add(40*time.Minute).UnixMilli()
	s.getJSON(fmt.Sprintf("/api/timeseries?from=%d&to=%d&step=5m", from, to), http.StatusOK, &ts)
	var traces, errs int64
	var rerankSelf float64
	for _, p := range ts.Points {
		traces += p.Traces
		errs += p.Errors
		rerankSelf += p.Stages["rerank"].SelfMs
	}
	if ts.StepMs != 300_000 || traces != seedTotal || errs != seedFailing || rerankSelf != stages["rerank"].SelfMs {
		t.Errorf("series: step %d, %d traces, %d errors, rerank self %v (want %v)", ts.StepMs, traces, errs, rerankSelf, stages["rerank"].SelfMs)
	}
	if !slices.Contains(ts.Stages, "rerank") || !slices.Contains(ts.Stages, "llm") {
		t.Errorf("series stages %v", ts.Stages)
	}
	// Without from, the series starts near the first trace.
	var all handlers.Series
	s.getJSON("/api/timeseries", http.StatusOK, &all)
	if all.From.After(s.base) || s.base.Sub(all.From) > time.Hour {
		t.Errorf("open series starts at %v, first trace at %v", all.From, s.base)
	}

	var h handlers.Health
	s.getJSON("/api/health", http.StatusOK, &h)
	if h.Status != "ok" || !h.Ingest || h.Auth {
		t.Errorf("health %+v", h)
	}
}

func TestReportAndCompare(t *testing.T) {
	s := newSeeded(t)
	var r handlers.ReportResponse
	s.getJSON("/api/report", http.StatusOK, &r)
	if r.Sampled || r.TracesAnalysed != seedTotal || r.Report.Traces != seedTotal {
		t.Fatalf("report: sampled %v, analysed %d, report of %d", r.Sampled, r.TracesAnalysed, r.Report.Traces)
	}
	if len(r.Report.Findings) == 0 {
		t.Fatal("report without findings")
	}
	var small handlers.ReportResponse
	s.getJSON("/api/report?sample=5", http.StatusOK, &small)
	// Five drawn by hash, plus the slow traces (≥ the window's p95) the
	// hash did not draw.
	if !small.Sampled || small.HashSampled != 5 || small.TracesAnalysed != 5+small.SlowAdded || small.SlowTraces < seedSlow || small.TracesMatched == nil || *small.TracesMatched != seedTotal {
		t.Errorf("sampled report: sampled %v, analysed %d (%d by hash, %d slow added), matched %v", small.Sampled, small.TracesAnalysed, small.HashSampled, small.SlowAdded, small.TracesMatched)
	}
	// The sample is weighted back to the window: a trace below the slow
	// threshold stands for 1/hash rate traces, a slow one for itself.
	if w := small.Report.Weighting; !w.Weighted || w.HashRate != small.HashRate || w.SlowThreshold != small.SlowThreshold || w.Represented <= float64(small.TracesAnalysed) {
		t.Errorf("sampled report weighting %+v, sample hash rate %v threshold %v", w, small.HashRate, small.SlowThreshold)
	}
	if r.Report.Weighting.Weighted || r.Report.Weighting.Represented != seedTotal {
		t.Errorf("a report of every trace is weighted: %+v", r.Report.Weighting)
	}
	var slow handlers.ReportResponse
	s.getJSON("/api/report?name=slow", http.StatusOK, &slow)
	if slow.TracesAnalysed != seedSlow || slow.Report.Findings[0].Stage != spans.StageRerank {
		t.Errorf("report of the slow traces: %d traces, first finding %v", slow.TracesAnalysed, slow.Report.Findings[0].Stage)
	}

	var c handlers.CompareResponse
	s.getJSON("/api/compare?base_run="+runBase+"&cand_run="+runCand, http.StatusOK, &c)
	if c.Baseline.TracesAnalysed != seedRun || c.Candidate.TracesAnalysed != seedRun {
		t.Fatalf("compare sides: %d and %d traces", c.Baseline.TracesAnalysed, c.Candidate.TracesAnalysed)
	}
	if !slices.Contains(c.Comparison.Regressions, spans.StageLLM) || slices.Contains(c.Comparison.Regressions, spans.StageRerank) {
		t.Errorf("regressions %v, want llm only", c.Comparison.Regressions)
	}
	if d := c.Comparison.E2E.DeltaMs; d != 100 {
		t.Errorf("e2e delta %v ms, want 100", d)
	}
	// The two runs' configs differ in the model only.
	if cd := c.Comparison.ConfigDiff; !c.Comparison.ConfigCompared || len(cd) != 1 ||
		cd[0] != (analysis.ConfigChange{Key: "llm.model", Baseline: `"small"`, Candidate: `"large"`}) {
		t.Errorf("config diff %v %+v", c.Comparison.ConfigCompared, cd)
	}
	if f := c.Comparison.Findings; len(f) == 0 || !strings.Contains(f[0].Recommendation, `llm.model: "small" → "large"`) {
		t.Errorf("regression findings %+v do not name the changed setting", f)
	}
	if cmp := c.Comparison; cmp.ConfigCompared {
		for _, d := range cmp.Stages {
			if d.Stage == spans.StageLLM && (d.Exemplars == nil || d.Exemplars.Baseline.IsZero() || d.Exemplars.Candidate.IsZero()) {
				t.Errorf("llm changed but has no typical traces: %+v", d)
			}
		}
	}
	// Sampled sides are each weighted back to their own run.
	var cs handlers.CompareResponse
	s.getJSON("/api/compare?sample=5&base_run="+runBase+"&cand_run="+runCand, http.StatusOK, &cs)
	for _, side := range []struct {
		smp handlers.Sample
		rep *analysis.Report
	}{{cs.Baseline, cs.Comparison.Baseline}, {cs.Candidate, cs.Comparison.Candidate}} {
		if w := side.rep.Weighting; !side.smp.Sampled || !w.Weighted || w.HashRate != side.smp.HashRate || w.SlowThreshold != side.smp.SlowThreshold {
			t.Errorf("sampled compare side: sampled %v, hash rate %v, threshold %v; weighting %+v", side.smp.Sampled, side.smp.HashRate, side.smp.SlowThreshold, w)
		}
	}
	// Windows work too: the first ten minutes against the next ten.
	w := func(m int) int64 { return s.base.Add(time.Duration(m) * time.Minute).UnixMilli() }
	var cw handlers.CompareResponse
	s.getJSON(fmt.Sprintf("/api/compare?base_from=%d&base_to=%d&cand_from=%d&cand_to=%d", w(0), w(10)-1, w(10), w(20)-1), http.StatusOK, &cw)
	if cw.Baseline.TracesAnalysed != 10 || cw.Candidate.TracesAnalysed != 10 {
		t.Errorf("window sides: %d and %d traces", cw.Baseline.TracesAnalysed, cw.Candidate.TracesAnalysed)
	}
	if cw.Comparison.ConfigCompared || cw.Comparison.ConfigDiff == nil || len(cw.Comparison.ConfigDiff) != 0 {
		t.Errorf("two windows have no run configs to diff: %v %v", cw.Comparison.ConfigCompared, cw.Comparison.ConfigDiff)
	}

	var runs handlers.RunList
	s.getJSON("/api/runs", http.StatusOK, &runs)
	if len(runs.Runs) != 2 || runs.Runs[0].ID != runCand || !strings.Contains(string(runs.Runs[1].Summary), `"mrr":0.61`) || runs.Runs[0].Finished.IsZero() {
		t.Errorf("runs %+v", runs.Runs)
	}
}

func TestMetrics(t *testing.T) {
	s := newSeeded(t)
	s.do("GET", "/api/traces", nil)
	code, h, body := s.do("GET", "/metrics", nil)
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
		t.Fatalf("metrics: %d %q", code, h.Get("Content-Type"))
	}
	for _, want := range []string{
		`stagescope_http_requests_total{code="200",route="/api/traces"} 1`,
		"stagescope_live_clients 0",
		"stagescope_collector_batch_seconds",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// liveClient opens /api/live and returns a line reader once the stream has
// said it is connected.
func liveClient(t *testing.T, s *seeded, ctx context.Context, query ...string) (*bufio.Reader, func()) {
	t.Helper()
	path := "/api/live"
	if len(query) > 0 {
		path += "?" + query[0]
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.ts.URL+path, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("live: %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	r := bufio.NewReader(res.Body)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("live: %v before connected", err)
		}
		if line == ": connected\n" {
			break
		}
	}
	return r, func() { res.Body.Close() }
}

// nextEvent reads the next named event and its data.
func nextEvent(r *bufio.Reader) (name, data string, err error) {
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return "", "", err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		case line == "" && name != "":
			return name, data, nil
		}
	}
}

func TestLiveDeliversNewTraces(t *testing.T) {
	s := newSeeded(t, handlers.WithLivePoll(10*time.Millisecond), handlers.WithLiveHeartbeat(20*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, done := liveClient(t, s, ctx)
	defer done()

	id := spans.NewTraceID()
	code, _, body := s.do(http.MethodPost, "/v1/traces", strings.NewReader(otlpJSON(id, "arrived live", time.Now())), "Content-Type", "application/json")
	if code != 200 {
		t.Fatalf("ingest: %d %s", code, body)
	}
	name, data, err := nextEvent(r)
	if err != nil {
		t.Fatal(err)
	}
	var row handlers.TraceRow
	if err := jsonUnmarshal([]byte(data), &row); err != nil {
		t.Fatal(err)
	}
	// The seeded traces were there before: the first event is the new one.
	if name != "trace" || row.TraceID != id.String() || row.Name != "arrived live" || row.Service != "live-test" {
		t.Errorf("first event %s %s", name, data)
	}
	var m string
	for !strings.Contains(m, "stagescope_live_clients 1") {
		_, _, b := s.do("GET", "/metrics", nil)
		m = string(b)
	}
	done()
	for !strings.Contains(m, "stagescope_live_clients 0") {
		_, _, b := s.do("GET", "/metrics", nil)
		m = string(b)
	}
}

func TestLiveEndsOnShutdown(t *testing.T) {
	s := newSeeded(t, handlers.WithLivePoll(10*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, done := liveClient(t, s, ctx)
	defer done()
	s.srv.Close()
	name, _, err := nextEvent(r)
	if err != nil || name != "bye" {
		t.Fatalf("after Close: event %q, %v", name, err)
	}
	if _, err := r.ReadString('\n'); err != io.EOF {
		t.Errorf("stream not closed: %v", err)
	}
	if msg := s.errorOf("/api/live", http.StatusServiceUnavailable); !strings.Contains(msg, "shutting down") {
		t.Errorf("live after Close: %q", msg)
	}
}

func TestLiveClientLimit(t *testing.T) {
	s := newSeeded(t, handlers.WithMaxLiveClients(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, done := liveClient(t, s, ctx)
	defer done()
	if msg := s.errorOf("/api/live", http.StatusServiceUnavailable); !strings.Contains(msg, "too many") {
		t.Errorf("second live client: %q", msg)
	}
}

func TestReadOnlyServerWithoutCollector(t *testing.T) {
	s := newSeeded(t)
	srv := handlers.New(s.store, nil)
	defer srv.Close()
	rec := httptestRecorder(srv, http.MethodPost, "/v1/traces")
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "read-only") {
		t.Errorf("ingest on a read-only server: %d %s", rec.Code, rec.Body)
	}
	if rec := httptestRecorder(srv, http.MethodGet, "/api/traces"); rec.Code != 200 {
		t.Errorf("list on a read-only server: %d", rec.Code)
	}
}

var _ = collector.ErrNotFound
