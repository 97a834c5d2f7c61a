package otlpconv_test

import (
	"math/rand/v2"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/stagescope/stagescope/collector/otlpconv"
	"github.com/stagescope/stagescope/spans"
)

// RandomRequest makes an OTLP request of the shapes stagescope keeps
// exactly: several resources and scopes, every span kind and status, typed
// attributes and homogeneous arrays, events and links.
func RandomRequest(rng *rand.Rand, resources, spansPer int) *coltracepb.ExportTraceServiceRequest {
	req := &coltracepb.ExportTraceServiceRequest{}
	for r := range resources {
		rs := &tracepb.ResourceSpans{Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{
			kv("service.name", sv("svc-"+string(rune('a'+r)))), kv("service.version", sv("1.2.3")),
			kv("deployment.environment", sv("prod")), kv("host.name", sv("h1")), kv("process.pid", iv(int64(1000+r))),
		}}}
		for sc := range 1 + rng.IntN(2) {
			ss := &tracepb.ScopeSpans{Scope: &commonpb.InstrumentationScope{Name: "scope-" + string(rune('0'+sc)), Version: "0." + string(rune('0'+sc))}}
			for range spansPer {
				ss.Spans = append(ss.Spans, randomSpan(rng))
			}
			rs.ScopeSpans = append(rs.ScopeSpans, ss)
		}
		req.ResourceSpans = append(req.ResourceSpans, rs)
	}
	return req
}

func randomSpan(rng *rand.Rand) *tracepb.Span {
	id := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		b[0] |= 1
		return b
	}
	start := uint64(1_700_000_000_000_000_000 + rng.Int64N(1e15))
	p := &tracepb.Span{
		TraceId: id(16), SpanId: id(8), Name: []string{"ChatOpenAI", "retrieve", "ai.streamText.doStream", "POST /v1/chat"}[rng.IntN(4)],
		Kind:              tracepb.Span_SpanKind(rng.IntN(6)),
		StartTimeUnixNano: start, EndTimeUnixNano: start + uint64(rng.Int64N(1e9)),
		Status: &tracepb.Status{Code: tracepb.Status_StatusCode(rng.IntN(3))},
	}
	if p.Status.Code == tracepb.Status_STATUS_CODE_ERROR {
		p.Status.Message = "boom"
	}
	if rng.IntN(2) == 0 {
		p.ParentSpanId = id(8)
	}
	for i := range rng.IntN(6) {
		p.Attributes = append(p.Attributes, randomKV(rng, i))
	}
	for range rng.IntN(3) {
		p.Events = append(p.Events, &tracepb.Span_Event{Name: "ev", TimeUnixNano: start + 5, Attributes: []*commonpb.KeyValue{randomKV(rng, 0)}})
	}
	for range rng.IntN(2) {
		p.Links = append(p.Links, &tracepb.Span_Link{TraceId: id(16), SpanId: id(8), Attributes: []*commonpb.KeyValue{randomKV(rng, 1)}})
	}
	return p
}

func randomKV(rng *rand.Rand, i int) *commonpb.KeyValue {
	k := []string{"llm.token_count.prompt", "openinference.span.kind", "gen_ai.request.model", "x.f", "x.b", "x.arr", "x.ints"}[rng.IntN(7)] + string(rune('a'+i))
	switch rng.IntN(7) {
	case 0:
		return kv(k, sv("v"))
	case 1:
		return kv(k, iv(rng.Int64N(1e6)-5e5))
	case 2:
		return kv(k, &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: rng.Float64()}})
	case 3:
		return kv(k, &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: rng.IntN(2) == 0}})
	case 4:
		return kv(k, &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: []*commonpb.AnyValue{sv("a"), sv("b")}}}})
	case 5:
		return kv(k, &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: []*commonpb.AnyValue{iv(1), iv(2)}}}})
	}
	return kv(k, &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: []*commonpb.AnyValue{
		{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: 0.5}}, {Value: &commonpb.AnyValue_DoubleValue{DoubleValue: 1.5}}}}}})
}

func kv(k string, v *commonpb.AnyValue) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: v}
}
func sv(s string) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: s}}
}
func iv(n int64) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: n}}
}

// TestRoundTripIsExact: OTLP in, spans, OTLP out — equal message for
// message, for random requests.
func TestRoundTripIsExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 200 {
		req := RandomRequest(rng, 1+rng.IntN(3), 1+rng.IntN(8))
		b := otlpconv.FromResourceSpans(req.GetResourceSpans())
		if b.Rejected != 0 {
			t.Fatalf("request %d: rejected %d: %s", i, b.Rejected, b.Reason)
		}
		ptrs := make([]*spans.Span, len(b.Spans))
		for j := range b.Spans {
			ptrs[j] = &b.Spans[j]
		}
		got := &coltracepb.ExportTraceServiceRequest{ResourceSpans: otlpconv.ToResourceSpans(ptrs, b.Events, "unused")}
		if !proto.Equal(req, got) {
			t.Fatalf("request %d: round trip differs\nin:  %s\nout: %s", i, protojson.Format(req), protojson.Format(got))
		}
	}
}

// TestJSONAndProtobufDecodeAlike: the same request in both encodings gives
// the same spans.
func TestJSONAndProtobufDecodeAlike(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	req := RandomRequest(rng, 2, 5)
	pb, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	fromPB, err := otlpconv.DecodeProtobuf(pb)
	if err != nil {
		t.Fatal(err)
	}
	// protojson writes ids as base64; OTLP/JSON writers use hex. Both decode.
	js, err := protojson.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	fromJSON, err := otlpconv.DecodeJSON(js)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(fromPB, req) || !proto.Equal(fromJSON, req) {
		t.Fatalf("decoded requests differ from the original")
	}
}

func TestDecodeRejectsGarbage(t *testing.T) {
	for _, body := range []string{"", "[]", "{", `{"resourceSpans": 3}`, `{} {}`} {
		if _, err := otlpconv.DecodeJSON([]byte(body)); err == nil {
			t.Errorf("DecodeJSON(%q): no error", body)
		}
	}
	if _, err := otlpconv.DecodeProtobuf([]byte{0xff, 0xff, 0xff}); err == nil {
		t.Error("DecodeProtobuf(garbage): no error")
	}
}

func TestNativeSpansGetServiceAndAliases(t *testing.T) {
	s := &spans.Span{TraceID: spans.TraceID{1}, SpanID: spans.SpanID{2}, Name: "llm", Stage: spans.StageLLM, Scope: "engine.llm",
		Status: spans.StatusDropped, Attrs: []spans.Attribute{spans.Int64(spans.KeyLLMPromptTokens, 5)}, Tags: []spans.Tag{{Key: "user", Value: "u1"}}}
	rss := otlpconv.ToResourceSpans([]*spans.Span{s}, nil, "my-app")
	if len(rss) != 1 || rss[0].GetResource().GetAttributes()[0].GetValue().GetStringValue() != "my-app" {
		t.Fatalf("resource = %v, want service.name my-app", rss[0].GetResource())
	}
	p := rss[0].GetScopeSpans()[0]
	if p.GetScope().GetName() != "engine.llm" {
		t.Errorf("scope = %q", p.GetScope().GetName())
	}
	sp := p.GetSpans()[0]
	got := map[string]string{}
	for _, a := range otlpconv.Attributes(sp.GetAttributes()) {
		got[a.Key] = a.Value.Emit()
	}
	for k, v := range map[string]string{"llm.prompt_tokens": "5", "gen_ai.usage.input_tokens": "5", "openinference.span.kind": "LLM",
		"stagescope.stage": "llm", "tag.user": "u1", "stagescope.status": "dropped"} {
		if got[k] != v {
			t.Errorf("attribute %s = %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
	if sp.GetKind() != tracepb.Span_SPAN_KIND_INTERNAL || sp.GetStatus().GetCode() != tracepb.Status_STATUS_CODE_ERROR {
		t.Errorf("kind %v status %v", sp.GetKind(), sp.GetStatus())
	}
}
