package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stagescope/stagescope/collector/jaeger/jaegertest"
	"go.uber.org/goleak"
)

// binary is the stagescope command built once by TestMain, run by the
// tests as a user would.
var binary string

func TestMain(m *testing.M) {
	code := func() int {
		dir, err := os.MkdirTemp("", "stagescope-cmd-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		binary = filepath.Join(dir, "stagescope")
		build := exec.Command("go", "build", "-o", binary, ".")
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "cannot build stagescope: %v\n%s", err, out)
			return 1
		}
		backend, backendErr = jaegertest.StartFromEnv()
		defer func() {
			if backend != nil {
				backend.Stop()
			}
		}()
		return m.Run()
	}()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// result is how a finished command ended.
type result struct {
	code           int
	stdout, stderr string
}

// runCmd runs the binary to completion.
func runCmd(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("cannot run stagescope %v: %v", args, err)
	}
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// mustRun runs the binary and fails the test unless it exits 0.
func mustRun(t *testing.T, env []string, args ...string) result {
	t.Helper()
	r := runCmd(t, env, args...)
	if r.code != 0 {
		t.Fatalf("stagescope %v exited %d\nstdout:\n%s\nstderr:\n%s", args, r.code, r.stdout, r.stderr)
	}
	return r
}

// server is a stagescope serve (or demo) process running in the background.
type server struct {
	cmd    *exec.Cmd
	url    string
	stderr *bytes.Buffer
	done   chan error
}

var urlLine = regexp.MustCompile(`dashboard at (http://127\.0\.0\.1:\d+/)`)

// startServer starts the binary and waits for it to print its URL.
func startServer(t *testing.T, args ...string) *server {
	t.Helper()
	return startServerEnv(t, nil, args...)
}

// startServerEnv is startServer with extra environment variables.
func startServerEnv(t *testing.T, env []string, args ...string) *server {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, stderr: &bytes.Buffer{}, done: make(chan error, 1)}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := urlLine.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		s.done <- cmd.Wait()
	}()
	select {
	case s.url = <-found:
	case err := <-s.done:
		t.Fatalf("stagescope %v exited before serving (%v): %s", args, err, s.stderr)
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		<-s.done
		t.Fatalf("stagescope %v printed no URL within a minute: %s", args, s.stderr)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			select {
			case <-s.done:
			case <-time.After(10 * time.Second):
			}
		}
	})
	return s
}

// stop sends sig and returns the exit code.
func (s *server) stop(t *testing.T, sig os.Signal) int {
	t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(time.Minute):
		_ = s.cmd.Process.Kill()
		<-s.done
		t.Fatalf("stagescope did not exit within a minute of %v: %s", sig, s.stderr)
		return -1
	}
}

func TestHelpOfEveryCommand(t *testing.T) {
	cases := map[string][]string{
		"serve":         {"-addr", "-data", "-token", "-export-jaeger", "-jaeger-ui", "-retention-age", "-retention-mb", "STAGESCOPE_ADDR", "STAGESCOPE_DATA", "OTEL_SERVICE_NAME"},
		"demo":          {"-addr", "-data", "-plant", "-duration", "-queries", "-workers", "-export-jaeger", "-llm-latency", "(default 24h0m0s)", "(default 1024)"},
		"bench":         {"-top-k", "-top-n", "-modes", "-workers", "-questions", "-seed", "-data", "-json"},
		"report":        {"-data", "-run", "-from", "-to", "-since", "-json", "-jaeger", "-service", "-prices", "STAGESCOPE_PRICES"},
		"attach":        {"-data", "-to", "-token", "-for", "-snapshot", "STAGESCOPE_DEBUG_TOKEN"},
		"export jaeger": {"-data", "-run", "-trace", "-from", "-to", "-service", "-default-service", "-protocol", "-endpoint", "OTEL_EXPORTER_OTLP_ENDPOINT", "thrift"},
	}
	for name, flags := range cases {
		t.Run(name, func(t *testing.T) {
			args := append(strings.Fields(name), "--help")
			r := runCmd(t, nil, args...)
			if r.code != 0 {
				t.Fatalf("%v exited %d: %s", args, r.code, r.stderr)
			}
			if !strings.Contains(r.stdout, "Usage: stagescope "+name) {
				t.Fatalf("help of %s lacks its usage line:\n%s", name, r.stdout)
			}
			for _, f := range flags {
				if !strings.Contains(r.stdout, f) {
					t.Errorf("help of %s does not mention %s:\n%s", name, f, r.stdout)
				}
			}
			if h := runCmd(t, nil, append([]string{"help"}, strings.Fields(name)...)...); h.code != 0 || h.stdout != r.stdout {
				t.Errorf("help %s: exit %d, and not the text of --help:\n%s", name, h.code, h.stdout)
			}
			bad := runCmd(t, nil, append(strings.Fields(name), "--no-such-flag")...)
			if bad.code != 2 || !strings.Contains(bad.stderr, "flag provided but not defined: -no-such-flag") ||
				!strings.Contains(bad.stderr, "stagescope "+name+" --help") {
				t.Fatalf("bad flag: exit %d, stderr %q", bad.code, bad.stderr)
			}
			if bad.stdout != "" {
				t.Fatalf("bad flag printed to stdout: %q", bad.stdout)
			}
		})
	}
	if r := runCmd(t, nil, "--help"); r.code != 0 || !strings.Contains(r.stdout, "export jaeger") {
		t.Fatalf("top-level help: exit %d, %q", r.code, r.stdout)
	}
	// serve keeps everything unless told; the demo, which writes about half
	// a gigabyte an hour, keeps a day and a gigabyte.
	if r := runCmd(t, nil, "serve", "--help"); strings.Contains(r.stdout, "(default 24h0m0s)") || strings.Contains(r.stdout, "(default 1024)") {
		t.Errorf("serve has the demo's retention defaults:\n%s", r.stdout)
	}
	// The revision is there when the build stamped it (-buildvcs).
	for _, args := range [][]string{{"version"}, {"--version"}} {
		r := runCmd(t, nil, args...)
		if r.code != 0 || !regexp.MustCompile(`^stagescope \S+( [0-9a-f]{12}(\+modified)?( \(.+\))?)? go1\.\S+ \w+/\w+\n$`).MatchString(r.stdout) {
			t.Errorf("stagescope %v: exit %d, %q", args, r.code, r.stdout)
		}
	}
	for _, args := range [][]string{{}, {"frobnicate"}, {"export"}, {"export", "zipkin"}, {"bench", "--top-k", "x"},
		{"bench", "--top-k", "2", "--top-n", "3"}, {"demo", "--plant", "query=latency:1ms"}, {"demo", "--plant", "rerank=latency:soon"},
		{"report", "--jaeger", "http://127.0.0.1:1"}, {"export", "jaeger", "--protocol", "zipkin"}, {"report", "--from", "last tuesday"},
		{"serve", "extra-argument"}, {"help", "frobnicate"}, {"attach"}, {"attach", "ftp://x/"}, {"attach", "http://127.0.0.1:1/", "extra"},
		{"attach", "--snapshot", "--for", "1s", "http://127.0.0.1:1/"}} {
		if r := runCmd(t, nil, args...); r.code != 2 || r.stderr == "" {
			t.Errorf("stagescope %v: exit %d, stderr %q; want 2 and a message", args, r.code, r.stderr)
		}
	}
}
