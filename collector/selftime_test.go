package collector

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/stagescope/stagescope/spans"
)

// seqSpan makes a span whose IDs count up, as some SDKs and test harnesses
// make them: only the last bytes differ from span to span.
func seqSpan(trace, id, parent uint64, stage spans.Stage, from, to time.Duration) spans.Span {
	s := spans.Span{Name: stage.String(), Stage: stage, Start: t0.Add(from), End: t0.Add(to), Status: spans.StatusOK}
	binary.BigEndian.PutUint64(s.TraceID[8:], trace)
	binary.BigEndian.PutUint64(s.SpanID[:], id)
	if parent != 0 {
		binary.BigEndian.PutUint64(s.ParentID[:], parent)
	}
	return s
}

// stageSelf returns the rolled-up self time of stage st.
func stageSelf(t *testing.T, s *SQLiteStore, st spans.Stage) time.Duration {
	t.Helper()
	br, err := s.StageBreakdown(context.Background(), time.Time{}, time.Time{}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range br {
		if b.Stage == st {
			return b.Self
		}
	}
	t.Fatalf("no %s stage", st)
	return 0
}

// ingestSteps ingests each batch and checks the query stage's self time
// after it.
func ingestSteps(t *testing.T, s *SQLiteStore, c *Collector, steps []struct {
	batch []spans.Span
	want  time.Duration
}) {
	t.Helper()
	for i, step := range steps {
		if err := c.Ingest(context.Background(), step.batch, nil); err != nil {
			t.Fatal(err)
		}
		if got := stageSelf(t, s, spans.StageQuery); got != step.want {
			t.Fatalf("step %d: query self time %v, want %v", i, got, step.want)
		}
	}
}

// Sequential span IDs share all but their last bytes; the index of written
// spans must not map them all to one slot (it did: 70 ms instead of 20).
func TestLateChildrenWithSequentialSpanIDs(t *testing.T) {
	s := openStore(t)
	c := newCollector(t, s, WithLateChildren())
	ms := time.Millisecond
	root := seqSpan(1, 1, 0, spans.StageQuery, 0, 100*ms)
	early := seqSpan(1, 2, 1, spans.StageRetrieve, 0, 20*ms)
	late1 := seqSpan(1, 3, 1, spans.StageLLM, 30*ms, 80*ms)
	late2 := seqSpan(1, 4, 1, spans.StageLLM, 50*ms, 90*ms)
	// Another trace with the same span IDs, in between.
	other := seqSpan(2, 1, 0, spans.StageEmbed, 0, 5*ms)
	otherKid := seqSpan(2, 3, 1, spans.StageEmbed, 0, 1*ms)
	ingestSteps(t, s, c, []struct {
		batch []spans.Span
		want  time.Duration
	}{
		{[]spans.Span{early, root}, 80 * ms},
		{[]spans.Span{late1, other, otherKid}, 30 * ms},
		{[]spans.Span{late2}, 20 * ms},
	})
}

// A parent with more than four separate child intervals before the late one
// (50 ms instead of 30 when its coverage was given up).
func TestLateChildAfterManySeparateChildren(t *testing.T) {
	s := openStore(t)
	c := newCollector(t, s, WithLateChildren())
	ms := time.Millisecond
	root := seqSpan(1, 1, 0, spans.StageQuery, 0, 100*ms)
	batch := []spans.Span{}
	for i := range 5 { // 0–10, 15–25, 30–40, 45–55, 60–70: 50 ms covered
		from := time.Duration(15*i) * ms
		batch = append(batch, seqSpan(1, uint64(10+i), 1, spans.StageRetrieve, from, from+10*ms))
	}
	batch = append(batch, root)
	ingestSteps(t, s, c, []struct {
		batch []spans.Span
		want  time.Duration
	}{
		{batch, 50 * ms},
		{[]spans.Span{seqSpan(1, 20, 1, spans.StageLLM, 75*ms, 95*ms)}, 30 * ms}, // six pieces
		{[]spans.Span{seqSpan(1, 21, 1, spans.StageLLM, 5*ms, 20*ms)}, 25 * ms},  // 10–15 joins two
		{[]spans.Span{seqSpan(1, 22, 1, spans.StageLLM, 0, 100*ms)}, 0},          // covers it all
	})
}

// The spill of many-piece coverages stays bounded, and every spilled entry
// has its pieces.
func TestWrittenIndexSpillIsBoundedAndConsistent(t *testing.T) {
	wi := newWrittenIndex(1 << 17)
	kids := func() []interval { return []interval{{0, 1}, {2, 3}, {4, 5}, {6, 7}, {8, 9}} }
	for i := range maxSpilled + 1000 {
		var sid spans.SpanID
		binary.BigEndian.PutUint64(sid[:], uint64(i+1))
		wi.remember(spanKey{span: sid}, rollupKey{}, 0, 100, 75, kids())
	}
	if len(wi.spill) > maxSpilled {
		t.Fatalf("spill holds %d spans, bound %d", len(wi.spill), maxSpilled)
	}
	spilled, lost := 0, 0
	for i := range wi.table {
		e := &wi.table[i]
		if word, bit := wi.spillBit(uint64(i)); (*word&bit != 0) != e.spilled() {
			t.Fatalf("slot %d: spill bit %v, entry spilled %v", i, *word&bit != 0, e.spilled())
		}
		switch {
		case e.spilled():
			spilled++
			if p := wi.spill[e.key]; len(p) != int(e.nparts) || p[4] != (interval{8, 9}) {
				t.Fatalf("entry with %d pieces has spill %v", e.nparts, p)
			}
		case e.nparts == untracked:
			lost++
		}
	}
	if spilled != len(wi.spill) || spilled == 0 || lost == 0 {
		t.Fatalf("%d spilled entries, %d in the spill, %d forgotten", spilled, len(wi.spill), lost)
	}
}

// Sequential IDs spread over the table like random ones.
func TestWrittenIndexSpreadsSequentialIDs(t *testing.T) {
	wi := newWrittenIndex(4096)
	const n = 1000
	for i := range n {
		var sid spans.SpanID
		binary.BigEndian.PutUint64(sid[:], uint64(i+1))
		wi.remember(spanKey{span: sid}, rollupKey{}, 0, 1, 1, nil)
	}
	kept := 0
	for i := range n {
		var sid spans.SpanID
		binary.BigEndian.PutUint64(sid[:], uint64(i+1))
		if wi.has(spanKey{span: sid}) {
			kept++
		}
	}
	// Random placement of 1000 keys in 4096 slots keeps ≈ 89%.
	if kept < 850 {
		t.Fatalf("%d of %d sequential spans kept in 4096 slots", kept, n)
	}
	// Sequential trace IDs and sequential span IDs together.
	wi = newWrittenIndex(4096)
	key := func(tr, sp int) spanKey {
		var k spanKey
		binary.BigEndian.PutUint64(k.trace[8:], uint64(tr))
		binary.BigEndian.PutUint64(k.span[:], uint64(sp))
		return k
	}
	for tr := range 32 {
		for sp := range 32 {
			wi.remember(key(tr, sp), rollupKey{}, 0, 1, 1, nil)
		}
	}
	kept = 0
	for tr := range 32 {
		for sp := range 32 {
			if wi.has(key(tr, sp)) {
				kept++
			}
		}
	}
	if kept < 870 {
		t.Fatalf("%d of 1024 spans of sequential traces kept in 4096 slots", kept)
	}
}

func TestSelfTimeIsTracetrees(t *testing.T) {
	kids := []interval{{30, 60}, {10, 40}, {90, 120}, {-10, 5}, {200, 300}, {15, 20}}
	// covered: [0,5] + [10,60] + [90,100] = 65
	if got := selfTime(0, 100, kids); got != 35 {
		t.Fatalf("selfTime = %d, want 35", got)
	}
	if got := selfTime(0, 100, nil); got != 100 {
		t.Fatalf("selfTime without children = %d", got)
	}
	if got := selfTime(100, 50, kids); got != 0 {
		t.Fatalf("selfTime of an inverted span = %d", got)
	}
}
