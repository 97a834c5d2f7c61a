package main

import (
	"encoding/hex"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// TestGeneratorRequests decodes requests as OTLP and checks what the
// benchmark relies on: the span count, ids never repeating across
// requests, parents inside their own trace, timestamps ending before now.
func TestGeneratorRequests(t *testing.T) {
	const perReq, requests = 1000, 120
	g, err := newGenerator(4, fixtureOptions{spansPerRequest: perReq, errorRate: 0.05, seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_900_000_000, 0)
	g.now = func() time.Time { return now }
	traceIDs := map[[16]byte]int{}
	spanIDs := map[[8]byte]bool{}
	var buf []byte
	errorsSeen, servers, llmTokens := 0, 0, 0
	for r := range requests {
		req := g.nextRequest(buf)
		buf = req.body
		var m coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(req.body, &m); err != nil {
			t.Fatalf("request %d does not decode as OTLP: %v", r, err)
		}
		if len(m.ResourceSpans) != 1 || len(m.ResourceSpans[0].ScopeSpans) != 1 {
			t.Fatalf("request %d: %d resources", r, len(m.ResourceSpans))
		}
		rs := m.ResourceSpans[0]
		if svc := attr(rs.Resource.Attributes, "service.name"); svc == "" {
			t.Fatalf("request %d: no service.name", r)
		}
		sp := rs.ScopeSpans[0].Spans
		if len(sp) != perReq || req.spans != perReq {
			t.Fatalf("request %d: %d spans (says %d), want %d", r, len(sp), req.spans, perReq)
		}
		inReq := map[[16]byte]int{}
		spanTrace := map[[8]byte][16]byte{}
		for _, s := range sp {
			tid, sid := [16]byte(s.TraceId), [8]byte(s.SpanId)
			if tid == ([16]byte{}) || sid == ([8]byte{}) {
				t.Fatalf("request %d: zero id", r)
			}
			inReq[tid]++
			if spanIDs[sid] {
				t.Fatalf("request %d: span id %x repeats", r, sid)
			}
			spanIDs[sid] = true
			spanTrace[sid] = tid
			if s.StartTimeUnixNano == 0 || s.EndTimeUnixNano < s.StartTimeUnixNano || s.EndTimeUnixNano > uint64(now.UnixNano()) ||
				s.StartTimeUnixNano < uint64(now.Add(-time.Minute).UnixNano()) {
				t.Fatalf("request %d: span %q from %d to %d, now %d", r, s.Name, s.StartTimeUnixNano, s.EndTimeUnixNano, now.UnixNano())
			}
			for _, e := range s.Events {
				if e.TimeUnixNano < s.StartTimeUnixNano || e.TimeUnixNano > s.EndTimeUnixNano {
					t.Fatalf("request %d: event outside its span", r)
				}
			}
			if s.Status.GetCode() == tracepb.Status_STATUS_CODE_ERROR && s.Kind == tracepb.Span_SPAN_KIND_SERVER {
				errorsSeen++
			}
			if s.Kind == tracepb.Span_SPAN_KIND_SERVER {
				servers++
			}
			if attr(s.Attributes, "llm.token_count.completion") != "" || attr(s.Attributes, "gen_ai.usage.output_tokens") != "" {
				llmTokens++
			}
		}
		for _, s := range sp {
			if len(s.ParentSpanId) == 0 {
				continue
			}
			pt, ok := spanTrace[[8]byte(s.ParentSpanId)]
			if !ok || pt != [16]byte(s.TraceId) {
				t.Fatalf("request %d: span %q's parent is not in its trace", r, s.Name)
			}
		}
		if len(inReq) != perReq/spansPerTrace {
			t.Fatalf("request %d: %d traces, want %d", r, len(inReq), perReq/spansPerTrace)
		}
		for id, n := range inReq {
			if n != spansPerTrace {
				t.Fatalf("request %d: trace %x has %d spans", r, id, n)
			}
			if prev, ok := traceIDs[id]; ok {
				t.Fatalf("trace id %x of request %d repeats request %d", id, r, prev)
			}
			traceIDs[id] = r
		}
		if inReq[req.firstID] == 0 || inReq[req.lastID] == 0 || req.firstID == req.lastID {
			t.Fatalf("request %d: first/last trace ids %s %s not in the request", r, hex.EncodeToString(req.firstID[:]), hex.EncodeToString(req.lastID[:]))
		}
	}
	if want := requests * perReq / spansPerTrace; len(traceIDs) != want || len(spanIDs) != requests*perReq {
		t.Fatalf("%d distinct traces and %d spans, want %d and %d", len(traceIDs), len(spanIDs), want, requests*perReq)
	}
	if servers != len(traceIDs) {
		t.Fatalf("%d root SERVER spans for %d traces", servers, len(traceIDs))
	}
	if llmTokens != 2*len(traceIDs) {
		t.Fatalf("%d LLM spans with token counts, want two per trace (%d)", llmTokens, 2*len(traceIDs))
	}
	// 5% of 12,000 traces: expect 600; the fixture is seeded.
	if errorsSeen < 300 || errorsSeen > 900 {
		t.Fatalf("%d failed traces of %d at a 5%% error rate", errorsSeen, len(traceIDs))
	}
}

// TestGeneratorPartialTrace checks a request size that is not a multiple
// of a trace: the last trace is a valid prefix.
func TestGeneratorPartialTrace(t *testing.T) {
	g, err := newGenerator(1, fixtureOptions{spansPerRequest: 25, seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	req := g.nextRequest(nil)
	var m coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(req.body, &m); err != nil {
		t.Fatal(err)
	}
	sp := m.ResourceSpans[0].ScopeSpans[0].Spans
	if len(sp) != 25 {
		t.Fatalf("%d spans, want 25", len(sp))
	}
	if len(sp[20].ParentSpanId) != 0 || sp[20].Kind != tracepb.Span_SPAN_KIND_SERVER {
		t.Fatalf("third trace does not start with its root: %q", sp[20].Name)
	}
	if [16]byte(sp[24].TraceId) != req.lastID || [16]byte(sp[0].TraceId) != req.firstID {
		t.Fatal("first and last trace ids are not those of the request")
	}
}

func TestMix64IsABijectionOnASample(t *testing.T) {
	seen := map[uint64]bool{}
	for i := range uint64(1 << 16) {
		v := mix64(i)
		if seen[v] {
			t.Fatalf("mix64 collides at %d", i)
		}
		seen[v] = true
	}
}

func attr(kvs []*commonpb.KeyValue, key string) string {
	for _, kv := range kvs {
		if kv.Key == key {
			if s := kv.Value.GetStringValue(); s != "" {
				return s
			}
			return kv.Value.String()
		}
	}
	return ""
}

// TestLeanFixture checks that --lean keeps the stage and token attributes
// and drops the rest.
func TestLeanFixture(t *testing.T) {
	full, err := newGenerator(2, fixtureOptions{spansPerRequest: 100, seed: 6})
	if err != nil {
		t.Fatal(err)
	}
	lean, err := newGenerator(2, fixtureOptions{spansPerRequest: 100, seed: 6, lean: true})
	if err != nil {
		t.Fatal(err)
	}
	if lean.bytesPerRequest*10 > full.bytesPerRequest*7 {
		t.Fatalf("lean requests %d bytes, full %d: want at most 70%%", lean.bytesPerRequest, full.bytesPerRequest)
	}
	var m coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(lean.nextRequest(nil).body, &m); err != nil {
		t.Fatal(err)
	}
	rs := m.ResourceSpans[0]
	if len(rs.Resource.Attributes) != 1 || rs.Resource.Attributes[0].Key != "service.name" {
		t.Fatalf("lean resource %v", rs.Resource.Attributes)
	}
	for _, s := range rs.ScopeSpans[0].Spans {
		for _, kv := range s.Attributes {
			if !leanAttributes[kv.Key] {
				t.Fatalf("lean span %q keeps %q", s.Name, kv.Key)
			}
		}
		if s.Name == "llm" && attr(s.Attributes, "llm.token_count.prompt") == "" {
			t.Fatalf("lean LLM span lost its tokens: %v", s.Attributes)
		}
	}
}
