package tracetree

import (
	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/spans"
)

// Trace is the spans and events of one trace, in any order. Nil spans are
// ignored. It is the trace type of the store, the Jaeger reader and the
// analysis.
type Trace struct {
	Spans  []*spans.Span  `json:"spans"`
	Events []event.Record `json:"events,omitempty"`
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
