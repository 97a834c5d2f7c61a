package collector

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/spans"
)

func TestBloomHasNoFalseNegatives(t *testing.T) {
	const n = 20_000
	b := newBloom(n)
	in := make([]spans.TraceID, n)
	for i := range in {
		in[i] = spans.NewTraceID()
		b.add(in[i])
	}
	// Sequential ids too: some sources count up.
	seq := newBloom(n)
	for i := range n {
		var id spans.TraceID
		id[15], id[14], id[13] = byte(i), byte(i>>8), byte(i>>16)
		seq.add(id)
		if !seq.mayContain(id) {
			t.Fatalf("sequential id %d not found", i)
		}
	}
	for _, id := range in {
		if !b.mayContain(id) {
			t.Fatalf("false negative for %s", id)
		}
	}
	fp := 0
	for range n {
		if b.mayContain(spans.NewTraceID()) {
			fp++
		}
	}
	if rate := float64(fp) / n; rate > 0.004 {
		t.Fatalf("false positive rate %.4f, want ≤ 0.004", rate)
	}
	t.Logf("false positives: %d of %d", fp, n)
	again, err := bloomFrom(b.bytes())
	if err != nil || !again.mayContain(in[0]) || len(again.words) != len(b.words) {
		t.Fatalf("bloom round trip: %v", err)
	}
	if _, err := bloomFrom([]byte{1, 2, 3}); err == nil {
		t.Fatal("a truncated Bloom filter was accepted")
	}
}

// TestChunkRoundTrip writes parts whose bodies need multi-byte lengths,
// zero times and events, and reads them back.
func TestChunkRoundTrip(t *testing.T) {
	long := strings.Repeat("retrieved passage ", 40)
	tid := spans.NewTraceID()
	sp := []*spans.Span{
		{TraceID: tid, SpanID: spans.NewSpanID(), Name: "query", Stage: spans.StageQuery, Start: t0, End: t0.Add(time.Second),
			Attrs: []spans.Attribute{spans.String("input", long)}},
		{TraceID: tid, SpanID: spans.NewSpanID(), ParentID: spans.NewSpanID(), Name: "open", Stage: spans.StageLLM, Start: t0.Add(-time.Hour)},
	}
	run := []spans.Tag{{Key: spans.KeyRunID, Value: "r1"}}
	sp[0].Tags = run
	sp = append(sp, &spans.Span{TraceID: tid, SpanID: spans.NewSpanID(), ParentID: sp[0].SpanID, Name: "child", Start: t0, End: t0.Add(time.Millisecond), Tags: run})
	ev := []*event.Record{{Header: event.Header{Time: t0.Add(time.Millisecond), TraceID: tid, SpanID: sp[0].SpanID, Tags: run}, Name: "e",
		Attrs: []spans.Attribute{spans.String("doc", long)}},
		{Header: event.Header{Time: t0, TraceID: tid, SpanID: sp[1].ParentID}, Name: "elsewhere"},
		{Header: event.Header{Time: t0, TraceID: tid, Tags: []spans.Tag{{Key: "k", Value: "v"}}}, Name: "spanless"}}
	var c chunkBuilder
	scratch := c.add(tid, sp, []int64{7, 0, 0}, ev, nil)
	other := spans.NewTraceID()
	c.add(other, []*spans.Span{{TraceID: other, SpanID: spans.NewSpanID(), Name: "x"}}, []int64{0}, nil, scratch)
	raw, parts, keys := c.take(nil, nil)
	data := compressChunk(nil, raw, parts)
	// The span keys tell which trace's spans may be in the chunk.
	for _, k := range []struct {
		tid  spans.TraceID
		ids  []spans.SpanID
		want bool
	}{
		{tid, []spans.SpanID{spans.NewSpanID(), sp[1].SpanID}, true},
		{tid, []spans.SpanID{spans.NewSpanID()}, false},
		{other, []spans.SpanID{sp[0].SpanID}, false},
		{spans.NewTraceID(), []spans.SpanID{sp[0].SpanID}, false},
	} {
		if got, err := keysMatch(keys, k.tid, k.ids); err != nil || got != k.want {
			t.Fatalf("keysMatch(%s, %v) = %v, %v; want %v", k.tid, k.ids, got, err, k.want)
		}
	}
	if _, err := keysMatch(keys[:20], tid, []spans.SpanID{sp[0].SpanID}); err == nil {
		t.Fatal("truncated span keys accepted")
	}
	var got []spans.TraceID
	var d decodedPart
	err := new(chunkDicts).chunkParts(context.Background(), nil, data, func(id spans.TraceID, part encodedPart) bool {
		got = append(got, id)
		if id == tid {
			if err := decodePart(id, part, false, &d); err != nil {
				t.Fatal(err)
			}
		}
		return true
	})
	if err != nil || len(got) != 2 || got[0] != tid || got[1] != other {
		t.Fatalf("parts %v, %v", got, err)
	}
	if len(d.spans) != 3 || d.resources[0] != 7 || d.resources[1] != 0 || len(d.events) != 3 {
		t.Fatalf("decoded %+v", d)
	}
	// A parent and an event's span in the part are stored by position,
	// others by id; tags shared with the part's first record come back.
	if c := d.spans[2]; c.ParentID != sp[0].SpanID || !slices.Equal(c.Tags, run) || !slices.Equal(d.spans[0].Tags, run) || d.spans[1].Tags != nil {
		t.Fatalf("span 2: %+v", c)
	}
	if e := d.events; e[0].SpanID != sp[0].SpanID || !slices.Equal(e[0].Tags, run) || e[1].SpanID != sp[1].ParentID || e[1].Tags != nil ||
		!e[2].SpanID.IsZero() || len(e[2].Tags) != 1 || e[2].Tags[0].Value != "v" {
		t.Fatalf("events: %+v", e)
	}
	if a := d.spans[0]; a.Name != "query" || !a.Start.Equal(t0) || !a.End.Equal(t0.Add(time.Second)) || a.Attrs[0].Value.AsString() != long {
		t.Fatalf("span 0: %+v", a)
	}
	if b := d.spans[1]; b.ParentID != sp[1].ParentID || !b.Start.Equal(t0.Add(-time.Hour)) || !b.End.IsZero() {
		t.Fatalf("span 1: %+v", b)
	}
	if e := d.events[0]; e.Name != "e" || !e.Time.Equal(t0.Add(time.Millisecond)) || e.Attrs[0].Value.AsString() != long {
		t.Fatalf("event: %+v", e)
	}
	// Corrupt data is an error, not a panic or a huge allocation.
	for _, bad := range [][]byte{nil, {9}, {chunkZstd, 1, 2, 3}, data[:len(data)/2]} {
		if err := new(chunkDicts).chunkParts(context.Background(), nil, bad, func(spans.TraceID, encodedPart) bool { return true }); err == nil {
			t.Fatalf("corrupt chunk %x accepted", bad)
		}
	}
	if err := decodePart(tid, encodedPart{chunkVersion, []byte{200, 1}}, false, &decodedPart{}); err == nil {
		t.Fatal("corrupt part accepted")
	}
}

// TestSealedBlocks seals the head every few traces and checks that traces
// are found, merged and deduplicated whether they sit in the head or in a
// sealed block, across a restart, and by a read-only store that follows the
// writer.
func TestSealedBlocks(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := OpenSQLite(path, WithBlockTraces(5))
	if err != nil {
		t.Fatal(err)
	}
	c := New(s)
	var traces [][]spans.Span
	for i := range 23 {
		tr := ragTrace(t0.Add(time.Duration(i)*time.Second), false)
		traces = append(traces, tr)
		if err := c.Ingest(ctx, tr, nil); err != nil { // one batch each
			t.Fatal(err)
		}
	}
	count := func(q string) int {
		t.Helper()
		var n int
		if err := s.DB().QueryRow(q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count("SELECT count(*) FROM trace_blocks"); n != 4 {
		t.Fatalf("%d sealed blocks, want 4 (a seal when the head holds 5 at a batch's start)", n)
	}
	if n := count("SELECT count(*) FROM trace_ids"); n != 20 {
		t.Fatalf("%d sealed trace ids, want 20", n)
	}
	check := func(s *SQLiteStore, tr []spans.Span, want int) {
		t.Helper()
		got, err := s.GetTrace(ctx, tr[0].TraceID)
		if err != nil || len(got.Spans) != want || got.Summary.SpanCount != want {
			t.Fatalf("trace %s: %v spans %d (summary %d), want %d", tr[0].TraceID, err, len(got.Spans), got.Summary.SpanCount, want)
		}
	}
	for _, tr := range traces {
		check(s, tr, 4)
	}
	// A read-only store opened now follows what the writer adds.
	ro, err := OpenSQLite(path, WithReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	check(ro, traces[0], 4)

	// A retried delivery of a sealed trace and of a head trace is stored
	// once; a late span of a sealed trace joins it.
	late := spans.Span{TraceID: traces[1][0].TraceID, SpanID: spans.NewSpanID(), ParentID: traces[1][3].SpanID, Name: "late", Stage: spans.StageTool,
		Start: t0.Add(time.Second), End: t0.Add(time.Second + time.Millisecond)}
	retry := append(append(append([]spans.Span{}, traces[0]...), traces[22]...), late)
	if err := c.Ingest(ctx, retry, nil); err != nil {
		t.Fatal(err)
	}
	if d := c.Metrics().SpansDuplicate; d != 8 {
		t.Fatalf("%d duplicates counted, want 8", d)
	}
	check(s, traces[0], 4)
	check(s, traces[22], 4)
	check(s, traces[1], 5)
	check(ro, traces[1], 5)
	if n := storedSpanCount(t, s.DB(), spans.TraceID{}); n != 23*4+1 {
		t.Fatalf("%d spans stored, want %d", n, 23*4+1)
	}
	if err := c.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// After a restart the head is rebuilt from traces and the blocks from
	// trace_blocks: finding and deduplicating still work.
	s, err = OpenSQLite(path, WithBlockTraces(5))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c = New(s)
	defer c.Shutdown(ctx)
	if err := c.Ingest(ctx, append(append([]spans.Span{}, traces[2]...), traces[21]...), nil); err != nil {
		t.Fatal(err)
	}
	if d := c.Metrics().SpansDuplicate; d != 8 {
		t.Fatalf("after restart: %d duplicates counted, want 8", d)
	}
	for i, tr := range traces {
		check(s, tr, map[bool]int{true: 5, false: 4}[i == 1])
	}
	page, err := s.ListTraces(ctx, TraceQuery{Limit: 100})
	if err != nil || len(page.Traces) != 23 {
		t.Fatalf("list: %d traces, %v", len(page.Traces), err)
	}

	// Retention by size drops everything: traces, chunks and the blocks.
	if n, err := s.ApplyRetention(ctx, 0, 1); err != nil || n != 23 {
		t.Fatalf("retention deleted %d, %v", n, err)
	}
	for _, tbl := range []string{"traces", "chunks", "trace_blocks", "trace_ids"} {
		var n int
		if err := s.DB().QueryRow("SELECT count(*) FROM " + tbl).Scan(&n); err != nil || n != 0 {
			t.Fatalf("%s holds %d rows after retention (%v)", tbl, n, err)
		}
	}
	if _, err := s.GetTrace(ctx, traces[0][0].TraceID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted trace: %v", err)
	}
	// A trace ingested again after retention is stored anew.
	if err := c.Ingest(ctx, traces[0], nil); err != nil {
		t.Fatal(err)
	}
	check(s, traces[0], 4)
}

// TestMigratesLegacyDatabase opens a database written by the schema-5
// store (testdata/legacy-v5.db: spans and events a row each, traces keyed
// by trace id) and checks that every trace, the stage breakdown and the
// trace list read back as that store answered (testdata/legacy-v5.json),
// and that new parts, duplicates and retention work on the old rows.
func TestMigratesLegacyDatabase(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "legacy.db")
	src, err := os.Open("testdata/legacy-v5.db")
	if err != nil {
		t.Fatal(err)
	}
	dst, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	src.Close()
	dst.Close()
	raw, err := os.ReadFile("testdata/legacy-v5.json")
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]json.RawMessage
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}

	s, err := OpenSQLite(path, WithBlockTraces(8))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	same := func(what string, got any) {
		t.Helper()
		g, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		var a, b bytes.Buffer
		json.Compact(&a, g)
		json.Compact(&b, want[what])
		if a.String() != b.String() {
			t.Fatalf("%s differs after migration:\n got %s\nwant %s", what, a.String(), b.String())
		}
	}
	var ids []spans.TraceID
	for k := range want {
		id, err := spans.ParseTraceID(k)
		if err != nil {
			continue // stages, list
		}
		ids = append(ids, id)
		tr, err := s.GetTrace(ctx, id)
		if err != nil {
			t.Fatalf("trace %s after migration: %v", k, err)
		}
		same(k, tr)
	}
	if len(ids) != 40 {
		t.Fatalf("%d traces in the fixture, want 40", len(ids))
	}
	// Read together (each chunk decompressed once for all its traces),
	// every trace is the same again.
	all, err := s.LoadTraces(ctx, TraceQuery{Limit: 100})
	if err != nil || len(all) != len(ids) {
		t.Fatalf("LoadTraces: %d traces, %v", len(all), err)
	}
	for _, tr := range all {
		same(tr.Summary.TraceID.String(), tr)
	}
	br, err := s.StageBreakdown(ctx, time.Time{}, time.Time{}, "")
	if err != nil {
		t.Fatal(err)
	}
	same("stages", br)
	page, err := s.ListTraces(ctx, TraceQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	same("list", page)

	// A read-only store reads the migrated rows too.
	ro, err := OpenSQLite(path, WithReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	if tr, err := ro.GetTrace(ctx, ids[0]); err != nil || len(tr.Spans) != 4 {
		t.Fatalf("read-only after migration: %v", err)
	}
	ro.Close()

	// New parts join old traces; copies of old spans are duplicates.
	c := New(s)
	defer c.Shutdown(ctx)
	old, err := s.GetTrace(ctx, ids[3])
	if err != nil {
		t.Fatal(err)
	}
	root := old.Spans[0]
	late := spans.Span{TraceID: ids[3], SpanID: spans.NewSpanID(), ParentID: root.SpanID, Name: "late", Stage: spans.StageTool,
		Start: root.Start.Add(time.Millisecond), End: root.Start.Add(2 * time.Millisecond)}
	if err := c.Ingest(ctx, []spans.Span{*old.Spans[1], late}, nil); err != nil {
		t.Fatal(err)
	}
	if d := c.Metrics().SpansDuplicate; d != 1 {
		t.Fatalf("%d duplicates, want 1 (a copy of a span stored before the migration)", d)
	}
	tr, err := s.GetTrace(ctx, ids[3])
	if err != nil || len(tr.Spans) != 5 || tr.Summary.SpanCount != 5 {
		t.Fatalf("old trace with a new part: %v %d spans", err, len(tr.Spans))
	}
	// New traces go on next to the old ones.
	fresh := ragTrace(t0, false)
	if err := c.Ingest(ctx, fresh, nil); err != nil {
		t.Fatal(err)
	}
	if tr, err := s.GetTrace(ctx, fresh[0].TraceID); err != nil || len(tr.Spans) != 4 {
		t.Fatalf("new trace in a migrated store: %v", err)
	}

	// Retention removes old rows from the spans and events tables too.
	if n, err := s.ApplyRetention(ctx, 0, 1); err != nil || n != 41 {
		t.Fatalf("retention deleted %d, %v", n, err)
	}
	if n := storedSpanCount(t, s.DB(), spans.TraceID{}); n != 0 {
		t.Fatalf("%d spans left after retention", n)
	}
	var evs int
	if err := s.DB().QueryRow("SELECT count(*) FROM events").Scan(&evs); err != nil || evs != 0 {
		t.Fatalf("%d events left after retention (%v)", evs, err)
	}
}

// TestReadsChunksOfThePreviousRelease opens a database that the release
// before chunk version 2 and dictionaries wrote (testdata/chunks-v8.db:
// schema version 8, version-1 chunks, in-process and ingested parts, events,
// traces in two parts, sealed blocks) and checks that every trace, the
// stage breakdown and the trace list read back as that release answered
// (testdata/chunks-v8.json), that its stored spans are still recognised as
// duplicates, and that an old trace takes a new part.
func TestReadsChunksOfThePreviousRelease(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v6.db")
	data, err := os.ReadFile("testdata/chunks-v8.db")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("testdata/chunks-v8.json")
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]json.RawMessage
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	s, err := OpenSQLite(path, WithBlockTraces(8))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	same := func(what string, got any) {
		t.Helper()
		g, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		var a, b bytes.Buffer
		json.Compact(&a, g)
		json.Compact(&b, want[what])
		if a.String() != b.String() {
			t.Fatalf("%s differs:\n got %s\nwant %s", what, a.String(), b.String())
		}
	}
	var ids []spans.TraceID
	for k := range want {
		id, err := spans.ParseTraceID(k)
		if err != nil {
			continue // stages, list
		}
		ids = append(ids, id)
		tr, err := s.GetTrace(ctx, id)
		if err != nil {
			t.Fatalf("trace %s: %v", k, err)
		}
		same(k, tr)
	}
	if len(ids) != 30 {
		t.Fatalf("%d traces in the fixture, want 30", len(ids))
	}
	// Read together (each chunk decompressed once for all its traces),
	// every trace is the same again.
	all, err := s.LoadTraces(ctx, TraceQuery{Limit: 100})
	if err != nil || len(all) != len(ids) {
		t.Fatalf("LoadTraces: %d traces, %v", len(all), err)
	}
	for _, tr := range all {
		same(tr.Summary.TraceID.String(), tr)
	}
	br, err := s.StageBreakdown(ctx, time.Time{}, time.Time{}, "")
	if err != nil {
		t.Fatal(err)
	}
	same("stages", br)
	page, err := s.ListTraces(ctx, TraceQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	same("list", page)

	// A copy of a stored span is a duplicate; a new span joins its trace,
	// which then reads from a version-1 and a version-2 chunk.
	old, err := s.GetTrace(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	c := newCollector(t, s)
	extra := spans.Span{TraceID: ids[0], SpanID: spans.NewSpanID(), ParentID: old.Spans[0].SpanID, Name: "late", Stage: spans.StageRerank,
		Start: old.Spans[0].Start, End: old.Spans[0].End}
	if err := c.Ingest(ctx, []spans.Span{*old.Spans[0], extra}, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if d := c.Metrics().SpansDuplicate; d != 1 {
		t.Fatalf("%d duplicates, want 1 (a copy of a span the previous release stored)", d)
	}
	tr, err := s.GetTrace(ctx, ids[0])
	if err != nil || len(tr.Spans) != len(old.Spans)+1 || len(tr.Events) != len(old.Events) {
		t.Fatalf("old trace with a new part: %v, %d spans, %d events; want %d, %d", err, len(tr.Spans), len(tr.Events), len(old.Spans)+1, len(old.Events))
	}

	// A read-only store reads them too.
	ro, err := OpenSQLite(path, WithReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if tr, err := ro.GetTrace(ctx, ids[1]); err != nil {
		t.Fatalf("read-only: %v", err)
	} else {
		same(ids[1].String(), tr)
	}
}
