package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/handlers/debug"
	"github.com/stagescope/stagescope/spans"
)

// target is the attach tests' program under load (testdata/attachtarget)
// running in its own process.
type target struct {
	cmd   *exec.Cmd
	url   string
	truth string
	token string
	done  chan error
	out   *bytes.Buffer
}

func startTarget(t *testing.T) *target {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "attachtarget")
	if out, err := exec.Command("go", "build", "-o", bin, "./testdata/attachtarget").CombinedOutput(); err != nil {
		t.Fatalf("cannot build the attach target: %v\n%s", err, out)
	}
	tg := &target{truth: filepath.Join(dir, "truth.txt"), token: "t0ken", done: make(chan error, 1), out: &bytes.Buffer{}}
	tg.cmd = exec.Command(bin)
	tg.cmd.Env = append(os.Environ(), "ATTACH_TOKEN="+tg.token, "TRUTH_FILE="+tg.truth)
	tg.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	tg.cmd.Stderr = tg.out
	stdout, err := tg.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := tg.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				found <- u
			}
		}
		tg.done <- tg.cmd.Wait()
	}()
	select {
	case tg.url = <-found:
	case err := <-tg.done:
		t.Fatalf("the attach target exited (%v): %s", err, tg.out)
	case <-time.After(2 * time.Minute):
		_ = tg.cmd.Process.Kill()
		t.Fatalf("the attach target did not start: %s", tg.out)
	}
	t.Cleanup(func() {
		if tg.cmd.ProcessState == nil {
			_ = tg.cmd.Process.Kill()
			<-tg.done
		}
	})
	return tg
}

// ended maps every span the target saw end to its end (Unix ns); the
// target writes them when it stops.
func (tg *target) stop(t *testing.T) map[spans.TraceID]map[spans.SpanID]int64 {
	t.Helper()
	if err := tg.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-tg.done; err != nil {
		t.Fatalf("the attach target failed: %v\n%s", err, tg.out)
	}
	b, err := os.ReadFile(tg.truth)
	if err != nil {
		t.Fatal(err)
	}
	out := map[spans.TraceID]map[spans.SpanID]int64{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		tid, err1 := spans.ParseTraceID(f[0])
		sid, err2 := spans.ParseSpanID(f[1])
		end, err3 := strconv.ParseInt(f[2], 10, 64)
		if err := errors.Join(err1, err2, err3); err != nil {
			t.Fatalf("truth line %q: %v", line, err)
		}
		if out[tid] == nil {
			out[tid] = map[spans.SpanID]int64{}
		}
		out[tid][sid] = end
	}
	return out
}

// tree reads the target's dispatcher tree.
func (tg *target) tree(t *testing.T) *debug.Tree {
	t.Helper()
	c, err := debug.NewClient(tg.url, tg.token)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := c.Dispatchers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// waitSubscribed waits until the target's tap is (or is no longer)
// attached; it fails after a minute.
func (tg *target) waitSubscribed(t *testing.T, want bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); tg.tree(t).Recorder.Subscribed != want; {
		if time.Now().After(deadline) {
			t.Fatalf("the target's tap did not become subscribed=%v", want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// leftAsItWas checks that nothing of an attachment remains in the target:
// the root's handlers are the program's own, no tap, no stream goroutine.
func (tg *target) leftAsItWas(t *testing.T) {
	t.Helper()
	tr := tg.tree(t)
	if tr.Recorder.Subscribed {
		t.Fatal("the flight recorder's tap stays after detach")
	}
	root := tr.Dispatchers[0]
	if strings.Join(root.SpanHandlers, ",") != "*flight.Recorder,*main.truth" || strings.Join(root.EventHandlers, ",") != "*flight.Recorder" {
		t.Fatalf("root handlers after detach: %v / %v", root.SpanHandlers, root.EventHandlers)
	}
	for _, d := range tr.Dispatchers[1:] {
		if len(d.SpanHandlers)+len(d.EventHandlers) > 0 || d.Sampling != 1 {
			t.Fatalf("dispatcher %q changed: %+v", d.Name, d)
		}
	}
	resp, err := http.Get(strings.TrimSuffix(tg.url, debug.Path) + "/debug/pprof/goroutine?debug=2")
	if err != nil {
		t.Fatal(err)
	}
	dump, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if bytes.Contains(dump, []byte("handlers/debug.(*streamer)")) || bytes.Contains(dump, []byte("handlers/debug.(*server).stream")) {
		t.Fatalf("a stream goroutine remains after detach:\n%s", dump)
	}
}

// attachRun is the summary attach --json prints.
func attachRun(t *testing.T, stdout string) attachOutput {
	t.Helper()
	var out attachOutput
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("attach --json printed %q: %v", stdout, err)
	}
	return out
}

// checkNothingLost asserts that every span that ended in the target while
// an attachment was attached is in the store.
func checkNothingLost(t *testing.T, name string, st *collector.SQLiteStore, truth map[spans.TraceID]map[spans.SpanID]int64, run attachOutput) {
	t.Helper()
	from, to := run.Attached.UnixNano(), run.Cutoff.UnixNano()
	want, traces := 0, 0
	for tid, ss := range truth {
		var during []spans.SpanID
		for sid, end := range ss {
			if end > from && end <= to {
				during = append(during, sid)
			}
		}
		if len(during) == 0 {
			continue
		}
		traces++
		want += len(during)
		tr, err := st.GetTrace(context.Background(), tid)
		if err != nil {
			t.Fatalf("%s: trace %s had %d spans end while attached but: %v", name, tid, len(during), err)
		}
		have := map[spans.SpanID]bool{}
		for _, s := range tr.Spans {
			have[s.SpanID] = true
		}
		for _, sid := range during {
			if !have[sid] {
				t.Fatalf("%s: span %s of trace %s ended while attached and is not in the database", name, sid, tid)
			}
		}
	}
	if want < 100 || run.Streamed < want || run.Dropped != 0 {
		t.Fatalf("%s: %d spans ended while attached (%d traces), %d streamed, %d dropped", name, want, traces, run.Streamed, run.Dropped)
	}
	t.Logf("%s: all %d spans of %d traces that ended while attached are stored (%d from the snapshot)", name, want, traces, run.SnapshotSpans)
}

// TestAttachToARunningPipeline attaches to the engine under load in another
// process, over real HTTP, again and again: until --for, until Ctrl-C, into
// a running serve; with a wrong token, beside another attacher, and after
// one that vanished mid-stream. Each time nothing that ended while attached
// is missing and nothing of the attachment remains in the program.
func TestAttachToARunningPipeline(t *testing.T) {
	tg := startTarget(t)
	dirs := map[string]string{"for": t.TempDir(), "ctrl-c": t.TempDir()}
	var runs = map[string]attachOutput{}

	// 1. --for
	r := mustRun(t, nil, "attach", "--token", tg.token, "--data", dirs["for"], "--for", "1500ms", "--json", tg.url)
	runs["for"] = attachRun(t, r.stdout)
	if runs["for"].Ended != "for" || runs["for"].SnapshotSpans == 0 || !strings.Contains(r.stderr, "query") {
		t.Fatalf("attach --for: %+v\nstderr: %s", runs["for"], r.stderr)
	}
	tg.leftAsItWas(t)

	// 2. Ctrl-C
	cmd := exec.Command(binary, "attach", "--token", tg.token, "--data", dirs["ctrl-c"], "--json", "--every", "100ms", tg.url)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tg.waitSubscribed(t, true)
	time.Sleep(time.Second) // attached for a while under load
	_ = cmd.Process.Signal(os.Interrupt)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("attach after Ctrl-C: %v\n%s", err, errb.String())
	}
	runs["ctrl-c"] = attachRun(t, out.String())
	if runs["ctrl-c"].Ended != "detach" {
		t.Fatalf("attach ended by Ctrl-C: %+v", runs["ctrl-c"])
	}
	tg.leftAsItWas(t)

	// 3. Into a running serve.
	serveDir := t.TempDir()
	srv := startServer(t, "serve", "--addr", "127.0.0.1:0", "--data", serveDir)
	r = mustRun(t, nil, "attach", "--token", tg.token, "--to", srv.url, "--for", "1s", "--json", tg.url)
	runs["serve"] = attachRun(t, r.stdout)
	if !strings.HasSuffix(runs["serve"].Into, "/v1/traces") {
		t.Fatalf("attach --to went into %q", runs["serve"].Into)
	}
	tg.leftAsItWas(t)

	// 4. A wrong token: refused, clearly, and nothing attached.
	if r := runCmd(t, nil, "attach", "--token", "wrong", "--data", t.TempDir(), "--for", "1s", tg.url); r.code != 1 || !strings.Contains(r.stderr, "refused the token") {
		t.Fatalf("wrong token: exit %d, %s", r.code, r.stderr)
	}
	tg.leftAsItWas(t)

	// 5. A second attacher is refused while the first goes on; the first
	// then vanishes mid-stream (killed: no detach) and the program recovers.
	first := exec.Command(binary, "attach", "--token", tg.token, "--data", t.TempDir(), tg.url)
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	tg.waitSubscribed(t, true)
	if r := runCmd(t, nil, "attach", "--token", tg.token, "--data", t.TempDir(), "--for", "1s", tg.url); r.code != 1 || !strings.Contains(r.stderr, "another client is attached") {
		t.Fatalf("second attacher: exit %d, %s", r.code, r.stderr)
	}
	_ = first.Process.Kill()
	_ = first.Wait()
	tg.waitSubscribed(t, false)
	tg.leftAsItWas(t)
	r = mustRun(t, nil, "attach", "--token", tg.token, "--data", t.TempDir(), "--snapshot", tg.url)
	if !strings.Contains(r.stdout, "spans into") {
		t.Fatalf("snapshot after a vanished attacher: %s", r.stdout)
	}

	truth := tg.stop(t)
	if code := srv.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("serve exited %d: %s", code, srv.stderr)
	}
	for name, dir := range map[string]string{"for": dirs["for"], "ctrl-c": dirs["ctrl-c"], "serve": serveDir} {
		st, err := openStoreReadOnly(dir)
		if err != nil {
			t.Fatal(err)
		}
		checkNothingLost(t, name, st, truth, runs[name])
		st.Close()
	}
	// The report reads what was attached.
	// The report reads whole minutes, the minute under way left out: wait
	// until the first attachment's minute is over.
	time.Sleep(time.Until(runs["for"].Cutoff.Truncate(time.Minute).Add(time.Minute + time.Second)))
	now := time.Now().UTC()
	rep := mustRun(t, nil, "report", "--data", dirs["for"], "--from", now.Add(-10*time.Minute).Format(time.RFC3339),
		"--to", now.Add(2*time.Minute).Format(time.RFC3339))
	if !strings.Contains(rep.stdout, "rerank") || strings.Contains(rep.stdout, "No traces") {
		t.Fatalf("report of the attached data:\n%s", rep.stdout)
	}
}
