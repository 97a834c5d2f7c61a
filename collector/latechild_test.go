package collector

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/stagescope/stagescope/spans"
)

// A child that reaches the collector after its parent was committed (another
// service's exporter flushed later) is still subtracted from the parent's
// self time in the rollups.
func TestLateChildIsSubtractedFromCommittedParent(t *testing.T) {
	s := openStore(t)
	c := newCollector(t, s, WithLateChildren())
	ctx := context.Background()
	tid := spans.NewTraceID()
	root := spans.Span{TraceID: tid, SpanID: spans.NewSpanID(), Name: "query", Stage: spans.StageQuery,
		Start: t0, End: t0.Add(100 * time.Millisecond), Status: spans.StatusOK}
	early := spans.Span{TraceID: tid, SpanID: spans.NewSpanID(), ParentID: root.SpanID, Name: "retrieve", Stage: spans.StageRetrieve,
		Start: t0, End: t0.Add(20 * time.Millisecond), Status: spans.StatusOK}
	late1 := spans.Span{TraceID: tid, SpanID: spans.NewSpanID(), ParentID: root.SpanID, Name: "llm", Stage: spans.StageLLM,
		Start: t0.Add(30 * time.Millisecond), End: t0.Add(80 * time.Millisecond), Status: spans.StatusOK}
	late2 := late1 // overlaps late1 from 50 to 90 ms: only 10 more ms are covered
	late2.SpanID, late2.Start, late2.End = spans.NewSpanID(), t0.Add(50*time.Millisecond), t0.Add(90*time.Millisecond)

	querySelf := func() time.Duration {
		t.Helper()
		br, err := s.StageBreakdown(ctx, time.Time{}, time.Time{}, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range br {
			if st.Stage == spans.StageQuery {
				return st.Self
			}
		}
		t.Fatal("no query stage")
		return 0
	}
	for i, step := range []struct {
		batch []spans.Span
		want  time.Duration
	}{
		{[]spans.Span{early, root}, 80 * time.Millisecond}, // 100 − 20
		{[]spans.Span{late1}, 30 * time.Millisecond},       // 100 − (20 + 50)
		{[]spans.Span{late2}, 20 * time.Millisecond},       // 100 − (20 + 60): the overlap counts once
	} {
		if err := c.Ingest(ctx, step.batch, nil); err != nil {
			t.Fatal(err)
		}
		if got := querySelf(); got != step.want {
			t.Fatalf("step %d: query self time %v, want %v", i, got, step.want)
		}
	}
	// The self-time histogram moved with it: the one query span's self p50 is
	// now about 20 ms, not 80.
	br, _ := s.StageBreakdown(ctx, time.Time{}, time.Time{}, "")
	for _, st := range br {
		if st.Stage == spans.StageQuery && (st.SelfP50 < 19*time.Millisecond || st.SelfP50 > 21*time.Millisecond) {
			t.Fatalf("query self p50 %v, want ≈20ms", st.SelfP50)
		}
	}
}

func TestWithoutLateChildrenALateChildIsNotSubtracted(t *testing.T) {
	s := openStore(t)
	c := newCollector(t, s)
	ctx := context.Background()
	tid := spans.NewTraceID()
	root := spans.Span{TraceID: tid, SpanID: spans.NewSpanID(), Name: "query", Stage: spans.StageQuery,
		Start: t0, End: t0.Add(100 * time.Millisecond), Status: spans.StatusOK}
	child := spans.Span{TraceID: tid, SpanID: spans.NewSpanID(), ParentID: root.SpanID, Name: "llm", Stage: spans.StageLLM,
		Start: t0.Add(10 * time.Millisecond), End: t0.Add(60 * time.Millisecond), Status: spans.StatusOK}
	for _, b := range [][]spans.Span{{root}, {child}} {
		if err := c.Ingest(ctx, b, nil); err != nil {
			t.Fatal(err)
		}
	}
	br, err := s.StageBreakdown(ctx, time.Time{}, time.Time{}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range br {
		if st.Stage == spans.StageQuery && st.Self != 100*time.Millisecond {
			t.Fatalf("query self %v: corrected although WithLateChildren is off", st.Self)
		}
	}
}

func TestCoverageMergesClipsAndCountsPieces(t *testing.T) {
	parts, n := coverage(0, 100, []interval{{50, 70}, {-10, 5}, {60, 80}, {90, 200}, {100, 120}})
	want := []interval{{0, 5}, {50, 80}, {90, 100}}
	if int(n) != len(want) {
		t.Fatalf("%d pieces %v, want %v", n, parts[:min(int(n), maxCoverParts)], want)
	}
	for i, w := range want {
		if parts[i] != w {
			t.Fatalf("piece %d = %v, want %v", i, parts[i], w)
		}
	}
	// Past maxCoverParts the count goes on and the first pieces are kept.
	kids := []interval{{8, 9}, {0, 1}, {2, 3}, {4, 5}, {6, 7}}
	parts, n = coverage(0, 100, kids)
	if n != 5 || parts != [maxCoverParts]interval{{0, 1}, {2, 3}, {4, 5}, {6, 7}} {
		t.Fatalf("five disjoint pieces: n = %d, parts %v", n, parts)
	}
	if all := appendCoverage(nil, 0, 100, kids); len(all) != 5 || all[4] != (interval{8, 9}) {
		t.Fatalf("appendCoverage = %v, want the five pieces", all)
	}
	many := make([]interval, 300)
	for i := range many {
		many[i] = interval{int64(2 * i), int64(2*i + 1)}
	}
	if _, n := coverage(0, 1000, many); n != untracked {
		t.Fatalf("300 pieces: n = %d, want untracked", n)
	}
}

// collidingKey returns a key of trace tid that takes k's slot in wi.
func collidingKey(t *testing.T, wi *writtenIndex, tid spans.TraceID, k spanKey) spanKey {
	t.Helper()
	for i := uint64(1); i < 1<<20; i++ {
		var sid spans.SpanID
		binary.BigEndian.PutUint64(sid[:], i)
		c := spanKey{tid, sid}
		if c != k && wi.slot(c) == wi.slot(k) {
			return c
		}
	}
	t.Fatal("no colliding key")
	return spanKey{}
}

func TestWrittenIndexIsADirectMappedCache(t *testing.T) {
	wi := newWrittenIndex(4)
	tid := spans.NewTraceID()
	key := func(i byte) spanKey { return spanKey{tid, spans.SpanID{7, 0, 0, 0, 0, 0, 0, i}} }
	if wi.has(key(1)) || wi.table != nil {
		t.Fatal("an unused index answers or allocated")
	}
	wi.remember(key(1), rollupKey{minute: 1, run: "r"}, 0, 10, 10, nil)
	if !wi.has(key(1)) {
		t.Fatal("the index forgot its span")
	}
	// Another span on the same slot takes it over.
	other := collidingKey(t, wi, tid, key(1))
	wi.remember(other, rollupKey{minute: 7, run: "s"}, 0, 10, 10, nil)
	if wi.has(key(1)) || !wi.has(other) {
		t.Fatal("a colliding span did not replace the older one")
	}
	ws, _ := wi.get(other)
	if rk := wi.rollupKey(ws); rk.minute != 7 || rk.run != "s" {
		t.Fatalf("rollup key %+v", rk)
	}
	wi.put(key(1), writtenSpan{self: 1}) // no longer held: ignored
	if ws, _ := wi.get(other); ws.self != 10 {
		t.Fatalf("put through a lost slot changed its new owner: %+v", ws)
	}
	wi.reset()
	if wi.has(other) {
		t.Fatal("reset kept a span")
	}
}
