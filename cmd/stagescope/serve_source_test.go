package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stagescope/stagescope/collector/jaeger"
	"github.com/stagescope/stagescope/spans"
)

func TestServeSourceFlagsRefuseWhatCannotWork(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--source", "mysql"}, `--source "mysql": unknown source; want sqlite or jaeger=URL`},
		{[]string{"--source", "jaeger"}, "--source jaeger needs the query service's URL"},
		{[]string{"--source", "jaeger="}, "--source jaeger needs the query service's URL"},
		{[]string{"--source", "jaeger=ftp://host:16686"}, "want the http(s) URL of a Jaeger query service"},
		{[]string{"--source", "jaeger=http://"}, "want the http(s) URL of a Jaeger query service"},
		{[]string{"--source", "jaeger=127.0.0.1:16686"}, "want the http(s) URL of a Jaeger query service"},
		{[]string{"--source", "sqlite=x.db"}, "--source sqlite takes no URL"},
		{[]string{"--prometheus", "http://127.0.0.1:9090"}, "--prometheus goes with --source jaeger=URL"},
		{[]string{"--source", "jaeger=http://127.0.0.1:16686", "--prometheus", "127.0.0.1:9090"}, "want the http(s) URL of a Prometheus server"},
		{[]string{"--source", "jaeger=http://127.0.0.1:16686", "--export-jaeger", "http://127.0.0.1:4318"}, "--export-jaeger is for the sqlite source"},
		{[]string{"--source", "jaeger=http://127.0.0.1:16686", "--data", t.TempDir()}, "--data is for the sqlite source"},
	} {
		r := runCmd(t, nil, append([]string{"serve", "--addr", "127.0.0.1:0"}, c.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("serve %v: exit %d, stderr %q; want 2 and %q", c.args, r.code, r.stderr, c.want)
		}
	}
}

func TestServeOverJaeger(t *testing.T) {
	j := needJaeger(t)
	client := &http.Client{Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	id := spans.NewTraceID().String()
	start := time.Now().Add(-2 * time.Minute)
	resp, err := client.Post(j.OTLPURL+"/v1/traces", "application/json", strings.NewReader(otlpTrace(id, start)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("OTLP to Jaeger: %d", resp.StatusCode)
	}
	qc, err := jaeger.NewQueryClient(j.QueryURL)
	if err != nil {
		t.Fatal(err)
	}
	defer qc.Close()
	tid, _ := spans.ParseTraceID(id)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if tr, err := qc.GetTrace(context.Background(), tid); err == nil && len(tr.Spans) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the trace never showed up in Jaeger")
		}
	}

	s := startServer(t, "serve", "--addr", "127.0.0.1:0", "--source", "jaeger="+j.QueryURL)
	var h struct {
		Status string `json:"status"`
		Ingest bool   `json:"ingest"`
		Source struct {
			Kind       string `json:"kind"`
			Aggregates string `json:"aggregates"`
			ReadOnly   bool   `json:"read_only"`
		} `json:"source"`
	}
	getJSON(t, client, s.url+"api/health", &h)
	if h.Status != "ok" || h.Ingest || h.Source.Kind != "jaeger" || h.Source.Aggregates != "trace sample" || !h.Source.ReadOnly {
		t.Errorf("health over Jaeger: %+v", h)
	}
	var d traceDetail
	getJSON(t, client, s.url+"api/traces/"+id, &d)
	if d.Service != "cmd-test" || len(d.Spans) != 3 || d.Spans[0].Stage != "chain" || d.Spans[2].Stage != "llm" || d.Spans[2].Status != "error" {
		t.Errorf("trace read through serve --source jaeger: %+v", d)
	}
	var list struct {
		Traces []struct {
			TraceID string `json:"trace_id"`
		} `json:"traces"`
	}
	from := start.Add(-time.Minute).UnixMilli()
	getJSON(t, client, s.url+"api/traces?service=cmd-test&status=with_errors&stage=llm&from="+strconv.FormatInt(from, 10)+"&to="+strconv.FormatInt(time.Now().UnixMilli(), 10)+"&limit=1000", &list)
	found := false
	for _, tr := range list.Traces {
		found = found || tr.TraceID == id
	}
	if !found {
		t.Errorf("the trace is not in the list of its service's traces: %+v", list)
	}
	// Spans go to Jaeger, not here, and the answer says so.
	resp, err = client.Post(s.url+"v1/traces", "application/json", strings.NewReader(otlpTrace(spans.NewTraceID().String(), start)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "OTLP ingest is off: this server reads traces from jaeger") {
		t.Errorf("OTLP to a Jaeger-backed serve: %d %s", resp.StatusCode, body)
	}
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("serve exited %d: %s", code, s.stderr)
	}
}

// With --prometheus the stage aggregates come from it: a Prometheus that
// is down is a 502 naming it, while traces still come from Jaeger.
func TestServeOverJaegerWithPrometheus(t *testing.T) {
	j := needJaeger(t)
	client := &http.Client{Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	s := startServer(t, "serve", "--addr", "127.0.0.1:0", "--source", "jaeger="+j.QueryURL, "--prometheus", "http://127.0.0.1:1")
	var h struct {
		Status string `json:"status"`
		Source struct {
			Aggregates string `json:"aggregates"`
		} `json:"source"`
	}
	getJSON(t, client, s.url+"api/health", &h)
	if h.Status != "ok" || h.Source.Aggregates != "metrics" {
		t.Errorf("health: %+v", h)
	}
	resp, err := client.Get(s.url + "api/stages")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "source unavailable: prometheus:") {
		t.Errorf("stages with Prometheus down: %d %s", resp.StatusCode, body)
	}
	var list struct {
		Traces []json.RawMessage `json:"traces"`
	}
	getJSON(t, client, s.url+"api/traces?limit=1", &list)
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("serve exited %d: %s", code, s.stderr)
	}
}

func TestServeOverJaegerThatIsDown(t *testing.T) {
	client := &http.Client{Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	s := startServer(t, "serve", "--addr", "127.0.0.1:0", "--source", "jaeger=http://127.0.0.1:1")
	resp, err := client.Get(s.url + "api/health")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "the jaeger query service does not answer") {
		t.Errorf("health with Jaeger down: %d %s", resp.StatusCode, body)
	}
	resp, err = client.Get(s.url + "api/stages")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "jaeger query API unreachable") {
		t.Errorf("stages with Jaeger down: %d %s", resp.StatusCode, body)
	}
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("serve exited %d: %s", code, s.stderr)
	}
}
