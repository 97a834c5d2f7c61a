package analysis

import (
	"encoding/binary"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/stagescope/stagescope/spans"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// epoch is the start of every constructed trace.
var epoch = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// traceBuilder constructs one trace with deterministic IDs; times are in
// milliseconds from epoch.
type traceBuilder struct {
	id    spans.TraceID
	next  uint64
	spans []*spans.Span
}

var traceCounter uint64

func newTrace() *traceBuilder {
	traceCounter++
	b := &traceBuilder{}
	binary.BigEndian.PutUint64(b.id[8:], traceCounter)
	b.id[0] = 0xab
	return b
}

func msAt(v float64) time.Time { return epoch.Add(time.Duration(v * float64(time.Millisecond))) }

// span adds a span under parent (nil for a root) from start to end ms.
func (b *traceBuilder) span(parent *spans.Span, name string, stage spans.Stage, start, end float64, attrs ...spans.Attribute) *spans.Span {
	b.next++
	s := &spans.Span{TraceID: b.id, Name: name, Stage: stage, Start: msAt(start), End: msAt(end), Status: spans.StatusOK, Attrs: attrs}
	binary.BigEndian.PutUint64(s.SpanID[:], b.next)
	if parent != nil {
		s.ParentID = parent.SpanID
	}
	b.spans = append(b.spans, s)
	return s
}

func (b *traceBuilder) trace() Trace { return Trace{Spans: b.spans} }

func msDur(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }

// stageCP returns the slow-cohort mean charged path time of st.
func stageCP(r *Report, st spans.Stage) (StageCP, bool) {
	for _, c := range r.CriticalPath {
		if c.Stage == st {
			return c, true
		}
	}
	return StageCP{}, false
}

func stageStats(r *Report, st spans.Stage) (StageStats, bool) {
	for _, s := range r.Stages {
		if s.Stage == st {
			return s, true
		}
	}
	return StageStats{}, false
}

// longRuns reports whether the big, slow variants were asked for.
func longRuns() bool { return os.Getenv("STAGESCOPE_LONG") == "1" }
