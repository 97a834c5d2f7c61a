package jaeger

import (
	"slices"

	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/spans"
)

// DefaultServiceName is the Jaeger service of spans that carry no
// service.name attribute, unless WithServiceName says otherwise.
const DefaultServiceName = "stagescope"

// Trace is one trace with its events: what the exporters send and what
// QueryClient returns. Spans may be in any order; Events belong to the
// spans by their header's SpanID.
type Trace struct {
	Spans  []*spans.Span
	Events []event.Record
}

// ID returns the trace ID of the first span, zero for an empty trace.
func (t Trace) ID() spans.TraceID {
	for _, s := range t.Spans {
		if s != nil {
			return s.TraceID
		}
	}
	return spans.TraceID{}
}

// eventsBySpan groups the trace's events by the span they belong to, keeping
// their order.
func (t Trace) eventsBySpan() map[spans.SpanID][]event.Record {
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
