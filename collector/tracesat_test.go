package collector

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/spans"
)

// Reading many traces at once (a sample: each chunk decompressed once for
// all the traces it holds) gives, trace for trace, what reading them one by
// one gives: traces whose parts are spread over several chunks, several
// traces to a chunk, events, resources; a trace deleted since it was found,
// or a row that now holds another trace, is left out.
func TestTracesAtReadsWhatGetTraceReads(t *testing.T) {
	s := openStore(t)
	c := newCollector(t, s, WithLateChildren())
	ctx := context.Background()
	res := &spans.Resource{Attrs: []spans.Attribute{spans.String("service.name", "rag")}}
	const traces = 40
	ids := make([]spans.TraceID, traces)
	roots := make([]spans.SpanID, traces)
	for i := range ids {
		ids[i], roots[i] = spans.NewTraceID(), spans.NewSpanID()
	}
	// Three batches: every trace gets a part in the first; every third a
	// second part in the next, every fifth a third part in the last.
	for b := range 3 {
		var batch []spans.Span
		var events []event.Record
		for i := range ids {
			if b == 1 && i%3 != 0 || b == 2 && i%5 != 0 {
				continue
			}
			start := t0.Add(time.Duration(i) * time.Second)
			sp := spans.Span{TraceID: ids[i], SpanID: spans.NewSpanID(), ParentID: roots[i], Name: fmt.Sprintf("llm-%d", b), Stage: spans.StageLLM,
				Start: start.Add(time.Duration(b+1) * time.Millisecond), End: start.Add(time.Duration(b+5) * time.Millisecond), Status: spans.StatusOK, Resource: res,
				Attrs: []spans.Attribute{spans.String("llm.model_name", "m"), spans.Int("part", b)}}
			if b == 0 {
				root := spans.Span{TraceID: ids[i], SpanID: roots[i], Name: "query", Stage: spans.StageQuery,
					Start: start, End: start.Add(20 * time.Millisecond), Status: spans.StatusOK, Resource: res}
				batch = append(batch, root)
			}
			batch = append(batch, sp)
			events = append(events, event.Record{Header: event.Header{Time: sp.Start, TraceID: ids[i], SpanID: sp.SpanID,
				Tags: []spans.Tag{{Key: "k", Value: fmt.Sprint(i)}}}, Name: "llm.start"})
		}
		if err := c.Ingest(ctx, batch, events); err != nil {
			t.Fatal(err)
		}
	}
	var refs []traceRef
	want := map[spans.TraceID]string{}
	for _, id := range ids {
		row, err := s.index.lookup(ctx, s.db, id)
		if err != nil || row == 0 {
			t.Fatalf("trace %s: row %d, %v", id, row, err)
		}
		refs = append(refs, traceRef{row, id})
		tr, err := s.GetTrace(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(tr)
		want[id] = string(b)
	}
	// Parts over several chunks: trace 0 has three.
	var chunks int
	if err := s.db.QueryRow("SELECT count(*) FROM chunks").Scan(&chunks); err != nil || chunks < 3 {
		t.Fatalf("%d chunks (%v): the batches should have made at least 3", chunks, err)
	}
	if tr, _ := s.GetTrace(ctx, ids[0]); len(tr.Spans) != 4 {
		t.Fatalf("trace 0 has %d spans, want 4 (root and three parts)", len(tr.Spans))
	}

	// A row that holds another trace, and a row that does not exist.
	refs = append(refs, traceRef{refs[1].row, ids[2]}, traceRef{refs[len(ids)-1].row + 1000, spans.NewTraceID()})
	got, err := s.tracesAt(ctx, refs)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != traces {
		t.Fatalf("%d traces read, want %d", len(got), traces)
	}
	for i, tr := range got {
		if tr.Summary.TraceID != ids[i] {
			t.Fatalf("trace %d is %s, want %s (order kept)", i, tr.Summary.TraceID, ids[i])
		}
		b, _ := json.Marshal(tr)
		if string(b) != want[ids[i]] {
			t.Fatalf("trace %d read with others differs from GetTrace:\n got %s\nwant %s", i, b, want[ids[i]])
		}
	}

	// Retention deleting a chunk between the rows' read and the chunks'
	// (simulated: the last chunk, which holds the third parts of traces
	// 0, 5, 10, …) takes its traces with it; the others still read.
	var last int64
	if err := s.db.QueryRow("SELECT max(id) FROM chunks").Scan(&last); err != nil {
		t.Fatal(err)
	}
	w, err := sql.Open("sqlite3", s.path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Exec("DELETE FROM chunks WHERE id = ?", last); err != nil {
		t.Fatal(err)
	}
	got, err = s.tracesAt(ctx, refs[:traces])
	if err != nil {
		t.Fatalf("a chunk deleted under the read: %v", err)
	}
	if len(got) != traces-traces/5 {
		t.Fatalf("%d traces read after their chunk was deleted, want %d", len(got), traces-traces/5)
	}
	for _, tr := range got {
		if b, _ := json.Marshal(tr); string(b) != want[tr.Summary.TraceID] {
			t.Fatalf("trace %s differs after another chunk was deleted", tr.Summary.TraceID)
		}
	}
}
