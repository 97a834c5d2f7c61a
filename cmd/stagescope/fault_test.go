package main

// The fault-injection suite: each test runs the built binary, does to it
// what goes wrong in production, and asserts the exact outcome.

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/spans"
)

func randomTraceID() string {
	var b [16]byte
	rand.Read(b[:])
	b[0] |= 1
	return hex.EncodeToString(b[:])
}

// postTrace posts one three-span trace and returns the status.
func postTrace(client *http.Client, url, id string) (int, string, error) {
	resp, err := client.Post(url+"v1/traces", "application/json", strings.NewReader(otlpTrace(id, time.Now().Add(-time.Second))))
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// kill -9 while clients ingest: every trace that got a 200 is in the
// database, whole, when it is opened again.
func TestKill9MidIngestKeepsEveryAcknowledgedTrace(t *testing.T) {
	data := t.TempDir()
	s := startServer(t, "serve", "--addr", "127.0.0.1:0", "--data", data)
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	var mu sync.Mutex
	var acked []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				id := randomTraceID()
				code, _, err := postTrace(client, s.url, id)
				if err != nil {
					return // the server is gone
				}
				if code == http.StatusOK {
					mu.Lock()
					acked = append(acked, id)
					mu.Unlock()
				}
			}
		}()
	}
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 300 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-s.done
	close(stop)
	wg.Wait()

	st, err := collector.OpenSQLite(filepath.Join(data, databaseFile))
	if err != nil {
		t.Fatalf("reopen after kill -9: %v", err)
	}
	defer st.Close()
	mu.Lock()
	defer mu.Unlock()
	for _, id := range acked {
		tid, _ := spans.ParseTraceID(id)
		tr, err := st.GetTrace(context.Background(), tid)
		if err != nil || len(tr.Spans) != 3 {
			t.Fatalf("acknowledged trace %s after kill -9: %v", id, err)
		}
	}
	t.Logf("%d acknowledged traces, all stored", len(acked))
}

// SIGTERM while one client is stalled mid-upload: the stalled request is
// cut after half the shutdown timeout, everything acknowledged is flushed
// with a deadline of its own, and serve exits 0.
func TestSIGTERMWithAStalledUploadExitsZero(t *testing.T) {
	s := startServer(t, "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--shutdown-timeout", "4s")
	conn, err := net.Dial("tcp", strings.TrimPrefix(strings.TrimSuffix(s.url, "/"), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-protobuf\r\nContent-Length: 100000\r\n\r\n0123456789")
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	if code, body, err := postTrace(client, s.url, randomTraceID()); err != nil || code != http.StatusOK {
		t.Fatalf("ingest: %d %s %v", code, body, err)
	}
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d: %s", code, s.stderr)
	}
	out := s.stderr.String()
	if !strings.Contains(out, "were cut") || !strings.Contains(out, "3 spans and 0 events written") {
		t.Fatalf("stderr: %s", out)
	}
}

// The database deleted under a running serve: ingest answers 503 (nothing
// more is acknowledged), health 503, and the log says why, once.
func TestDatabaseDeletedWhileServing(t *testing.T) {
	data := t.TempDir()
	s := startServer(t, "serve", "--addr", "127.0.0.1:0", "--data", data)
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	if code, body, err := postTrace(client, s.url, randomTraceID()); err != nil || code != http.StatusOK {
		t.Fatalf("ingest: %d %s %v", code, body, err)
	}
	for _, f := range []string{databaseFile, databaseFile + "-wal", databaseFile + "-shm"} {
		os.Remove(filepath.Join(data, f))
	}
	for range 3 {
		code, body, err := postTrace(client, s.url, randomTraceID())
		if err != nil || code != http.StatusServiceUnavailable || !strings.Contains(body, "deleted") {
			t.Fatalf("ingest after the database was deleted: %d %s %v", code, body, err)
		}
	}
	resp, err := client.Get(s.url + "api/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("health: %d", resp.StatusCode)
	}
	s.stop(t, syscall.SIGTERM)
	if out := s.stderr.String(); strings.Count(out, "store fault") != 1 || !strings.Contains(out, "was deleted while the store was open") {
		t.Fatalf("stderr: %s", out)
	}
}

// A database with a corrupt page is refused at start with what
// quick_check found, instead of serving until a query meets it.
func TestCorruptDatabaseRefusedAtStart(t *testing.T) {
	data := t.TempDir()
	s := startServer(t, "serve", "--addr", "127.0.0.1:0", "--data", data)
	client := &http.Client{Timeout: 10 * time.Second}
	for range 20 {
		if code, body, err := postTrace(client, s.url, randomTraceID()); err != nil || code != http.StatusOK {
			t.Fatalf("ingest: %d %s %v", code, body, err)
		}
	}
	client.CloseIdleConnections()
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d", code)
	}
	path := filepath.Join(data, databaseFile)
	st, err := collector.OpenSQLite(path, collector.WithReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	var root, pageSize int64
	st.DB().QueryRow("SELECT rootpage FROM sqlite_master WHERE name = 'traces'").Scan(&root)
	st.DB().QueryRow("PRAGMA page_size").Scan(&pageSize)
	st.Close()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte(strings.Repeat("\xde\xad\xbe\xef", int(pageSize)/4)), (root-1)*pageSize)
	f.Close()
	r := runCmd(t, nil, "serve", "--addr", "127.0.0.1:0", "--data", data)
	if r.code != 1 || !strings.Contains(r.stderr, "the database is corrupt (PRAGMA quick_check)") {
		t.Fatalf("serve on a corrupt database: exit %d: %s", r.code, r.stderr)
	}
}

// Listening beyond loopback without a token needs an explicit
// confirmation, and then warns loudly.
func TestServeBeyondLoopbackWithoutTokenNeedsConfirmation(t *testing.T) {
	r := runCmd(t, nil, "serve", "--addr", "0.0.0.0:0", "--data", t.TempDir())
	if r.code != 2 || !strings.Contains(r.stderr, "--allow-unauthenticated") || !strings.Contains(r.stderr, "--token") {
		t.Fatalf("0.0.0.0 without a token: exit %d: %s", r.code, r.stderr)
	}
	cmd := exec.Command(binary, "serve", "--addr", "0.0.0.0:0", "--data", t.TempDir(), "--allow-unauthenticated")
	stderr, _ := cmd.StderrPipe()
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	line, err := bufio.NewReader(stderr).ReadString('\n')
	if err != nil || !strings.Contains(line, "WARNING") || !strings.Contains(line, "WITHOUT AUTHENTICATION") {
		t.Fatalf("first line of stderr: %q %v", line, err)
	}
	// With a token, no confirmation is needed.
	r = runCmd(t, []string{"STAGESCOPE_TOKEN="}, "serve", "--addr", "0.0.0.0:0", "--data", "/proc/no-such-dir", "--token", "t")
	if strings.Contains(r.stderr, "--allow-unauthenticated") {
		t.Fatalf("with a token: %s", r.stderr)
	}
}

// Caller mistakes on the command line are usage errors naming the range.
func TestReportWindowOutOfRange(t *testing.T) {
	data := t.TempDir()
	s := startServer(t, "serve", "--addr", "127.0.0.1:0", "--data", data)
	s.stop(t, syscall.SIGTERM)
	for args, want := range map[string]string{
		"--to 2300-01-01T00:00:00Z":   "--to: 2300-01-01T00:00:00Z is out of range: times run from 1970-01-01T00:00:00Z to 2262-04-11T23:47:16Z",
		"--from yesterday --to today": "",
		"--from 2030-01-01T00:00:00Z": "--from 2030-01-01T00:00:00Z is in the future",
		"--since 2562047h":            "--from 1",
	} {
		r := runCmd(t, nil, append([]string{"report", "--data", data}, strings.Fields(args)...)...)
		if want == "" { // a window people write: accepted
			if r.code != 0 {
				t.Errorf("report %s: exit %d: %s", args, r.code, r.stderr)
			}
			continue
		}
		if r.code != 2 || !strings.Contains(r.stderr, want) {
			t.Errorf("report %s: exit %d: %s", args, r.code, r.stderr)
		}
	}
}

// report reads a database on a read-only file system (a WAL database
// cannot get its shared-memory file there): it reads the file as immutable
// instead of failing with "no such file or directory". Needs the right to
// bind-mount (root in a container); skipped otherwise.
func TestReportOnReadOnlyFileSystem(t *testing.T) {
	data := t.TempDir()
	s := startServer(t, "serve", "--addr", "127.0.0.1:0", "--data", data)
	client := &http.Client{Timeout: 10 * time.Second}
	if code, body, err := postTrace(client, s.url, randomTraceID()); err != nil || code != http.StatusOK {
		t.Fatalf("ingest: %d %s %v", code, body, err)
	}
	client.CloseIdleConnections()
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d", code)
	}
	ro := t.TempDir()
	if out, err := exec.Command("mount", "--bind", data, ro).CombinedOutput(); err != nil {
		t.Skipf("cannot bind-mount: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", ro).Run() })
	if out, err := exec.Command("mount", "-o", "remount,ro,bind", ro).CombinedOutput(); err != nil {
		t.Skipf("cannot remount read-only: %v %s", err, out)
	}
	if err := os.WriteFile(filepath.Join(ro, "probe"), nil, 0o600); err == nil {
		t.Fatal("the mount is writable")
	}
	r := runCmd(t, nil, "report", "--data", ro)
	if r.code != 0 || !strings.Contains(r.stdout, "Bottleneck report — 1 traces") {
		t.Fatalf("report on a read-only file system: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// A full disk under a running serve (a small tmpfs, filled by another
// file): ingest answers 503 saying the disk is full and acknowledges
// nothing; once space comes back the client's retry of the same request is
// stored, once, and health is ok again. Needs mount (root in a container);
// skipped otherwise.
func TestDiskFullWhileServing(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	data := filepath.Join(dir, "data")
	s := startServer(t, "serve", "--addr", "127.0.0.1:0", "--data", data)
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	first := randomTraceID()
	if code, body, err := postTrace(client, s.url, first); err != nil || code != http.StatusOK {
		t.Fatalf("ingest before the disk fills: %d %s %v", code, body, err)
	}

	// Fill the file system.
	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			break
		}
	}
	f.Close()

	// Requests until the writer meets the full disk (the WAL may still have
	// room for a few); every refusal says why, and nothing refused is
	// acknowledged.
	var full string
	var acked []string
	for i := 0; i < 2000 && full == ""; i++ {
		id := randomTraceID()
		code, body, err := postTrace(client, s.url, id)
		if err != nil {
			t.Fatal(err)
		}
		switch code {
		case http.StatusOK:
			acked = append(acked, id)
		case http.StatusServiceUnavailable:
			if !strings.Contains(body, "full") {
				t.Fatalf("503 without saying the disk is full: %s", body)
			}
			full = id
		default:
			t.Fatalf("status %d on a full disk: %s", code, body)
		}
	}
	if full == "" {
		t.Fatalf("2000 requests acknowledged on a full disk")
	}

	// Space comes back; the client retries the refused request.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	var code int
	var body string
	for range 50 {
		if code, body, err = postTrace(client, s.url, full); err == nil && code == http.StatusOK {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code != http.StatusOK {
		t.Fatalf("retry after space came back: %d %s %v", code, body, err)
	}
	resp, err := client.Get(s.url + "api/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("health after space came back: %d", resp.StatusCode)
	}
	if code := s.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d: %s", code, s.stderr)
	}
	st, err := collector.OpenSQLite(filepath.Join(data, databaseFile), collector.WithReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, id := range append(append(acked, first), full) {
		tid, _ := spans.ParseTraceID(id)
		tr, err := st.GetTrace(context.Background(), tid)
		if err != nil || len(tr.Spans) != 3 {
			t.Fatalf("trace %s: %v (%d spans, want 3, stored once)", id, err, len(tr.Spans))
		}
	}
	t.Logf("%d acknowledged before the disk was full; the refused request stored on retry", len(acked))
}
