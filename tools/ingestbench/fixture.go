package main

import (
	"fmt"
	"math/rand/v2"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// spansPerTrace is the size of one RAG-shaped trace: query → embed,
// retrieve → vector search, rerank, synthesize → llm, tool, llm, guardrail.
const spansPerTrace = 10

// traceSpread is the window over which the traces of one request start, so
// that a request looks like an SDK's batch of the last half second.
const traceSpread = 500 * time.Millisecond

// fixtureOptions shape the traces of the request templates.
type fixtureOptions struct {
	spansPerRequest int
	errorRate       float64 // fraction of traces whose final LLM call fails
	seed            uint64
	// lean keeps only service.name on the resource and, on spans, the
	// attributes stage inference and the analysis read: a lower bound of
	// what instrumented pipelines send.
	lean bool
}

// Template ids and timestamps are placeholders: trace id = trace index + 1,
// span id = span index + 1 (big-endian), timestamps in nanoseconds from the
// start of the request (always ≥ 1, so proto3 keeps them). locateSlots finds
// them in the encoded bytes and a generator overwrites them per request.

// buildRequest makes template number n: one resource (one process of a RAG
// service), one instrumentation scope, spansPerRequest spans in whole traces
// (the last one truncated when spansPerRequest is not a multiple of ten).
func buildRequest(n int, o fixtureOptions) *coltracepb.ExportTraceServiceRequest {
	rng := rand.New(rand.NewPCG(o.seed, uint64(n)))
	service := ragServices[n%len(ragServices)]
	res := &resourcepb.Resource{Attributes: []*commonpb.KeyValue{
		kvS("service.name", service),
		kvS("service.version", fmt.Sprintf("1.%d.%d", 3+n%3, rng.IntN(10))),
		kvS("service.namespace", "rag"),
		kvS("host.name", fmt.Sprintf("%s-%x-%d", service, 0x7f9c0+n, n%4)),
		kvS("deployment.environment", "production"),
		kvS("deployment.environment.name", "production"),
		kvS("telemetry.sdk.name", "opentelemetry"),
		kvS("telemetry.sdk.language", "python"),
		kvS("telemetry.sdk.version", "1.38.0"),
		kvI("process.pid", int64(1000+rng.IntN(30000))),
	}}
	// Half the processes speak OpenInference, half the OTel GenAI
	// conventions, as a fleet with two instrumentation libraries does.
	openInference := n%2 == 0
	scope := &commonpb.InstrumentationScope{Name: "opentelemetry.instrumentation.openai", Version: "0.48.0"}
	if openInference {
		scope = &commonpb.InstrumentationScope{Name: "openinference.instrumentation.llama_index", Version: "4.3.1"}
	}
	ss := &tracepb.ScopeSpans{Scope: scope, SchemaUrl: "https://opentelemetry.io/schemas/1.37.0"}
	traces := (o.spansPerRequest + spansPerTrace - 1) / spansPerTrace
	spanIndex := 0
	for t := 0; t < traces && spanIndex < o.spansPerRequest; t++ {
		start := 1 + rng.Int64N(int64(traceSpread))
		tr := ragTrace(rng, uint64(t+1), &spanIndex, start, openInference, rng.Float64() < o.errorRate)
		if room := o.spansPerRequest - len(ss.Spans); len(tr) > room {
			tr = tr[:room] // parents come first: a prefix is a valid trace
		}
		ss.Spans = append(ss.Spans, tr...)
	}
	if o.lean {
		res.Attributes = res.Attributes[:1]
		for _, sp := range ss.Spans {
			kept := sp.Attributes[:0]
			for _, kv := range sp.Attributes {
				if leanAttributes[kv.Key] {
					kept = append(kept, kv)
				}
			}
			sp.Attributes = kept
		}
	}
	return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource: res, ScopeSpans: []*tracepb.ScopeSpans{ss}, SchemaUrl: "https://opentelemetry.io/schemas/1.37.0",
	}}}
}

// leanAttributes are the span attributes --lean keeps.
var leanAttributes = map[string]bool{
	"openinference.span.kind": true, "gen_ai.operation.name": true,
	"llm.model_name": true, "gen_ai.request.model": true, "embedding.model_name": true,
	"llm.token_count.prompt": true, "llm.token_count.completion": true,
	"gen_ai.usage.input_tokens": true, "gen_ai.usage.output_tokens": true,
}

var ragServices = []string{"rag-api", "docs-qa", "support-bot"}

var questions = []string{
	"how do I rotate the API keys of a project?",
	"what is the refund policy for annual plans?",
	"why does my deployment fail with exit code 137?",
	"how many requests per minute does the free tier allow?",
	"can I export traces to Jaeger?",
	"where are the audit logs kept and for how long?",
	"how do I configure SSO with Okta?",
	"what changed in version 4 of the SDK?",
	"does the retriever support hybrid search?",
	"how do I delete a workspace?",
	"which regions is the service available in?",
	"how do I increase the context window?",
}

var chatModels = []string{"gpt-4o-mini", "gpt-4.1", "claude-sonnet-4", "llama-3.1-70b-instruct"}

// spanBuilder lays out one trace's spans with placeholder ids.
type spanBuilder struct {
	traceID []byte
	next    *int // span index within the request
	spans   []*tracepb.Span
}

func (b *spanBuilder) add(parent int, name string, kind tracepb.Span_SpanKind, start, dur int64, attrs ...*commonpb.KeyValue) int {
	*b.next++
	sp := &tracepb.Span{
		TraceId: b.traceID, SpanId: placeholder8(uint64(*b.next)), Name: name, Kind: kind,
		StartTimeUnixNano: uint64(start), EndTimeUnixNano: uint64(start + dur), Attributes: attrs,
		Flags: 0x101, // sampled, parent-is-remote known
	}
	if parent >= 0 {
		sp.ParentSpanId = b.spans[parent].SpanId
	}
	b.spans = append(b.spans, sp)
	return len(b.spans) - 1
}

func millis(rng *rand.Rand, lo, hi int) int64 {
	return int64(lo+rng.IntN(hi-lo+1)) * int64(time.Millisecond)
}

// ragTrace returns the ten spans of one query, parents before children.
func ragTrace(rng *rand.Rand, traceIndex uint64, spanIndex *int, start int64, oi, failed bool) []*tracepb.Span {
	b := &spanBuilder{traceID: placeholder16(traceIndex), next: spanIndex}
	q := questions[rng.IntN(len(questions))]
	model := chatModels[rng.IntN(len(chatModels))]
	topK, keep := int64(10+10*rng.IntN(3)), int64(3+rng.IntN(4))
	prompt1, prompt2 := int64(600+rng.IntN(2400)), int64(900+rng.IntN(3000))
	out1, out2 := int64(20+rng.IntN(120)), int64(80+rng.IntN(500))

	kindOI := func(k string) *commonpb.KeyValue { return kvS("openinference.span.kind", k) }
	gap := int64(200 * time.Microsecond)
	t := start + gap

	root := b.add(-1, "POST /v1/query", tracepb.Span_SPAN_KIND_SERVER, start, 0,
		kvS("http.request.method", "POST"), kvS("http.route", "/v1/query"), kvI("http.response.status_code", 200),
		kvS("url.scheme", "https"), kvS("user.id", fmt.Sprintf("u-%05d", rng.IntN(50000))),
		kvS("session.id", fmt.Sprintf("s-%08x", rng.Uint32())), kvS("input.value", q))
	if oi {
		b.spans[root].Attributes = append(b.spans[root].Attributes, kindOI("CHAIN"))
	}

	d := millis(rng, 15, 80)
	var embed []*commonpb.KeyValue
	if oi {
		embed = append(embed, kindOI("EMBEDDING"), kvS("embedding.model_name", "text-embedding-3-small"), kvI("llm.token_count.prompt", int64(8+len(q)/4)))
	} else {
		embed = append(embed, kvS("gen_ai.operation.name", "embeddings"), kvS("gen_ai.provider.name", "openai"),
			kvS("gen_ai.request.model", "text-embedding-3-small"), kvI("gen_ai.usage.input_tokens", int64(8+len(q)/4)))
	}
	b.add(root, name(oi, "embed", "embeddings text-embedding-3-small"), tracepb.Span_SPAN_KIND_CLIENT, t, d, embed...)
	t += d + gap

	d = millis(rng, 8, 60)
	retrieve := []*commonpb.KeyValue{kvI("retrieval.top_k", topK), kvS("input.value", q)}
	if oi {
		retrieve = append(retrieve, kindOI("RETRIEVER"))
	} else {
		retrieve = append(retrieve, kvS("gen_ai.operation.name", "retrieval"), kvS("gen_ai.data_source.id", "docs-v7"))
	}
	ret := b.add(root, name(oi, "retrieve", "retrieval docs-v7"), tracepb.Span_SPAN_KIND_INTERNAL, t, d, retrieve...)
	b.add(ret, "qdrant.search", tracepb.Span_SPAN_KIND_CLIENT, t+gap, d-2*gap,
		kvS("db.system.name", "qdrant"), kvS("db.operation.name", "search"), kvS("db.collection.name", "docs-v7"),
		kvI("db.response.returned_rows", topK), kvS("server.address", "qdrant.internal"), kvI("server.port", 6333))
	t += d + gap

	d = millis(rng, 25, 140)
	rerank := []*commonpb.KeyValue{kvS("reranker.model_name", "bge-reranker-v2-m3"), kvI("reranker.top_k", keep), kvI("reranker.input_documents", topK)}
	if oi {
		rerank = append(rerank, kindOI("RERANKER"))
	}
	b.add(root, "rerank", tracepb.Span_SPAN_KIND_CLIENT, t, d, rerank...)
	t += d + gap

	synth := b.add(root, "synthesize", tracepb.Span_SPAN_KIND_INTERNAL, t, 0, kvS("response_mode", "compact"))
	if oi {
		b.spans[synth].Attributes = append(b.spans[synth].Attributes, kindOI("CHAIN"))
	}
	t += gap
	llm := func(dur, prompt, out int64, finish string) int {
		var a []*commonpb.KeyValue
		if oi {
			a = append(a, kindOI("LLM"), kvS("llm.model_name", model), kvS("llm.provider", "openai"),
				kvI("llm.token_count.prompt", prompt), kvI("llm.token_count.completion", out), kvI("llm.token_count.total", prompt+out))
		} else {
			a = append(a, kvS("gen_ai.operation.name", "chat"), kvS("gen_ai.provider.name", "openai"),
				kvS("gen_ai.request.model", model), kvS("gen_ai.response.model", model+"-2025-08-07"),
				kvI("gen_ai.usage.input_tokens", prompt), kvI("gen_ai.usage.output_tokens", out),
				kvS("gen_ai.response.finish_reasons", finish))
		}
		a = append(a, kvD("gen_ai.request.temperature", 0.2))
		return b.add(synth, name(oi, "llm", "chat "+model), tracepb.Span_SPAN_KIND_CLIENT, t, dur, a...)
	}
	d = millis(rng, 250, 900)
	llm(d, prompt1, out1, "tool_calls")
	t += d + gap

	d = millis(rng, 20, 200)
	tool := []*commonpb.KeyValue{kvS("tool.name", "search_docs")}
	if oi {
		tool = append(tool, kindOI("TOOL"))
	} else {
		tool = append(tool, kvS("gen_ai.operation.name", "execute_tool"), kvS("gen_ai.tool.name", "search_docs"))
	}
	b.add(synth, name(oi, "tool", "execute_tool search_docs"), tracepb.Span_SPAN_KIND_CLIENT, t, d, tool...)
	t += d + gap

	d = millis(rng, 400, 2600)
	final := llm(d, prompt2, out2, "stop")
	t += d + gap
	b.spans[synth].EndTimeUnixNano = uint64(t)
	t += gap

	d = millis(rng, 2, 25)
	guard := []*commonpb.KeyValue{kvS("guardrail.name", "pii-filter"), kvS("guardrail.result", "pass")}
	if oi {
		guard = append(guard, kindOI("GUARDRAIL"))
	}
	b.add(root, "guardrail", tracepb.Span_SPAN_KIND_INTERNAL, t, d, guard...)
	t += d + gap
	b.spans[root].EndTimeUnixNano = uint64(t)

	if failed {
		f := b.spans[final]
		msg := "upstream returned 429: rate limit exceeded for " + model
		f.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: msg}
		f.Events = append(f.Events, &tracepb.Span_Event{Name: "exception", TimeUnixNano: f.EndTimeUnixNano - uint64(time.Millisecond),
			Attributes: []*commonpb.KeyValue{kvS("exception.type", "openai.RateLimitError"), kvS("exception.message", msg)}})
		r := b.spans[root]
		r.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: "answer failed"}
		r.Attributes[2] = kvI("http.response.status_code", 502)
	}
	return b.spans
}

func name(oi bool, openInference, genAI string) string {
	if oi {
		return openInference
	}
	return genAI
}

func placeholder16(i uint64) []byte {
	b := make([]byte, 16)
	putUint64(b[8:], i)
	return b
}

func placeholder8(i uint64) []byte {
	b := make([]byte, 8)
	putUint64(b, i)
	return b
}

func kvS(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

func kvI(k string, v int64) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: v}}}
}

func kvD(k string, v float64) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: v}}}
}
