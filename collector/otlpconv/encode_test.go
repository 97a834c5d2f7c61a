package otlpconv_test

import (
	"strings"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"

	"github.com/stagescope/stagescope/collector/otlpconv"
	"github.com/stagescope/stagescope/spans"
)

func TestEncodeJSONWritesHexIDsThatDecodeJSONReads(t *testing.T) {
	now := time.Now()
	parent := &spans.Span{TraceID: spans.NewTraceID(), SpanID: spans.NewSpanID(), Name: "query", Stage: spans.StageQuery, Start: now, End: now.Add(time.Second)}
	child := &spans.Span{TraceID: parent.TraceID, SpanID: spans.NewSpanID(), ParentID: parent.SpanID, Name: "retrieve", Stage: spans.StageRetrieve, Start: now, End: now.Add(time.Millisecond)}
	req := &coltracepb.ExportTraceServiceRequest{ResourceSpans: otlpconv.ToResourceSpans([]*spans.Span{parent, child}, nil, "svc")}
	b, err := otlpconv.EncodeJSON(req)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{parent.TraceID.String(), parent.SpanID.String(), child.SpanID.String()} {
		if !strings.Contains(string(b), `"`+id+`"`) {
			t.Fatalf("hex id %s missing from %s", id, b)
		}
	}
	back, err := otlpconv.DecodeJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	got := otlpconv.FromResourceSpans(back.ResourceSpans).Spans
	if len(got) != 2 || got[1].ParentID != parent.SpanID || got[1].TraceID != parent.TraceID || got[1].Stage != spans.StageRetrieve {
		t.Fatalf("round trip = %+v", got)
	}
}
