package analysis

import (
	"strings"
	"testing"

	"github.com/stagescope/stagescope/spans"
)

func TestWriteTextShowsStagesPathAndFindings(t *testing.T) {
	var traces []Trace
	for i := range 20 {
		b := newTrace()
		q := b.span(nil, "query", spans.StageQuery, 0, 30)
		b.span(q, "rerank", spans.StageRerank, 1, 11+float64(i%3))
		traces = append(traces, b.trace())
	}
	var sb strings.Builder
	if err := Analyze(traces).WriteText(&sb, "test.db"); err != nil {
		t.Fatal(err)
	}
	out := sb.String()
	for _, want := range []string{"Bottleneck report — 20 traces, 40 spans (test.db)", "STAGE", "rerank", "query", "Critical path", "Findings:", "1. ["} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
	sb.Reset()
	if err := Analyze(nil).WriteText(&sb, "empty.db"); err != nil || !strings.Contains(sb.String(), "No traces in the selection.") {
		t.Fatalf("empty report: %v\n%s", err, sb.String())
	}
}
