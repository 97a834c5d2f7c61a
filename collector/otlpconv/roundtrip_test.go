package otlpconv_test

import (
	"math/rand/v2"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/stagescope/stagescope/collector/otlpconv"
	"github.com/stagescope/stagescope/collector/otlpconv/otlptest"
	"github.com/stagescope/stagescope/spans"
)

// TestRoundTripIsExact: OTLP in, spans, OTLP out — equal message for
// message, for random requests.
func TestRoundTripIsExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 200 {
		req := otlptest.RandomRequest(rng, 1+rng.IntN(3), 1+rng.IntN(8))
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
	req := otlptest.RandomRequest(rng, 2, 5)
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
