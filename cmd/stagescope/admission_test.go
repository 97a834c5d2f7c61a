package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/stagescope/stagescope/collector/otlpconv/otlptest"
)

// peakRSS is a process's peak resident set (VmHWM), in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

// maxSizeBodies makes n protobuf requests just under 8 MiB (the default body
// limit), with distinct trace ids, and returns them with the spans and
// events each holds.
func maxSizeBodies(t *testing.T, n int) (bodies [][]byte, nspans, nevents int) {
	t.Helper()
	req, nspans, nevents := otlptest.RequestOfSize(rand.New(rand.NewPCG(12, 1)), 8<<20)
	for i := range n {
		for _, sp := range req.ResourceSpans[0].ScopeSpans[0].Spans {
			sp.TraceId[15] = byte(i)
		}
		b, err := proto.Marshal(req)
		if err != nil || len(b) > 8<<20 {
			t.Fatalf("request of %d bytes: %v", len(b), err)
		}
		bodies = append(bodies, b)
	}
	return bodies, nspans, nevents
}

// postUntilStored posts body until it gets 200, waiting as Retry-After
// says on 429 and 503, and returns the statuses it got.
func postUntilStored(client *http.Client, url string, body []byte) (codes []int, err error) {
	for attempt := 0; attempt < 200; attempt++ {
		resp, err := client.Post(url, "application/x-protobuf", bytes.NewReader(body))
		if err != nil {
			return codes, err
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
		switch resp.StatusCode {
		case http.StatusOK:
			var out coltracepb.ExportTraceServiceResponse
			if err := proto.Unmarshal(msg, &out); err != nil || out.GetPartialSuccess().GetRejectedSpans() != 0 {
				return codes, fmt.Errorf("200 with %v (%v)", out.GetPartialSuccess(), err)
			}
			return codes, nil
		case http.StatusTooManyRequests, http.StatusServiceUnavailable:
			ra, err := strconv.Atoi(resp.Header.Get("Retry-After"))
			if err != nil || ra < 1 {
				return codes, fmt.Errorf("%d without Retry-After: %s", resp.StatusCode, msg)
			}
			time.Sleep(time.Duration(ra) * 100 * time.Millisecond) // a tenth: the test need not idle
		default:
			return codes, fmt.Errorf("status %d: %s", resp.StatusCode, msg)
		}
	}
	return codes, fmt.Errorf("not stored after 200 attempts")
}

var writtenLine = regexp.MustCompile(`(\d+) spans and (\d+) events written`)

// Sixteen clients post maximum-size requests (8 MiB of protobuf, more spans
// and events than the queue holds) at once. Every request is stored in the
// end — none gets an answer that can never succeed — and the server's peak
// RSS stays under the documented bound (README, BENCHMARKS.md). It runs only
// with STAGESCOPE_LONG=1 (about three minutes on two loaded cores).
func TestConcurrentMaxSizeRequestsStayUnderTheRSSBound(t *testing.T) {
	if os.Getenv("STAGESCOPE_LONG") != "1" {
		t.Skip("set STAGESCOPE_LONG=1")
	}
	const clients, bound = 16, 300 << 20
	bodies, nspans, nevents := maxSizeBodies(t, clients)
	if nspans+nevents <= 1<<16 {
		t.Fatalf("a request holds %d spans and events: not more than the queue", nspans+nevents)
	}
	srv := startServer(t, "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir())
	client := &http.Client{Timeout: 5 * time.Minute}
	var wg sync.WaitGroup
	errs := make([]error, clients)
	codes := make([][]int, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], errs[i] = postUntilStored(client, srv.url+"v1/traces", bodies[i])
		}()
	}
	wg.Wait()
	peak := peakRSS(t, srv.cmd.Process.Pid)
	for i, err := range errs {
		if err != nil {
			t.Errorf("client %d: %v (statuses %v)", i, err, codes[i])
		}
	}
	if code := srv.stop(t, os.Interrupt); code != 0 {
		t.Fatalf("exit %d: %s", code, srv.stderr)
	}
	m := writtenLine.FindStringSubmatch(srv.stderr.String())
	if m == nil || m[1] != strconv.Itoa(clients*nspans) || m[2] != strconv.Itoa(clients*nevents) {
		t.Errorf("written %v, want %d spans and %d events: %s", m, clients*nspans, clients*nevents, srv.stderr)
	}
	t.Logf("%d clients × %d spans + %d events (8 MiB each): peak RSS %.0f MB; statuses %v", clients, nspans, nevents, float64(peak)/(1<<20), codes)
	if peak > bound {
		t.Errorf("peak RSS %.0f MB, above the %d MB bound", float64(peak)/(1<<20), bound>>20)
	}
}
