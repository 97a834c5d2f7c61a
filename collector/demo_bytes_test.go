package collector

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/engine/corpus"
	"github.com/stagescope/stagescope/engine/llm"
	"github.com/stagescope/stagescope/engine/query"
	"github.com/stagescope/stagescope/spans"
)

// demoBatches runs the demo's pipeline (`stagescope demo --packages
// strings,bytes,sort`: the same corpus, seed, model and workers, without
// the simulated model latency) for queries questions, four at a time as
// the demo asks them, and returns what the root dispatcher delivered, one
// slice per group of four, in delivery order.
func demoBatches(t *testing.T, queries int) [][]func(*Handler) {
	t.Helper()
	ctx := context.Background()
	p, err := query.NewGoPipeline(ctx, corpus.GOROOT(), llm.NewExtractive(llm.WithFirstTokenLatency(0), llm.WithTokenLatency(0)),
		[]corpus.Option{corpus.WithSeed(corpus.DefaultSeed), corpus.WithPackages("strings", "bytes", "sort")}, nil, query.WithWorkers(4))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []func(*Handler)
	sh := &dispatcher.SpanHandlerFuncs{Ended: func(s *spans.Span) {
		mu.Lock()
		got = append(got, func(h *Handler) { h.SpanEnded(s) })
		mu.Unlock()
	}}
	eh := dispatcher.EventHandlerFunc(func(e event.Event) {
		mu.Lock()
		got = append(got, func(h *Handler) { h.HandleEvent(e) })
		mu.Unlock()
	})
	removeSpans, removeEvents := dispatcher.Root().AddSpanHandler(sh), dispatcher.Root().AddEventHandler(eh)
	defer removeEvents()
	defer removeSpans()
	qctx := spans.WithTags(ctx, spans.Tag{Key: spans.KeyRunID, Value: "5bb2a5ed94400977"})
	var out [][]func(*Handler)
	for asked := 0; asked < queries; asked += 4 {
		var wg sync.WaitGroup
		for i := asked; i < min(asked+4, queries); i++ {
			q := p.Corpus.Questions[i%len(p.Corpus.Questions)]
			wg.Go(func() {
				if _, err := p.Engine.Query(qctx, q.Query); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		mu.Lock()
		out, got = append(out, got), nil
		mu.Unlock()
	}
	return out
}

// TestDemoTracesTakeAtMost100BytesASpan stores the traces of 1,500 demo
// queries through the in-process handler, committed as the demo's writer
// commits them — a group of four queries in one batch or, every other
// group, in two, so traces arrive in 1.5 parts on average — and checks
// the database's pages in use (page count − free pages, after the store is
// closed and its write-ahead log folded in; schema included), divided by
// the spans: events are included in the bytes but not in the count. It
// then reads every trace back, after a reopen, and again after retention
// deleted the older half.
func TestDemoTracesTakeAtMost100BytesASpan(t *testing.T) {
	const queries = 1500
	batches := demoBatches(t, queries)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "demo.db")
	s, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	// As the demo's collector, but committing only at Flush: deterministic
	// batches.
	c := New(s, WithService("stagescope-demo"), WithLateChildren(), WithFlushInterval(time.Hour))
	h := c.Handler()
	want := map[spans.TraceID][2]int{} // spans, events
	var order []spans.TraceID
	for i, b := range batches {
		// Every other group in two batches: 1.5 parts a trace, as the demo
		// stored (2,298 parts for 1,500 traces: its writer commits every
		// 200 ms while a group of four queries takes about 150 ms).
		parts := [][]func(*Handler){b}
		if i%2 == 1 {
			parts = [][]func(*Handler){b[:len(b)/2], b[len(b)/2:]}
		}
		for _, part := range parts {
			for _, deliver := range part {
				deliver(h)
			}
			if err := c.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := c.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	m := c.Metrics()
	if m.SpansWritten != 13*queries || m.EventsWritten < 20*queries {
		t.Fatalf("%d spans and %d events written; want %d spans and the demo's ~25 events a trace", m.SpansWritten, m.EventsWritten, 13*queries)
	}
	order = traceIDs(t, s)
	if len(order) != queries {
		t.Fatalf("%d traces stored, want %d", len(order), queries)
	}
	for _, id := range order {
		full, err := s.GetTrace(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		want[id] = [2]int{len(full.Spans), len(full.Events)}
	}
	var dictChunks, plainChunks int
	if err := s.DB().QueryRow("SELECT count(*) FILTER (WHERE unicode(data) = 2), count(*) FILTER (WHERE unicode(data) = 1) FROM chunks").Scan(&dictChunks, &plainChunks); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	used, err := s.usedBytes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	perSpan := float64(used) / float64(m.SpansWritten)
	t.Logf("%d bytes in use for %d spans and %d events: %.1f B/span; %d chunks with the dictionary, %d without",
		used, m.SpansWritten, m.EventsWritten, perSpan, dictChunks, plainChunks)
	if perSpan > 100 {
		t.Errorf("demo traces take %.1f bytes a span on disk, want ≤ 100", perSpan)
	}
	if dictChunks < 2*plainChunks {
		t.Errorf("%d chunks compressed with a dictionary, %d without: the dictionary is not used", dictChunks, plainChunks)
	}

	// Read back by a store that loads the dictionary from the database:
	// every trace whole, and the same JSON as before the reopen.
	check := func(ids []spans.TraceID) {
		t.Helper()
		for _, id := range ids {
			tr, err := s.GetTrace(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if got := [2]int{len(tr.Spans), len(tr.Events)}; got != want[id] || got[0] != 13 {
				t.Fatalf("trace %s: %v spans and events, want %v", id, got, want[id])
			}
			if _, err := json.Marshal(tr); err != nil {
				t.Fatal(err)
			}
		}
	}
	check(order)

	// Retention of the oldest traces (those whose chunks are the
	// dictionary's run among them): the traces left read back, the chunks
	// their dictionary is made of are kept.
	if _, err := s.ApplyRetention(ctx, 0, used*3/4); err != nil {
		t.Fatal(err)
	}
	// Reopened, so the dictionary is read from the database again.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = OpenSQLite(path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	left := traceIDs(t, s)
	if len(left) == 0 || len(left) >= queries {
		t.Fatalf("%d traces left after retention", len(left))
	}
	check(left)
	var runs int
	if err := s.DB().QueryRow("SELECT count(*) FROM chunk_dicts").Scan(&runs); err != nil || runs == 0 {
		t.Fatalf("%d dictionaries left after retention, %v", runs, err)
	}
}

// traceIDs returns the ids of the stored traces, in arrival order.
func traceIDs(t *testing.T, s *SQLiteStore) []spans.TraceID {
	t.Helper()
	rows, err := s.DB().Query("SELECT trace_id FROM traces ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []spans.TraceID
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			t.Fatal(err)
		}
		out = append(out, spans.TraceID(b))
	}
	return out
}

// TestDictionariesRenewAndRetire writes small batches with dictionaries of
// 64 KiB renewed every 96 KiB, so several runs and dictionaries follow
// one another, then checks that every trace reads back after a reopen,
// and that retention keeps the runs of the dictionaries still in use and
// deletes the others with their rows.
func TestDictionariesRenewAndRetire(t *testing.T) {
	oldBytes, oldRenew := dictBytes, dictRenewBytes
	dictBytes, dictRenewBytes = 64<<10, 96<<10
	defer func() { dictBytes, dictRenewBytes = oldBytes, oldRenew }()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "dicts.db")
	s, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	c := New(s, WithFlushInterval(time.Hour))
	base := time.Now().Add(-time.Hour)
	var ids []spans.TraceID
	for i := 0; i < 1200; i++ {
		tr := ragTrace(base.Add(time.Duration(i)*time.Second), i%7 == 0)
		for j := range tr {
			tr[j].Attrs = append(tr[j].Attrs, spans.String("question", fmt.Sprintf("how does strings.Cut handle case %d?", i%97)),
				spans.Int64("tokens", int64(i*13+j)))
			sp := tr[j]
			c.Handler().SpanEnded(&sp)
		}
		ids = append(ids, tr[0].TraceID)
		if i%3 == 2 { // a small batch: three traces
			if err := c.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := c.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	count := func(q string) int {
		t.Helper()
		var n int
		if err := s.DB().QueryRow(q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	dicts := count("SELECT count(*) FROM chunk_dicts")
	withDict := count("SELECT count(DISTINCT substr(data, 2, 1)) FROM chunks WHERE unicode(data) = 2")
	if dicts < 3 || withDict < 3 {
		t.Fatalf("%d dictionaries, chunks compressed with %d of them; want several", dicts, withDict)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	reopen := func() {
		t.Helper()
		if s, err = OpenSQLite(path); err != nil {
			t.Fatal(err)
		}
	}
	readAll := func(ids []spans.TraceID) {
		t.Helper()
		for _, id := range ids {
			if tr, err := s.GetTrace(ctx, id); err != nil || len(tr.Spans) != 4 {
				t.Fatalf("trace %s: %v", id, err)
			}
		}
	}
	reopen()
	readAll(ids)

	// Retention of the older half retires the dictionaries only chunks of
	// deleted traces used, and keeps the runs of the others.
	deleted, err := s.deleteOldest(ctx, base.Add(600*time.Second).UnixNano())
	if err != nil || deleted != 500 {
		t.Fatalf("retention deleted %d, %v; want 500 (one retention step)", deleted, err)
	}
	if _, err := s.deleteOldest(ctx, base.Add(600*time.Second).UnixNano()); err != nil {
		t.Fatal(err)
	}
	left := count("SELECT count(*) FROM chunk_dicts")
	t.Logf("%d dictionaries, %d left after retention", dicts, left)
	if left >= dicts || left == 0 {
		t.Fatalf("%d of %d dictionaries left after deleting half the traces", left, dicts)
	}
	var minRun int
	if err := s.DB().QueryRow("SELECT min(first_chunk) FROM chunk_dicts").Scan(&minRun); err != nil {
		t.Fatal(err)
	}
	if n := count(fmt.Sprintf("SELECT count(*) FROM chunks WHERE id < %d", minRun)); n != 0 {
		t.Fatalf("%d chunks below the oldest run left", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	reopen()
	defer s.Close()
	readAll(ids[600:])
}
