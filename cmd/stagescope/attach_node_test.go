package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestNodeFlightRecorderExample runs tools/attach-node: a Node.js pipeline
// with the OpenTelemetry SDK keeps its spans in memory and sends them to a
// running serve on SIGUSR2. It needs node and the example's modules
// (npm ci in tools/attach-node); without them it is skipped.
func TestNodeFlightRecorderExample(t *testing.T) {
	skip := func(why string) {
		if os.Getenv("STAGESCOPE_REQUIRE_ALL") == "1" {
			t.Fatalf("%s, and STAGESCOPE_REQUIRE_ALL=1", why)
		}
		t.Skip(why)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		skip("node is not installed")
	}
	dir, _ := filepath.Abs("../../tools/attach-node")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@opentelemetry", "sdk-trace")); err != nil {
		skip("tools/attach-node has no node_modules: run npm ci there")
	}
	srv := startServer(t, "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir())
	cmd := exec.Command(node, "pipeline.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "STAGESCOPE_URL="+srv.url, "QUERIES=25")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	lines := bufio.NewScanner(stdout)
	expect := func(prefix string) string {
		t.Helper()
		for lines.Scan() {
			if strings.HasPrefix(lines.Text(), prefix) {
				return lines.Text()
			}
		}
		t.Fatalf("node pipeline: no %q line; stderr: %s", prefix, stderr.String())
		return ""
	}
	expect("done ") // 25 queries ran; nothing was sent yet
	if n := nodeTraces(t, srv.url); n != 0 {
		t.Fatalf("%d traces arrived before the signal", n)
	}
	if err := cmd.Process.Signal(syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	if got := expect("flushed "); got != "flushed 100" {
		t.Fatalf("node pipeline: %q, want the 100 spans of 25 queries", got)
	}
	if n := nodeTraces(t, srv.url); n != 25 {
		t.Fatalf("serve holds %d traces of node-rag, want 25", n)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("node pipeline: %v: %s", err, stderr.String())
	}
}

// nodeTraces counts the traces of service node-rag that serve holds, each
// with its four spans and stages.
func nodeTraces(t *testing.T, base string) int {
	t.Helper()
	resp, err := http.Get(base + "api/traces?service=node-rag&limit=100")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Traces []struct {
			Spans  int      `json:"spans"`
			Stages []string `json:"stages"`
		} `json:"traces"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	for _, tr := range body.Traces {
		if tr.Spans != 4 || strings.Join(tr.Stages, ",") != "retrieve,rerank,llm,chain" {
			t.Fatalf("node trace: %+v", tr)
		}
	}
	return len(body.Traces)
}
