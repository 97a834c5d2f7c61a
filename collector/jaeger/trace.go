package jaeger

import (
	"slices"

	"github.com/stagescope/stagescope/collector/tracetree"
	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/spans"
)

// DefaultServiceName is the Jaeger service of spans that carry no
// service.name attribute, unless WithServiceName says otherwise.
const DefaultServiceName = "stagescope"

// Trace is the one trace model (tracetree.Trace): what the exporters send
// and what QueryClient returns. Spans may be in any order; Events belong to
// the spans by span ID.
type Trace = tracetree.Trace

// eventsBySpan groups the trace's events by the span they belong to, keeping
// their order.
func eventsBySpan(t Trace) map[spans.SpanID][]event.Record {
	if len(t.Events) == 0 {
		return nil
	}
	m := make(map[spans.SpanID][]event.Record)
	for _, e := range t.Events {
		m[e.SpanID] = append(m[e.SpanID], e)
	}
	return m
}

// serviceOf returns the span's service.name attribute, or fallback.
func serviceOf(s *spans.Span, fallback string) string {
	if v, ok := s.Attr(spans.KeyService); ok && v.Kind() == spans.KindString && v.AsString() != "" {
		return v.AsString()
	}
	return fallback
}

// sortTraces orders traces by their earliest span start, then by ID, so that
// answers are deterministic.
func sortTraces(ts []Trace) {
	first := func(t Trace) int64 {
		var m int64
		for i, s := range t.Spans {
			if n := s.Start.UnixNano(); i == 0 || n < m {
				m = n
			}
		}
		return m
	}
	slices.SortStableFunc(ts, func(a, b Trace) int {
		fa, fb := first(a), first(b)
		switch {
		case fa < fb:
			return -1
		case fa > fb:
			return 1
		}
		ia, ib := a.ID(), b.ID()
		return slices.Compare(ia[:], ib[:])
	})
}
