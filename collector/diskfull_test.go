package collector

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mattn/go-sqlite3"
	"google.golang.org/protobuf/proto"

	"github.com/stagescope/stagescope/spans"
)

// setMaxPages caps the database file at n pages (0: the page count it has
// now), which makes SQLite fail the next growing write with "database or
// disk is full" — a full disk, on demand.
func setMaxPages(t *testing.T, s *SQLiteStore, n int64) {
	t.Helper()
	if n == 0 {
		if err := s.DB().QueryRow("PRAGMA page_count").Scan(&n); err != nil {
			t.Fatal(err)
		}
	}
	err := s.rawWrite(func(c *sqlite3.SQLiteConn, _ *writeStmts) error {
		return execConn(c, fmt.Sprintf("PRAGMA max_page_count = %d", n))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A full disk: OTLP requests get 503 with a clear message and are stored
// exactly once when the client retries after space comes back; in-process
// spans that cannot be written are counted as dropped; the database stays
// consistent.
func TestFullDiskLosesNothingAcknowledged(t *testing.T) {
	s := openStore(t)
	var reported []error
	c := newCollector(t, s, WithBatchSize(256), WithErrorHandler(func(err error) { reported = append(reported, err) }))
	srv := httptest.NewServer(NewOTLPHandler(c))
	defer srv.Close()

	req, tid, ids := otlpRequest(2000, t0)
	body, _ := proto.Marshal(req)

	setMaxPages(t, s, 0)
	resp, msg := post(t, srv.URL+"/v1/traces", "application/x-protobuf", body, false)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("full disk: status %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if !bytes.Contains(msg, []byte("full")) {
		t.Fatalf("503 body does not say the disk is full: %q", msg)
	}
	// In-process spans meanwhile: whatever still fits in free pages is
	// written, the rest is dropped — and every one is accounted for.
	h := c.Handler()
	const inproc = 3000
	for i := range inproc {
		sp := spans.Span{TraceID: spans.NewTraceID(), SpanID: spans.NewSpanID(), Name: fmt.Sprint("inproc-", i), Stage: spans.StageLLM,
			Start: t0, End: t0.Add(time.Millisecond), Status: spans.StatusOK}
		h.SpanEnded(&sp)
		if i%500 == 499 {
			if err := c.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := c.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	m := c.Metrics()
	if m.WriteErrors < 2 || m.SpansDropped <= uint64(len(ids)) || m.SpansWritten+m.SpansDropped != uint64(len(ids)+inproc) {
		t.Fatalf("while full: %d write errors, %d dropped, %d written; want ≥ 2 errors, > %d dropped, and written + dropped = %d",
			m.WriteErrors, m.SpansDropped, m.SpansWritten, len(ids), len(ids)+inproc)
	}
	writtenWhileFull := m.SpansWritten
	if len(reported) == 0 || !strings.Contains(reported[0].Error(), "full") {
		t.Fatalf("error handler got %v", reported)
	}

	// Space comes back; the client retries the same request.
	setMaxPages(t, s, 1<<30)
	if resp, msg := post(t, srv.URL+"/v1/traces", "application/x-protobuf", body, false); resp.StatusCode != 200 {
		t.Fatalf("retry: %d %s", resp.StatusCode, msg)
	}
	tr, err := s.GetTrace(context.Background(), tid)
	if err != nil || len(tr.Spans) != len(ids) {
		t.Fatalf("after the retry: %v, %d spans stored, want %d exactly once", err, len(tr.Spans), len(ids))
	}
	if n := int64(storedSpanCount(t, s.DB(), spans.TraceID{})); n != int64(len(ids))+int64(writtenWhileFull) {
		t.Fatalf("the store holds %d spans, want %d", n, int64(len(ids))+int64(writtenWhileFull))
	}
	var ic string
	if err := s.DB().QueryRow("PRAGMA integrity_check").Scan(&ic); err != nil || ic != "ok" {
		t.Fatalf("integrity_check %q %v", ic, err)
	}
}
