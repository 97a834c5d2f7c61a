package tracetree

import "testing"

// BenchmarkBuildTwoThousandSpans builds a 2,000-span trace in a reused tree.
func BenchmarkBuildTwoThousandSpans(b *testing.B) {
	t := wideTrace()
	tr := New()
	b.ReportAllocs()
	for b.Loop() {
		if !tr.Build(t) || len(tr.Order) != 2000 {
			b.Fatal("wrong tree")
		}
	}
}

// BenchmarkSelfTimeTwoThousandSpans computes every span's self time.
func BenchmarkSelfTimeTwoThousandSpans(b *testing.B) {
	tr := New()
	tr.Build(wideTrace())
	b.ReportAllocs()
	for b.Loop() {
		var sum int64
		for _, v := range tr.Order {
			sum += tr.SelfTime(v)
		}
		if sum <= 0 {
			b.Fatal("no self time")
		}
	}
}

// BenchmarkBuildSmallTrace builds a 12-span trace, the analysis' common case.
func BenchmarkBuildSmallTrace(b *testing.B) {
	var bl builder
	r := bl.span(nil, "query", 0, 100)
	e := bl.span(r, "embed", 0, 5)
	bl.span(e, "http", 1, 4)
	p := bl.span(r, "pool", 5, 40)
	for i := range 4 {
		j := bl.span(p, "job", float64(5+i), float64(20+5*i))
		bl.span(j, "retrieve", float64(6+i), float64(19+5*i))
	}
	bl.span(r, "llm", 40, 100)
	t := bl.trace()
	tr := New()
	b.ReportAllocs()
	for b.Loop() {
		tr.Build(t)
	}
}
