package collector

import (
	"context"
	"testing"
	"time"

	"github.com/stagescope/stagescope/spans"
)

// An Ingest request larger than the batch size is committed in one
// transaction, so a failure can never leave half of it stored for the
// client's retry to duplicate.
func TestIngestRequestIsNeverSplitAcrossTransactions(t *testing.T) {
	s := openStore(t)
	c := newCollector(t, s, WithBatchSize(4), WithFlushInterval(time.Hour))
	tid := spans.NewTraceID()
	batch := make([]spans.Span, 10)
	for i := range batch {
		batch[i] = spans.Span{TraceID: tid, SpanID: spans.NewSpanID(), Name: "s", Stage: spans.StageLLM,
			Start: t0.Add(time.Duration(i) * time.Millisecond), End: t0.Add(time.Duration(i+1) * time.Millisecond), Status: spans.StatusOK}
	}
	if err := c.Ingest(context.Background(), batch, nil); err != nil {
		t.Fatal(err)
	}
	m := c.Metrics()
	if m.Batches != 1 || m.SpansWritten != 10 {
		t.Fatalf("10 spans of one request in %d transactions (%d written), want 1 (10)", m.Batches, m.SpansWritten)
	}
	tr, err := s.GetTrace(context.Background(), tid)
	if err != nil || len(tr.Spans) != 10 {
		t.Fatalf("stored trace: %v, %d spans", err, len(tr.Spans))
	}
}
