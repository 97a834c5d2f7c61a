// Package otlptest makes OTLP trace requests for tests: random ones of the
// shapes stagescope keeps exactly, with unique ids.
package otlptest

import (
	"math/rand/v2"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
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

// RequestOfSize makes a request of random spans (RandomRequest's shapes, one
// resource) whose protobuf encoding is as close to size bytes as whole
// spans allow without passing it, and returns it with its number of spans
// and span events.
func RequestOfSize(rng *rand.Rand, size int) (req *coltracepb.ExportTraceServiceRequest, nspans, nevents int) {
	req = RandomRequest(rng, 1, 0)
	ss := &tracepb.ScopeSpans{Scope: &commonpb.InstrumentationScope{Name: "scope-0"}}
	req.ResourceSpans[0].ScopeSpans = []*tracepb.ScopeSpans{ss}
	total := proto.Size(req)
	for {
		sp := randomSpan(rng)
		// A span adds its size plus a tag and a length prefix (at most
		// 1+3 bytes) to the scope, and the scope's and resource's length
		// prefixes may grow by a byte each.
		n := proto.Size(sp) + 6
		if total+n > size {
			return req, nspans, nevents
		}
		ss.Spans = append(ss.Spans, sp)
		total += n
		nspans++
		nevents += len(sp.Events)
	}
}
