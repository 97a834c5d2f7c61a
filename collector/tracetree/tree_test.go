package tracetree

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stagescope/stagescope/spans"
)

func TestSelfTimeOfIntervals(t *testing.T) {
	kids := []Interval{{30, 60}, {10, 40}, {90, 120}, {-10, 5}, {200, 300}, {15, 20}, {50, 50}}
	// covered: [0,5] + [10,60] + [90,100] = 65
	if got := SelfTime(0, 100, kids); got != 35 {
		t.Fatalf("SelfTime = %d, want 35", got)
	}
	if !slices.IsSortedFunc(kids, func(a, b Interval) int { return int(a.Start - b.Start) }) {
		t.Fatalf("children not sorted in place: %v", kids)
	}
	if got := SelfTime(0, 100, nil); got != 100 {
		t.Fatalf("no children: %d", got)
	}
	if got := SelfTime(100, 100, kids); got != 0 {
		t.Fatalf("empty span: %d", got)
	}
	if got := SelfTime(100, 50, kids); got != 0 {
		t.Fatalf("inverted span: %d", got)
	}
	// Many children (past the insertion-sort cut-off), reversed, half
	// overlapping: 50 × 10 covered of 1000.
	var many []Interval
	for i := 49; i >= 0; i-- {
		many = append(many, Interval{int64(i * 20), int64(i*20 + 10)}, Interval{int64(i*20 + 5), int64(i*20 + 10)})
	}
	if got := SelfTime(0, 1000, many); got != 500 {
		t.Fatalf("many children: %d, want 500", got)
	}
	if got := UnionLength([]Interval{{5, 10}, {0, 3}, {2, 4}, {9, 12}, {20, 10}}); got != 11 {
		t.Fatalf("UnionLength = %d, want 11", got)
	}
}

func TestSequentialSteps(t *testing.T) {
	var b builder
	q := b.span(nil, "query", 0, 100)
	llm := b.span(q, "llm", 40, 100) // given before its sibling: children come out in start order
	ret := b.span(q, "retrieve", 0, 40)
	emb := b.span(ret, "embed", 0, 10)
	tr, node := build(b.trace())
	if tr.Root != node(q) || tr.Nodes[tr.Root].Parent != -1 || !tr.Base.Equal(epoch) {
		t.Fatalf("root %d, base %v", tr.Root, tr.Base)
	}
	if kids := tr.Children(node(q)); !slices.Equal(kids, []int32{node(ret), node(llm)}) {
		t.Fatalf("children of query %v, want retrieve then llm", kids)
	}
	if want := []int32{node(q), node(ret), node(llm), node(emb)}; !slices.Equal(tr.Order, want) {
		t.Fatalf("order %v, want %v", tr.Order, want)
	}
	for s, want := range map[*spans.Span]int64{q: 0, ret: 30 * ms, llm: 60 * ms, emb: 10 * ms} {
		if got := tr.SelfTime(node(s)); got != want {
			t.Errorf("%s self %v, want %v", s.Name, time.Duration(got), time.Duration(want))
		}
	}
	if tr.Anomalies.Any() {
		t.Fatalf("anomalies %+v in a clean trace", tr.Anomalies)
	}
}

func TestParallelChildren(t *testing.T) {
	var b builder
	q := b.span(nil, "query", 0, 100)
	b.span(q, "shard A", 10, 90)
	b.span(q, "shard B", 20, 60)
	b.span(q, "shard C", 50, 95)
	tr, node := build(b.trace())
	// covered 10–95: self 15; the overlaps count once.
	if got := tr.SelfTime(node(q)); got != 15*ms {
		t.Fatalf("query self %v, want 15ms", time.Duration(got))
	}
	gaps, self := tr.SelfIntervals(node(q), nil)
	if self != 15*ms || !slices.Equal(gaps, []Interval{{0, 10 * ms}, {95 * ms, 100 * ms}}) {
		t.Fatalf("self intervals %v (%v), want 0–10 and 95–100 ms", gaps, time.Duration(self))
	}
}

func TestLateChildIsFireAndForget(t *testing.T) {
	var b builder
	q := b.span(nil, "query", 0, 100)
	log := b.span(q, "log write", 90, 300) // same process: the query did not wait
	tr, node := build(b.trace())
	if tr.Nodes[node(log)].Flags != FireAndForget || tr.Anomalies != (Anomalies{FireAndForget: 1}) {
		t.Fatalf("flags %b, anomalies %+v; want fire-and-forget", tr.Nodes[node(log)].Flags, tr.Anomalies)
	}
	if got := tr.SelfTime(node(q)); got != 90*ms { // the child counts only up to 100
		t.Fatalf("query self %v, want 90ms", time.Duration(got))
	}
}

func TestMissingParent(t *testing.T) {
	ghost := &spans.Span{SpanID: spans.SpanID{9, 9}}
	// One root: the orphan is adopted by it.
	var b builder
	q := b.span(nil, "query", 0, 100)
	o := b.span(ghost, "orphan rerank", 20, 70)
	oc := b.span(o, "its child", 30, 40)
	tr, node := build(b.trace())
	if tr.Root != node(q) || tr.Nodes[node(o)].Parent != node(q) || tr.Nodes[node(o)].Flags != Orphan || tr.Nodes[node(oc)].Flags != 0 {
		t.Fatalf("orphan parent %d flags %b, want adopted by the root", tr.Nodes[node(o)].Parent, tr.Nodes[node(o)].Flags)
	}
	if tr.Anomalies != (Anomalies{Orphans: 1}) || tr.SelfTime(node(q)) != 50*ms || len(tr.Order) != 3 {
		t.Fatalf("anomalies %+v, root self %v, order %v", tr.Anomalies, time.Duration(tr.SelfTime(node(q))), tr.Order)
	}

	// No root: a virtual root spans the orphans.
	var b2 builder
	x := b2.span(ghost, "retrieve", 10, 30)
	y := b2.span(ghost, "llm", 40, 100)
	tr2, node2 := build(b2.trace())
	v := &tr2.Nodes[tr2.Root]
	if v.Span != nil || v.Start != 0 || v.End != 90*ms || len(tr2.Nodes) != 3 {
		t.Fatalf("virtual root %+v, want 0–90ms (base is the earliest start)", *v)
	}
	if tr2.Nodes[node2(x)].Parent != tr2.Root || tr2.Nodes[node2(y)].Parent != tr2.Root || tr2.Anomalies != (Anomalies{Orphans: 2, MissingRoot: 1}) {
		t.Fatalf("orphans not under the virtual root, or the missing root not counted: %+v", tr2.Anomalies)
	}
	if got := tr2.SelfTime(tr2.Root); got != 10*ms {
		t.Fatalf("virtual root self %v, want the 10ms gap", time.Duration(got))
	}

	// Two parentless spans: a virtual root too, nothing flagged.
	var b3 builder
	b3.span(nil, "a", 0, 10)
	b3.span(nil, "b", 5, 20)
	tr3, _ := build(b3.trace())
	if tr3.Nodes[tr3.Root].Span != nil || tr3.Nodes[tr3.Root].End != 20*ms || tr3.Anomalies.Any() {
		t.Fatalf("two roots: %+v, %+v", tr3.Nodes[tr3.Root], tr3.Anomalies)
	}
}

func TestSkewedClock(t *testing.T) {
	var b builder
	client := b.span(nil, "client", 0, 100)
	client.Resource = service("gateway")
	early := b.span(client, "server (clock behind)", -3, 60) // starts 3 ms before its caller
	early.Resource = service("retriever")
	late := b.span(client, "server (clock ahead)", 60, 104) // ends 4 ms after it, other service
	late.Resource = service("llm")
	away := b.span(client, "server, much later", 50, 150) // 50 ms after: beyond the skew bound
	away.Resource = service("llm")
	tr, node := build(b.trace())
	for s, want := range map[*spans.Span]Flags{early: ClockSkew, late: ClockSkew, away: FireAndForget} {
		if got := tr.Nodes[node(s)].Flags; got != want {
			t.Errorf("%s flags %b, want %b", s.Name, got, want)
		}
	}
	if tr.Anomalies != (Anomalies{ClockSkew: 2, FireAndForget: 1}) {
		t.Fatalf("anomalies %+v", tr.Anomalies)
	}
	// The base is the earliest start, the skewed child's; self time clips
	// every child to the client: covered 0–100.
	if tr.Nodes[node(client)].Start != 3*ms || tr.SelfTime(node(client)) != 0 {
		t.Fatalf("client start %v self %v", tr.Nodes[node(client)].Start, tr.SelfTime(node(client)))
	}
	// A tighter skew bound turns the 4 ms overrun into fire-and-forget.
	tr2, node2 := build(b.trace(), WithSkewBound(2*time.Millisecond))
	if tr2.Nodes[node2(late)].Flags != FireAndForget {
		t.Fatalf("with a 2ms skew bound: flags %b", tr2.Nodes[node2(late)].Flags)
	}
}

// Millisecond timestamps: a child ending half a millisecond after its parent
// is rounding, not a late child.
func TestMillisecondRoundingIsNotFlagged(t *testing.T) {
	var b builder
	q := b.span(nil, "chain", 0, 100)
	b.span(q, "retrieve", 0, 60.5)
	b.span(q, "llm", 60, 100.5)
	tr, _ := build(b.trace())
	if tr.Anomalies.Any() {
		t.Fatalf("anomalies %+v within a clock tick", tr.Anomalies)
	}
	// Without tolerance the overrun is flagged.
	tr2, _ := build(b.trace(), WithMaxTolerance(0))
	if tr2.Anomalies.FireAndForget != 1 {
		t.Fatalf("no tolerance: anomalies %+v", tr2.Anomalies)
	}
}

// The JS SDKs stamp a span's start to the millisecond and its end as start
// plus a sub-millisecond elapsed time, so both ends look fine-grained but
// carry the starts' rounding: a child ending 0.3 ms after its parent is
// rounding (the recorded otel-js and langchain fixtures are full of them).
// On a nanosecond clock the same overrun is a late child.
func TestSubMillisecondEndsOfMillisecondSpans(t *testing.T) {
	var b builder
	q := b.span(nil, "query", 0, 100.2)
	b.span(q, "retrieve", 0, 60.4)
	b.span(q, "llm", 60, 100.5)
	tr, node := build(b.trace())
	if tr.Anomalies.Any() {
		t.Fatalf("anomalies %+v: a 0.3 ms overrun of millisecond-stamped spans is rounding", tr.Anomalies)
	}
	if got := tr.SelfTime(node(q)); got != 0 { // 0–60.4 and 60–100.2 cover the query
		t.Fatalf("query self %v, want 0", time.Duration(got))
	}

	var n builder
	ns := time.Nanosecond
	q2 := n.spanAt(nil, "query", epoch.Add(7*ns), epoch.Add(100_200_003*ns))
	n.spanAt(q2, "retrieve", epoch.Add(11*ns), epoch.Add(60_400_001*ns))
	late := n.spanAt(q2, "llm", epoch.Add(60_400_009*ns), epoch.Add(100_500_007*ns))
	tr2, node2 := build(n.trace())
	if tr2.Nodes[node2(late)].Flags != FireAndForget || tr2.Anomalies != (Anomalies{FireAndForget: 1}) {
		t.Fatalf("nanosecond clock: flags %b, anomalies %+v; want the 0.3 ms overrun flagged", tr2.Nodes[node2(late)].Flags, tr2.Anomalies)
	}
}

func TestTick(t *testing.T) {
	var b builder
	// The trace starts at a fractional time origin (as performance.now
	// based clocks do): offsets are whole ms, Unix times are not.
	origin := epoch.Add(123456 * time.Nanosecond)
	b.spanAt(nil, "root", origin, origin.Add(100*time.Millisecond))
	tr, _ := build(b.trace())
	for _, c := range []struct{ t, want int64 }{
		{0, ms},
		{60 * ms, ms},
		{60*ms + 500_000, 100_000},
		{60*ms + 10, 10},
		{60*ms + 7, 1},
		{-123456 + 5*ms, ms}, // a whole ms as a Unix time
		{7 * time.Second.Nanoseconds(), ms},
	} {
		if got := tr.Tick(c.t); got != c.want {
			t.Errorf("Tick(%d) = %d, want %d", c.t, got, c.want)
		}
	}
	if got := tr.Tolerance(60*ms+7, 60*ms); got != ms {
		t.Fatalf("Tolerance = %d, want the coarser tick", got)
	}
	tr2, _ := build(b.trace(), WithMaxTolerance(10*time.Microsecond))
	if got := tr2.Tick(60 * ms); got != 10_000 {
		t.Fatalf("capped Tick = %d", got)
	}
}

func TestParentCycleIsUnreachable(t *testing.T) {
	var b builder
	q := b.span(nil, "query", 0, 10)
	x := b.span(q, "x", 0, 5)
	y := b.span(x, "y", 0, 5)
	x.ParentID = y.SpanID
	self := b.span(nil, "self", 0, 5)
	self.ParentID = self.SpanID // its own parent: an orphan
	tr, node := build(Trace{Spans: append(b.spans, nil)})
	if tr.Anomalies != (Anomalies{Orphans: 1, Unreachable: 2}) || len(tr.Order) != 2 {
		t.Fatalf("anomalies %+v, order %v", tr.Anomalies, tr.Order)
	}
	if n := tr.Nodes[node(x)]; n.Flags != Unreachable || n.Parent != -1 {
		t.Fatalf("x: %+v", n)
	}
}

func TestEmptyTraceAndReuse(t *testing.T) {
	tr := New()
	if tr.Build(Trace{}) || tr.Build(Trace{Spans: []*spans.Span{nil}}) {
		t.Fatal("an empty trace built")
	}
	if (Trace{}).ID() != (spans.TraceID{}) {
		t.Fatal("empty trace has an ID")
	}
	var big builder
	r := big.span(nil, "r", 0, 100)
	for i := range 40 {
		big.span(r, "c", float64(i), float64(i)+0.5)
	}
	tr.Build(big.trace())
	var small builder
	s := small.span(nil, "s", 0, 10)
	small.span(s, "c", 2, 4)
	if !tr.Build(small.trace()) || len(tr.Nodes) != 2 || len(tr.Order) != 2 || tr.SelfTime(0) != 8*ms || small.trace().ID() != s.TraceID {
		t.Fatalf("reused tree: %d nodes, order %v, self %d", len(tr.Nodes), tr.Order, tr.SelfTime(0))
	}
}

// wideTrace is 2,000 spans: a root, 999 sequential steps of 1 ms (each
// overlapping the next by 0.4 ms, as a millisecond clock may show), each
// with a 0.5 ms child, and an orphan.
func wideTrace() Trace {
	var b builder
	r := b.span(nil, "root", 0, 1000)
	for i := range time.Duration(999) {
		from := epoch.Add(i * time.Millisecond)
		step := b.spanAt(r, "step", from, from.Add(1400*time.Microsecond))
		b.spanAt(step, "call", from, from.Add(500*time.Microsecond))
	}
	b.span(&spans.Span{SpanID: spans.SpanID{0xff}}, "orphan", 999, 999.5)
	return b.trace()
}

func TestTwoThousandSpans(t *testing.T) {
	tr := New()
	if !tr.Build(wideTrace()) || len(tr.Nodes) != 2000 || len(tr.Order) != 2000 {
		t.Fatalf("%d nodes, %d reachable", len(tr.Nodes), len(tr.Order))
	}
	// Steps and the orphan cover 0–999.5 ms.
	if got := tr.SelfTime(tr.Root); got != ms/2 {
		t.Fatalf("root self %v, want 0.5ms", time.Duration(got))
	}
	if tr.Anomalies != (Anomalies{Orphans: 1}) {
		t.Fatalf("anomalies %+v", tr.Anomalies)
	}
	for _, c := range tr.Children(tr.Root)[:999] {
		if got := tr.SelfTime(c); got != 900_000 {
			t.Fatalf("step self %v, want 0.9ms", time.Duration(got))
		}
	}
}

// Self time and self intervals agree with a brute-force count on random
// trees.
func TestSelfTimeMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tr := New()
	for range 200 {
		var b builder
		all := []*spans.Span{b.span(nil, "root", 0, 100)}
		for range rng.IntN(30) {
			p := all[rng.IntN(len(all))]
			s := float64(rng.IntN(120) - 10)
			all = append(all, b.span(p, "s", s, s+float64(rng.IntN(50))))
		}
		tr.Build(b.trace())
		for _, v := range tr.Order {
			n := &tr.Nodes[v]
			covered := make([]bool, n.End/ms-n.Start/ms)
			for _, c := range tr.Children(v) {
				cn := &tr.Nodes[c]
				for x := max(cn.Start, n.Start) / ms; x < min(cn.End, n.End)/ms; x++ {
					covered[x-n.Start/ms] = true
				}
			}
			var want int64
			for _, c := range covered {
				if !c {
					want += ms
				}
			}
			gaps, self := tr.SelfIntervals(v, nil)
			var sum int64
			for i, g := range gaps {
				sum += g.End - g.Start
				if g.End <= g.Start || (i > 0 && g.Start <= gaps[i-1].End) {
					t.Fatalf("gaps not disjoint and ordered: %v", gaps)
				}
			}
			if got := tr.SelfTime(v); got != want || self != want || sum != want {
				t.Fatalf("self %d, intervals %d (%d), brute force %d", got, self, sum, want)
			}
		}
	}
}
