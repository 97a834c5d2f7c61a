package handlers_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/stagescope/stagescope/handlers"
	"github.com/stagescope/stagescope/spans"
)

func dbl(f float64) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: f}}
}

// Values JSON cannot carry — NaN and infinities alone, in arrays and in
// key-value lists — are stored and served: the trace stays readable, every
// time, and says what was sent.
func TestNonFiniteAttributesKeepTheTraceReadable(t *testing.T) {
	s := newSeeded(t)
	tid, sid := spans.NewTraceID(), spans.NewSpanID()
	now := time.Now()
	kv := func(k string, v *commonpb.AnyValue) *commonpb.KeyValue { return &commonpb.KeyValue{Key: k, Value: v} }
	req := &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{kv("service.name", &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "nan-test"}}),
			kv("res.nan", dbl(math.NaN()))}},
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{
			TraceId: tid[:], SpanId: sid[:], Name: "non-finite", StartTimeUnixNano: uint64(now.UnixNano()), EndTimeUnixNano: uint64(now.Add(time.Millisecond).UnixNano()),
			Attributes: []*commonpb.KeyValue{
				kv("scalar.nan", dbl(math.NaN())),
				kv("array.nan", &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: []*commonpb.AnyValue{dbl(1.5), dbl(math.NaN()), dbl(math.Inf(1)), dbl(math.Inf(-1))}}}}),
				kv("kvlist.inf", &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: []*commonpb.KeyValue{kv("up", dbl(math.Inf(1))), kv("n", dbl(math.NaN())), kv("ok", dbl(2))}}}}),
				kv("mixed.array", &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: []*commonpb.AnyValue{dbl(math.Inf(-1)), {Value: &commonpb.AnyValue_StringValue{StringValue: "x"}}}}}}),
			},
			Events: []*tracepb.Span_Event{{Name: "ev", TimeUnixNano: uint64(now.UnixNano()), Attributes: []*commonpb.KeyValue{
				kv("ev.array", &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: []*commonpb.AnyValue{dbl(math.NaN())}}}})}}},
		}}}},
	}}}
	body, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	if code, _, b := s.do(http.MethodPost, "/v1/traces", bytes.NewReader(body), "Content-Type", "application/x-protobuf"); code != http.StatusOK {
		t.Fatalf("ingest: %d %s", code, b)
	}
	for i := range 3 { // readable on every call, not only the first
		code, _, b := s.do(http.MethodGet, "/api/traces/"+tid.String(), nil)
		if code != http.StatusOK {
			t.Fatalf("GET trace (%d): %d %s", i, code, b)
		}
		var tr handlers.TraceDetail
		if err := json.Unmarshal(b, &tr); err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, sp := range tr.Spans {
			for _, a := range sp.Attrs {
				got[a.Key] = fmt.Sprint(a.Value.AsAny())
			}
			for _, e := range sp.Events {
				for _, a := range e.Attrs {
					got[a.Key] = fmt.Sprint(a.Value.AsAny())
				}
			}
		}
		for k, want := range map[string]string{
			"scalar.nan":  "NaN",
			"array.nan":   "[1.5 NaN +Inf -Inf]",
			"kvlist.inf":  `{"up":"+Inf","n":"NaN","ok":2}`,
			"mixed.array": `["-Inf","x"]`,
			"ev.array":    "[NaN]",
		} {
			if got[k] != want {
				t.Errorf("%s: %q, want %q (all: %v)", k, got[k], want, got)
			}
		}
	}
	// The list, the live views and the report read it too.
	for _, path := range []string{"/api/traces?service=nan-test", "/api/report", "/api/stages"} {
		if code, _, b := s.do(http.MethodGet, path, nil); code != http.StatusOK || !json.Valid(b) {
			t.Errorf("GET %s: %d %.200s", path, code, b)
		}
	}
}
