package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// otlpTrace is an OTLP/JSON request with one trace: a root and two
// children, the second failed.
func otlpTrace(traceID string, start time.Time) string {
	ns := func(d time.Duration) string { return fmt.Sprint(start.Add(d).UnixNano()) }
	return `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"cmd-test"}}]},
 "scopeSpans":[{"scope":{"name":"test"},"spans":[
  {"traceId":"` + traceID + `","spanId":"1000000000000001","name":"query","kind":2,
   "startTimeUnixNano":"` + ns(0) + `","endTimeUnixNano":"` + ns(90*time.Millisecond) + `",
   "attributes":[{"key":"openinference.span.kind","value":{"stringValue":"CHAIN"}}]},
  {"traceId":"` + traceID + `","spanId":"1000000000000002","parentSpanId":"1000000000000001","name":"retrieve",
   "startTimeUnixNano":"` + ns(time.Millisecond) + `","endTimeUnixNano":"` + ns(30*time.Millisecond) + `",
   "attributes":[{"key":"openinference.span.kind","value":{"stringValue":"RETRIEVER"}}]},
  {"traceId":"` + traceID + `","spanId":"1000000000000003","parentSpanId":"1000000000000001","name":"llm.chat",
   "startTimeUnixNano":"` + ns(31*time.Millisecond) + `","endTimeUnixNano":"` + ns(89*time.Millisecond) + `",
   "status":{"code":2,"message":"rate limited"},
   "attributes":[{"key":"gen_ai.operation.name","value":{"stringValue":"chat"}}]}
 ]}]}]}`
}

// getJSON fetches url into v, failing unless the answer is 200.
func getJSON(t *testing.T, client *http.Client, url string, v any) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v in %s", url, err, body)
	}
}

type traceDetail struct {
	TraceID string `json:"trace_id"`
	Service string `json:"service"`
	Spans   []struct {
		SpanID   string `json:"span_id"`
		ParentID string `json:"parent_id"`
		Name     string `json:"name"`
		Stage    string `json:"stage"`
		Status   string `json:"status"`
	} `json:"spans"`
}

func TestServeIngestsSurvivesSIGTERMAndRestart(t *testing.T) {
	data := t.TempDir()
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()

	s := startServer(t, "serve", "--addr", "127.0.0.1:0", "--data", data)
	ids := []string{"0af7651916cd43dd8448eb211c80319c", "0af7651916cd43dd8448eb211c80319d"}
	start := time.Now().Add(-time.Second)
	for i, id := range ids {
		resp, err := client.Post(s.url+"v1/traces", "application/json", strings.NewReader(otlpTrace(id, start.Add(time.Duration(i)*time.Millisecond))))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("OTLP ingest: %d %s", resp.StatusCode, body)
		}
	}
	var list struct {
		Traces []struct {
			TraceID string   `json:"trace_id"`
			Spans   int      `json:"spans"`
			Errors  int      `json:"errors"`
			Service string   `json:"service"`
			Stages  []string `json:"stages"`
		} `json:"traces"`
	}
	getJSON(t, client, s.url+"api/traces?limit=10", &list)
	if len(list.Traces) != 2 {
		t.Fatalf("%d traces listed, want 2: %+v", len(list.Traces), list)
	}
	for _, tr := range list.Traces {
		if tr.Spans != 3 || tr.Errors != 1 || tr.Service != "cmd-test" || (tr.TraceID != ids[0] && tr.TraceID != ids[1]) {
			t.Fatalf("trace row %+v", tr)
		}
	}
	checkDetail := func(url string) {
		t.Helper()
		var d traceDetail
		getJSON(t, client, url+"api/traces/"+ids[1], &d)
		if d.TraceID != ids[1] || len(d.Spans) != 3 {
			t.Fatalf("trace detail %+v", d)
		}
		stages := map[string]string{}
		for _, sp := range d.Spans {
			stages[sp.Name] = sp.Stage
			if sp.Name != "query" && sp.ParentID != "1000000000000001" {
				t.Fatalf("span %s has parent %q", sp.Name, sp.ParentID)
			}
		}
		if stages["retrieve"] != "retrieve" || stages["llm.chat"] != "llm" {
			t.Fatalf("stages %v", stages)
		}
	}
	checkDetail(s.url)

	// While serve writes the database, report reads it (read-only), and a
	// second writer is refused with a clear message.
	if r := mustRun(t, nil, "report", "--data", data, "--json"); !strings.Contains(r.stdout, `"traces"`) {
		t.Fatalf("report beside a running serve: %s", r.stdout)
	}
	if r := runCmd(t, nil, "bench", "--data", data, "--questions", "1"); r.code == 0 || !strings.Contains(r.stderr, "another stagescope store") {
		t.Fatalf("a second writer was not refused: exit %d, %s", r.code, r.stderr)
	}

	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("serve exited %d on SIGTERM: %s", code, s.stderr)
	}
	if !strings.Contains(s.stderr.String(), "6 spans and") {
		t.Fatalf("shutdown did not report the 6 spans written: %s", s.stderr)
	}

	// A new process on the same data directory still has both traces.
	s2 := startServer(t, "serve", "--addr", "127.0.0.1:0", "--data", data)
	getJSON(t, client, s2.url+"api/traces?limit=10", &list)
	if len(list.Traces) != 2 {
		t.Fatalf("after restart %d traces, want 2", len(list.Traces))
	}
	checkDetail(s2.url)
	var runs struct {
		Runs []json.RawMessage `json:"runs"`
	}
	getJSON(t, client, s2.url+"api/runs", &runs)
	if code := s2.stop(t, syscall.SIGINT); code != 0 {
		t.Fatalf("serve exited %d on SIGINT: %s", code, s2.stderr)
	}

	// The report command reads the same database.
	r := mustRun(t, nil, "report", "--data", data, "--json")
	var rep struct {
		Traces int `json:"traces"`
		Spans  int `json:"spans"`
		Stages []struct {
			Stage  string `json:"stage"`
			Count  int    `json:"count"`
			Errors int    `json:"errors"`
		} `json:"stages"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("report --json: %v in %s", err, r.stdout)
	}
	if rep.Traces != 2 || rep.Spans != 6 {
		t.Fatalf("report: %d traces, %d spans", rep.Traces, rep.Spans)
	}
	counts := map[string][2]int{}
	for _, st := range rep.Stages {
		counts[st.Stage] = [2]int{st.Count, st.Errors}
	}
	if counts["retrieve"] != [2]int{2, 0} || counts["llm"] != [2]int{2, 2} {
		t.Fatalf("report stages %+v", rep.Stages)
	}
	text := mustRun(t, nil, "report", "--data", data)
	if !strings.Contains(text.stdout, "Bottleneck report — 2 traces, 6 spans") || !strings.Contains(text.stdout, "llm") {
		t.Fatalf("text report:\n%s", text.stdout)
	}
}

func TestServeRequiresTokenFromEnvironment(t *testing.T) {
	data := t.TempDir()
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	cmdEnv := "STAGESCOPE_TOKEN=s3cret"
	h := runCmd(t, []string{cmdEnv}, "serve", "--help")
	if strings.Contains(h.stdout, "s3cret") {
		t.Fatal("--help prints the token")
	}
	s := startServerEnv(t, []string{cmdEnv, "STAGESCOPE_DATA=" + data}, "serve", "--addr", "127.0.0.1:0")
	resp, err := client.Get(s.url + "api/traces")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("without token: %d, want 401", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodGet, s.url+"api/traces", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("with token: %d, want 200", resp.StatusCode)
	}
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(s.stderr.String(), "0 spans and") {
		t.Fatalf("stderr %s", s.stderr)
	}
}
