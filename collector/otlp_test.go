package collector

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/spans"
	"github.com/stagescope/stagescope/spans/semconv"
)

func kv(k string, v any) *commonpb.KeyValue {
	var av *commonpb.AnyValue
	switch x := v.(type) {
	case string:
		av = &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: x}}
	case int:
		av = &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: int64(x)}}
	case float64:
		av = &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: x}}
	case bool:
		av = &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: x}}
	}
	return &commonpb.KeyValue{Key: k, Value: av}
}

// otlpRequest makes a request with n spans of one trace (the first is the
// root) from service "svc".
func otlpRequest(n int, start time.Time) (*coltracepb.ExportTraceServiceRequest, spans.TraceID, []spans.SpanID) {
	tid := spans.NewTraceID()
	var ids []spans.SpanID
	var ps []*tracepb.Span
	for i := 0; i < n; i++ {
		sid := spans.NewSpanID()
		ids = append(ids, sid)
		p := &tracepb.Span{TraceId: tid[:], SpanId: sid[:], Name: fmt.Sprintf("op%d", i),
			StartTimeUnixNano: uint64(start.UnixNano()) + uint64(i), EndTimeUnixNano: uint64(start.UnixNano()) + uint64(i) + 1000,
			Attributes: []*commonpb.KeyValue{kv("i", i)}}
		if i > 0 {
			p.ParentSpanId = ids[0][:]
		}
		ps = append(ps, p)
	}
	return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource:   &resourcepb.Resource{Attributes: []*commonpb.KeyValue{kv("service.name", "svc")}},
		ScopeSpans: []*tracepb.ScopeSpans{{Scope: &commonpb.InstrumentationScope{Name: "test.scope"}, Spans: ps}},
	}}}, tid, ids
}

func post(t testing.TB, url, ctype string, body []byte, gz bool) (*http.Response, []byte) {
	t.Helper()
	if gz {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(body)
		zw.Close()
		body = buf.Bytes()
	}
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	if gz {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestOTLPProtobufGzipAndPartialSuccess(t *testing.T) {
	s := openStore(t)
	c := newCollector(t, s)
	srv := httptest.NewServer(NewOTLPHandler(c))
	defer srv.Close()
	req, tid, ids := otlpRequest(5, t0)
	// One invalid span: 3-byte span id.
	req.ResourceSpans[0].ScopeSpans[0].Spans = append(req.ResourceSpans[0].ScopeSpans[0].Spans, &tracepb.Span{TraceId: tid[:], SpanId: []byte{1, 2, 3}, Name: "bad"})
	body, _ := proto.Marshal(req)
	for _, gz := range []bool{false, true} {
		resp, b := post(t, srv.URL+"/v1/traces", "application/x-protobuf", body, gz)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, b)
		}
		var out coltracepb.ExportTraceServiceResponse
		if err := proto.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
		if out.GetPartialSuccess().GetRejectedSpans() != 1 || !strings.Contains(out.GetPartialSuccess().GetErrorMessage(), "span id has 3 bytes") {
			t.Fatalf("partial success %v", out.GetPartialSuccess())
		}
	}
	// 200 means committed: no Flush needed.
	tr, err := s.GetTrace(context.Background(), tid)
	if err != nil {
		t.Fatal(err)
	}
	// The same request was posted twice (plain, then gzip): stored once.
	if len(tr.Spans) != 5 || tr.Summary.SpanCount != 5 || tr.Summary.Service != "svc" || tr.Summary.RootName != "op0" {
		t.Fatalf("stored %d spans, summary %+v", len(tr.Spans), tr.Summary)
	}
	if tr.Spans[0].SpanID != ids[0] || tr.Spans[0].Scope != "test.scope" {
		t.Fatalf("first span %+v", tr.Spans[0])
	}
	if got := tr.Spans[0].Service(); got != "svc" {
		t.Fatalf("service %q, want the resource's service.name", got)
	}
	if _, ok := tr.Spans[0].Attr(spans.KeyService); ok {
		t.Fatal("service.name copied onto the span's own attributes")
	}
	if m := c.Metrics(); m.SpansRejected != 2 || m.SpansWritten != 5 || m.SpansDuplicate != 5 {
		t.Fatalf("metrics %+v", m)
	}
}

func TestOTLPJSONHexIDsAndConventions(t *testing.T) {
	s := openStore(t)
	c := newCollector(t, s)
	srv := httptest.NewServer(NewOTLPHandler(c))
	defer srv.Close()
	tid, root, child := spans.NewTraceID(), spans.NewSpanID(), spans.NewSpanID()
	st := t0.UnixNano()
	body := fmt.Sprintf(`{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"py-rag"}}]},
	 "scopeSpans":[{"scope":{"name":"openinference"},"spans":[
	  {"traceId":"%s","spanId":"%s","name":"RAG","kind":1,"startTimeUnixNano":"%d","endTimeUnixNano":"%d",
	   "attributes":[{"key":"openinference.span.kind","value":{"stringValue":"CHAIN"}}],"status":{"code":2,"message":"bad answer"},"unknownField":1},
	  {"traceId":"%s","spanId":"%s","parentSpanId":"%s","name":"ChatOpenAI","startTimeUnixNano":"%d","endTimeUnixNano":%d,
	   "attributes":[{"key":"gen_ai.operation.name","value":{"stringValue":"chat"}},{"key":"gen_ai.usage.input_tokens","value":{"intValue":"120"}},
	     {"key":"llm.token_count.completion","value":{"intValue":7}},{"key":"gen_ai.request.model","value":{"stringValue":"gpt-x"}},
	     {"key":"tags","value":{"arrayValue":{"values":[{"stringValue":"a"},{"stringValue":"b"}]}}},
	     {"key":"mixed","value":{"arrayValue":{"values":[{"stringValue":"a"},{"intValue":"1"}]}}},
	     {"key":"obj","value":{"kvlistValue":{"values":[{"key":"x","value":{"doubleValue":1.5}}]}}}],
	   "events":[{"timeUnixNano":"%d","name":"first_token","attributes":[{"key":"n","value":{"intValue":"1"}}]}],
	   "links":[{"traceId":"%s","spanId":"%s"}]},
	  {"traceId":"%s","spanId":"%s","parentSpanId":"%s","name":"vector search","startTimeUnixNano":"%d","endTimeUnixNano":"%d"}
	 ]}]}]}`,
		hex.EncodeToString(tid[:]), hex.EncodeToString(root[:]), st, st+1e6,
		hex.EncodeToString(tid[:]), hex.EncodeToString(child[:]), hex.EncodeToString(root[:]), st+10, st+500,
		st+100, hex.EncodeToString(tid[:]), hex.EncodeToString(root[:]),
		hex.EncodeToString(tid[:]), "0102030405060708", hex.EncodeToString(root[:]), st+600, st+900)
	resp, b := post(t, srv.URL+"/v1/traces", "application/json; charset=utf-8", []byte(body), true)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	tr, err := s.GetTrace(context.Background(), tid)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Spans) != 3 || len(tr.Events) != 1 {
		t.Fatalf("%d spans %d events", len(tr.Spans), len(tr.Events))
	}
	r, llm, ret := tr.Spans[0], tr.Spans[1], tr.Spans[2]
	if r.Stage != spans.StageChain || r.Status != spans.StatusError || r.Err != "bad answer" || !r.Start.Equal(t0) {
		t.Fatalf("root %+v", r)
	}
	if llm.Stage != spans.StageLLM || llm.ParentID != root || llm.End.UnixNano() != st+500 || len(llm.Links) != 1 || llm.Links[0].SpanID != root {
		t.Fatalf("llm span %+v", llm)
	}
	for k, want := range map[string]string{"gen_ai.usage.input_tokens": "120", "llm.token_count.completion": "7", "gen_ai.request.model": "gpt-x", "tags": "[a b]", "mixed": `["a",1]`, "obj": `{"x":1.5}`} {
		if v, ok := llm.Attr(k); !ok || v.Emit() != want {
			t.Errorf("attribute %s = %q, want %q", k, v.Emit(), want)
		}
	}
	if len(llm.Attrs) != 7 {
		t.Errorf("%d attributes stored, want the 7 sent: %v", len(llm.Attrs), llm.Attrs)
	}
	if u := semconv.UsageOf(llm); u != (semconv.Usage{Prompt: 120, Completion: 7}) || semconv.Model(llm) != "gpt-x" {
		t.Errorf("usage %+v model %q", u, semconv.Model(llm))
	}
	if r.Kind != spans.SpanKindInternal || llm.Kind != spans.SpanKindUnspecified || llm.Service() != "py-rag" || llm.Scope != "openinference" {
		t.Errorf("kinds %s %s, service %q, scope %q", r.Kind, llm.Kind, llm.Service(), llm.Scope)
	}
	if ret.Stage != spans.StageRetrieve {
		t.Errorf("'vector search' mapped to %s", ret.Stage)
	}
	if e := tr.Events[0]; e.Name != "first_token" || e.SpanID != child || e.Stage != spans.StageLLM || e.Time.UnixNano() != st+100 {
		t.Errorf("event %+v", e)
	}
}

func TestOTLPErrors(t *testing.T) {
	s := openStore(t)
	c := newCollector(t, s)
	srv := httptest.NewServer(NewOTLPHandler(c, WithMaxBodyBytes(1024)))
	defer srv.Close()
	u := srv.URL + "/v1/traces"
	decodeStatus := func(b []byte) string {
		var st statuspb.Status
		if err := proto.Unmarshal(b, &st); err != nil {
			t.Fatalf("error body is not a Status: %v", err)
		}
		return st.GetMessage()
	}
	resp, b := post(t, u, "application/x-protobuf", []byte{0xff, 0xff, 0xff}, false)
	if resp.StatusCode != 400 || !strings.Contains(decodeStatus(b), "malformed OTLP request") {
		t.Fatalf("garbage: %d %q", resp.StatusCode, b)
	}
	resp, b = post(t, u, "application/json", []byte(`{"resourceSpans":`), false)
	if resp.StatusCode != 400 || !strings.Contains(string(b), "malformed OTLP request: JSON") {
		t.Fatalf("bad json: %d %s", resp.StatusCode, b)
	}
	big, _, _ := otlpRequest(40, t0)
	bb, _ := proto.Marshal(big)
	if resp, _ = post(t, u, "application/x-protobuf", bb, false); resp.StatusCode != 413 {
		t.Fatalf("large body: %d", resp.StatusCode)
	}
	// Small when compressed, too large once inflated.
	bomb := bytes.Repeat([]byte{0}, 1<<20)
	if resp, _ = post(t, u, "application/x-protobuf", bomb, true); resp.StatusCode != 413 {
		t.Fatalf("gzip bomb: %d", resp.StatusCode)
	}
	if resp, _ = post(t, u, "text/plain", []byte("x"), false); resp.StatusCode != 415 {
		t.Fatalf("text/plain: %d", resp.StatusCode)
	}
	r2, _ := http.Get(u)
	r2.Body.Close()
	if r2.StatusCode != 405 || r2.Header.Get("Allow") != "POST" {
		t.Fatalf("GET: %d", r2.StatusCode)
	}
	if m := c.Metrics(); m.SpansAccepted != 0 {
		t.Fatalf("accepted %d spans from bad requests", m.SpansAccepted)
	}
}

// TestOTLPFullQueueAnswers429 blocks the writer so the queue fills.
func TestOTLPFullQueueAnswers429(t *testing.T) {
	s := openStore(t)
	c := newCollector(t, s, WithQueueSize(10))
	srv := httptest.NewServer(NewOTLPHandler(c, WithRetryAfter(3*time.Second)))
	defer srv.Close()
	s.wmu.Lock() // the writer cannot commit
	done := make(chan int, 1)
	req1, _, _ := otlpRequest(8, t0)
	b1, _ := proto.Marshal(req1)
	go func() {
		resp, _ := post(t, srv.URL, "application/x-protobuf", b1, false)
		done <- resp.StatusCode
	}()
	for c.Metrics().SpansAccepted != 8 {
		time.Sleep(time.Millisecond)
	}
	req2, _, _ := otlpRequest(3, t0)
	b2, _ := proto.Marshal(req2)
	resp, _ := post(t, srv.URL, "application/x-protobuf", b2, false)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "3" {
		t.Fatalf("full queue: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	s.wmu.Unlock()
	if code := <-done; code != 200 {
		t.Fatalf("first request: %d", code)
	}
	if m := c.Metrics(); m.SpansRefused != 3 || m.SpansWritten != 8 {
		t.Fatalf("metrics %+v", m)
	}
	c.Shutdown(context.Background())
	resp, _ = post(t, srv.URL, "application/x-protobuf", b2, false)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("after shutdown: %d", resp.StatusCode)
	}
}

func TestOTLPOnIngestedSeesCommittedSpansOnly(t *testing.T) {
	s := openStore(t)
	c := newCollector(t, s)
	var got []spans.Span
	var storedAtHook int
	srv := httptest.NewServer(NewOTLPHandler(c, WithOnIngested(func(ss []spans.Span, _ []event.Record) {
		got = append(got, ss...)
		if tr, err := s.GetTrace(context.Background(), ss[0].TraceID); err == nil {
			storedAtHook = len(tr.Spans)
		}
	})))
	defer srv.Close()
	req, tid, ids := otlpRequest(4, t0)
	body, _ := proto.Marshal(req)
	if resp, b := post(t, srv.URL+"/v1/traces", "application/x-protobuf", body, false); resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	if len(got) != len(ids) || got[0].TraceID != tid || storedAtHook != len(ids) {
		t.Fatalf("hook saw %d spans (stored at that moment: %d), want %d committed", len(got), storedAtHook, len(ids))
	}
	// A malformed request reaches the hook with nothing.
	if resp, _ := post(t, srv.URL+"/v1/traces", "application/x-protobuf", []byte("not protobuf"), false); resp.StatusCode != 400 {
		t.Fatalf("malformed body: %d", resp.StatusCode)
	}
	if len(got) != len(ids) {
		t.Fatalf("hook called for a rejected request: %d spans", len(got))
	}
}
