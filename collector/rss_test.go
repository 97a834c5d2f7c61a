package collector

import (
	"bufio"
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func vmHWM(t *testing.T) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

// TestRSSWhileIngesting10M ingests 10M spans through Ingest (2 producers,
// 2048-span chunks, spans made on the fly) and reports the peak RSS. It runs
// only with STAGESCOPE_LONG=1 (about a minute).
func TestRSSWhileIngesting10M(t *testing.T) {
	if os.Getenv("STAGESCOPE_LONG") != "1" {
		t.Skip("set STAGESCOPE_LONG=1")
	}
	const total, chunk = 10_000_000, 2048
	s := openStore(t)
	c := New(s)
	start := time.Now()
	var wg sync.WaitGroup
	per := total / 2
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for sent := 0; sent < per; sent += chunk {
				ss := benchSpans(min(chunk, per-sent))
				for c.Ingest(context.Background(), ss, nil) == ErrQueueFull {
					time.Sleep(time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	if err := c.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	m := c.Metrics()
	if m.SpansWritten != total {
		t.Fatalf("wrote %d", m.SpansWritten)
	}
	hwm := vmHWM(t)
	fi, _ := os.Stat(s.Path())
	t.Logf("10M spans in %v (%.0f spans/s); peak RSS (VmHWM) %.1f MB; db %.0f MB", el, total/el.Seconds(), float64(hwm)/(1<<20), float64(fi.Size())/(1<<20))
	if hwm > 200<<20 {
		t.Errorf("peak RSS %.1f MB exceeds 200 MB", float64(hwm)/(1<<20))
	}
}

func TestGenerateSynthetic(t *testing.T) {
	s := openStore(t)
	n, err := GenerateSynthetic(context.Background(), s, 300, 7)
	if err != nil {
		t.Fatal(err)
	}
	var traces int
	stored := storedSpanCount(t, s.DB(), [16]byte{})
	s.DB().QueryRow("SELECT count(*) FROM traces").Scan(&traces)
	if stored != n || traces != 300 || n < 300*11 || n > 300*12 {
		t.Fatalf("%d spans written, %d stored, %d traces", n, stored, traces)
	}
	br, err := s.StageBreakdown(context.Background(), time.Time{}, time.Time{}, "synthetic-7")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]StageStats{}
	for _, b := range br {
		got[b.Stage.String()] = b
	}
	for _, st := range []string{"query", "embed", "retrieve", "pool", "rerank", "synth", "retry", "llm"} {
		if got[st].Count == 0 {
			t.Errorf("stage %s missing from the breakdown", st)
		}
	}
	// The LLM dominates the synthetic shape and query's self time is small.
	if got["llm"].Self < got["rerank"].Self*5 || got["query"].Self > got["query"].Total/50 {
		t.Fatalf("unexpected shape: llm self %v, rerank self %v, query self %v of %v", got["llm"].Self, got["rerank"].Self, got["query"].Self, got["query"].Total)
	}
	if got["llm"].Errors == 0 || got["llm"].Count != 300+got["llm"].Errors {
		t.Fatalf("llm count %d errors %d: want one retry per failed attempt", got["llm"].Count, got["llm"].Errors)
	}
	tr, err := s.LoadTraces(context.Background(), TraceQuery{RunID: "synthetic-7", Limit: 5})
	if err != nil || len(tr) != 5 || len(tr[0].Spans) < 11 {
		t.Fatalf("LoadTraces %d %v", len(tr), err)
	}
}
