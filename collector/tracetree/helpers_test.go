package tracetree

import (
	"encoding/binary"
	"time"

	"github.com/stagescope/stagescope/spans"
)

// epoch is a whole second, so that millisecond offsets are whole
// milliseconds as Unix times too.
var epoch = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// builder constructs a trace with sequential span IDs; times are in
// milliseconds from epoch.
type builder struct {
	next  uint64
	spans []*spans.Span
}

func at(ms float64) time.Time { return epoch.Add(time.Duration(ms * float64(time.Millisecond))) }

func (b *builder) span(parent *spans.Span, name string, start, end float64) *spans.Span {
	return b.spanAt(parent, name, at(start), at(end))
}

func (b *builder) spanAt(parent *spans.Span, name string, start, end time.Time) *spans.Span {
	b.next++
	s := &spans.Span{TraceID: spans.TraceID{0xab, 1}, Name: name, Start: start, End: end}
	binary.BigEndian.PutUint64(s.SpanID[:], b.next)
	if parent != nil {
		s.ParentID = parent.SpanID
	}
	b.spans = append(b.spans, s)
	return s
}

func (b *builder) trace() Trace { return Trace{Spans: b.spans} }

func service(name string) *spans.Resource {
	return &spans.Resource{Attrs: []spans.Attribute{spans.String(spans.KeyService, name)}}
}

const ms = int64(time.Millisecond)

// build builds t and returns the tree and a lookup from span to node.
func build(t Trace, opts ...Option) (*Tree, func(*spans.Span) int32) {
	tr := New(opts...)
	tr.Build(t)
	return tr, func(s *spans.Span) int32 {
		for i := range tr.Nodes {
			if tr.Nodes[i].Span == s {
				return int32(i)
			}
		}
		panic("span not in tree")
	}
}
