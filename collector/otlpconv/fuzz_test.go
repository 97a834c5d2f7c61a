package otlpconv_test

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"google.golang.org/protobuf/proto"

	"github.com/stagescope/stagescope/collector/otlpconv"
	"github.com/stagescope/stagescope/collector/otlpconv/otlptest"
	"github.com/stagescope/stagescope/spans"
)

// invalidUTF8Request is a protobuf request whose span name, attribute key
// and string value hold bytes that are not UTF-8, and whose attributes hold
// NaN and infinities in an array and a key-value list.
func invalidUTF8Request(t testing.TB) []byte {
	tid, sid := spans.NewTraceID(), spans.NewSpanID()
	dbl := func(f float64) *commonpb.AnyValue {
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: f}}
	}
	req := &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{
		TraceId: tid[:], SpanId: sid[:], Name: "name-@@", StartTimeUnixNano: 1e18, EndTimeUnixNano: 1e18 + 5,
		Attributes: []*commonpb.KeyValue{
			{Key: "key-@@", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "value-@@"}}},
			{Key: "nan", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: []*commonpb.AnyValue{dbl(math.NaN()), dbl(math.Inf(1))}}}}},
			{Key: "kv", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: []*commonpb.KeyValue{{Key: "x", Value: dbl(math.Inf(-1))}}}}}},
		},
	}}}}}}}
	b, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.ReplaceAll(b, []byte("-@@"), []byte("-\xff\xc3")) // same length: the framing holds; one run of bad bytes becomes one U+FFFD
}

// A string that is not UTF-8 does not cost the request: its bad bytes are
// replaced, the rest is kept as sent.
func TestDecodeProtobufRepairsInvalidUTF8(t *testing.T) {
	body := invalidUTF8Request(t)
	if err := proto.Unmarshal(body, &coltracepb.ExportTraceServiceRequest{}); err == nil || !strings.Contains(err.Error(), "UTF-8") {
		t.Fatalf("the fixture is not invalid UTF-8: %v", err)
	}
	req, err := otlpconv.DecodeProtobuf(body)
	if err != nil {
		t.Fatal(err)
	}
	b := otlpconv.FromResourceSpans(req.GetResourceSpans())
	checkBatch(t, b)
	if len(b.Spans) != 1 {
		t.Fatalf("%d spans", len(b.Spans))
	}
	sp := b.Spans[0]
	if sp.Name != "name-\uFFFD" || sp.Attrs[0].Key != "key-\uFFFD" || sp.Attrs[0].Value.AsString() != "value-\uFFFD" {
		t.Fatalf("repaired: name %q, attribute %q=%q", sp.Name, sp.Attrs[0].Key, sp.Attrs[0].Value.AsString())
	}
	if got := sp.Attrs[2].Value.AsString(); got != `{"x":"-Inf"}` {
		t.Fatalf("kvlist with -Inf: %q", got)
	}
	// Truncated bodies still fail, with the decoder's reason.
	if _, err := otlpconv.DecodeProtobuf(body[:len(body)-3]); err == nil {
		t.Fatal("truncated body accepted")
	}
}

func FuzzDecodeProtobuf(f *testing.F) {
	b, _ := proto.Marshal(otlptest.RandomRequest(rand.New(rand.NewPCG(5, 6)), 1, 3))
	f.Add(b)
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x80})
	f.Add(invalidUTF8Request(f))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := otlpconv.DecodeProtobuf(data)
		if err != nil {
			if r != nil {
				t.Fatal("request returned with an error")
			}
			return
		}
		checkBatch(t, otlpconv.FromResourceSpans(r.GetResourceSpans()))
	})
}

func FuzzDecodeJSON(f *testing.F) {
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708","name":"x","startTimeUnixNano":"1","endTimeUnixNano":"2","attributes":[{"key":"a","value":{"arrayValue":{"values":[{"intValue":"1"}]}}}]}]}]}]}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz"}]}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := otlpconv.DecodeJSON(data)
		if err != nil {
			return
		}
		checkBatch(t, otlpconv.FromResourceSpans(r.GetResourceSpans()))
	})
}

func checkBatch(t *testing.T, b otlpconv.Batch) {
	for _, sp := range b.Spans {
		if sp.TraceID.IsZero() || sp.SpanID.IsZero() || sp.Resource == nil {
			t.Fatal("invalid span accepted")
		}
		if sp.Start.IsZero() || sp.End.IsZero() || sp.End.Before(sp.Start) || sp.End.Sub(sp.Start) > otlpconv.MaxSpanDuration ||
			!spans.TimeInRange(sp.Start) || !spans.TimeInRange(sp.End) {
			t.Fatalf("span accepted with start %v, end %v", sp.Start, sp.End)
		}
		// Whatever was sent, the span can be served as JSON.
		for _, attrs := range [][]spans.Attribute{sp.Attrs, sp.Resource.Attrs} {
			j, err := json.Marshal(attrs)
			if err != nil || !utf8.Valid(j) {
				t.Fatalf("attributes cannot be served: %v", err)
			}
		}
	}
	for _, e := range b.Events {
		if e.Time.IsZero() || !spans.TimeInRange(e.Time) {
			t.Fatalf("event accepted at %v", e.Time)
		}
		if _, err := json.Marshal(e.Attrs); err != nil {
			t.Fatalf("event attributes cannot be served: %v", err)
		}
	}
	if b.Adjusted > 0 && b.Adjustment == "" {
		t.Fatal("adjusted spans without a description")
	}
	if b.Rejected > 0 && b.Reason == "" {
		t.Fatal("rejected spans without a reason")
	}
}
