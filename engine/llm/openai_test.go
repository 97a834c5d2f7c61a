package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/dispatcher/dispatchertest"
	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/engine/retry"
	"github.com/stagescope/stagescope/engine/tokens"
	"github.com/stagescope/stagescope/spans"
)

func recorded(t *testing.T) (*dispatcher.Dispatcher, *dispatcher.Recorder) {
	return dispatchertest.Isolated(t, "test.llm")
}

func spansNamed(rec *dispatcher.Recorder, name string) []*spans.Span {
	var out []*spans.Span
	for _, s := range rec.Spans() {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

func eventsOf[E event.Event](rec *dispatcher.Recorder) []E {
	var out []E
	for _, e := range rec.Events() {
		if x, ok := e.(E); ok {
			out = append(out, x)
		}
	}
	return out
}

func intAttr(t *testing.T, s *spans.Span, key string) int64 {
	t.Helper()
	v, ok := s.Attr(key)
	if !ok {
		t.Fatalf("span %s has no attribute %s", s.Name, key)
	}
	return v.AsInt64()
}

func strAttr(t *testing.T, s *spans.Span, key string) string {
	t.Helper()
	v, ok := s.Attr(key)
	if !ok {
		t.Fatalf("span %s has no attribute %s", s.Name, key)
	}
	return v.AsString()
}

// fakeOpenAI is a scriptable server speaking the chat-completions wire
// format. Each request is answered by the next script step; the last step
// repeats.
type fakeOpenAI struct {
	t     *testing.T
	mu    sync.Mutex
	steps []func(w http.ResponseWriter, req chatRequest)
	hits  int
	reqs  []chatRequest
	auth  []string
}

func newFake(t *testing.T, steps ...func(w http.ResponseWriter, req chatRequest)) (*fakeOpenAI, *httptest.Server) {
	f := &fakeOpenAI{t: t, steps: steps}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeOpenAI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/chat/completions" || r.Method != http.MethodPost {
		http.Error(w, "not found: "+r.URL.Path, http.StatusNotFound)
		return
	}
	var req chatRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	step := f.steps[min(f.hits, len(f.steps)-1)]
	f.hits++
	f.reqs = append(f.reqs, req)
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	f.mu.Unlock()
	step(w, req)
}

func (f *fakeOpenAI) Hits() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits
}

func completion(content string, u *usage) func(http.ResponseWriter, chatRequest) {
	return func(w http.ResponseWriter, _ chatRequest) {
		body := map[string]any{
			"id": "chatcmpl-1", "object": "chat.completion",
			"choices": []any{map[string]any{"index": 0, "message": map[string]any{"role": "assistant", "content": content}, "finish_reason": "stop"}},
		}
		if u != nil {
			body["usage"] = map[string]any{"prompt_tokens": u.PromptTokens, "completion_tokens": u.CompletionTokens, "total_tokens": u.PromptTokens + u.CompletionTokens}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(body)
	}
}

func status(code int, header map[string]string, body string) func(http.ResponseWriter, chatRequest) {
	return func(w http.ResponseWriter, _ chatRequest) {
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(code)
		io.WriteString(w, body)
	}
}

// sse streams the deltas, then a finish chunk, then (if u) a usage chunk
// with no choices, then [DONE].
func sse(deltas []string, u *usage) func(http.ResponseWriter, chatRequest) {
	return func(w http.ResponseWriter, req chatRequest) {
		w.Header().Set("Content-Type", "text/event-stream")
		fl := w.(http.Flusher)
		io.WriteString(w, ": keep-alive comment\n\n")
		for _, d := range deltas {
			b, _ := json.Marshal(map[string]any{"choices": []any{map[string]any{"index": 0, "delta": map[string]any{"content": d}, "finish_reason": nil}}})
			fmt.Fprintf(w, "data: %s\n\n", b)
			fl.Flush()
		}
		fmt.Fprint(w, `data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`+"\n\n")
		if u != nil && req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
			fmt.Fprintf(w, `data: {"choices":[],"usage":{"prompt_tokens":%d,"completion_tokens":%d}}`+"\n\n", u.PromptTokens, u.CompletionTokens)
		}
		io.WriteString(w, "data: [DONE]\n\n")
	}
}

func client(srv *httptest.Server, d *dispatcher.Dispatcher, model string, opts ...Option) LLM {
	base := []Option{WithHTTPClient(srv.Client()), WithDispatcher(d), WithAPIKey("sk-test"),
		WithRetry(retry.WithMinBackoff(time.Millisecond), retry.WithMaxBackoff(20*time.Millisecond))}
	return NewOpenAI(srv.URL, model, append(base, opts...)...)
}

var question = Request{Messages: []Message{{Role: RoleSystem, Content: "Be brief."}, {Role: RoleUser, Content: "hello world"}}, MaxTokens: 64}

func TestCompleteWithProviderUsage(t *testing.T) {
	d, rec := recorded(t)
	f, srv := newFake(t, completion("Hi there!", &usage{PromptTokens: 21, CompletionTokens: 4}))
	m := client(srv, d, "gpt-4o")
	resp, err := m.Complete(context.Background(), question)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Content != "Hi there!" || resp.PromptTokens != 21 || resp.CompletionTokens != 4 || resp.TokenSource != TokenSourceProvider || resp.FinishReason != "stop" {
		t.Errorf("response = %+v", resp)
	}
	if resp.TimeToFirstToken <= 0 {
		t.Error("TTFT not measured")
	}
	got := f.reqs[0]
	if got.Model != "gpt-4o" || len(got.Messages) != 2 || got.Messages[1].Content != "hello world" || got.MaxTokens != 64 || got.Stream {
		t.Errorf("request on the wire = %+v", got)
	}
	if f.auth[0] != "Bearer sk-test" {
		t.Errorf("Authorization = %q", f.auth[0])
	}
	calls := spansNamed(rec, SpanName)
	if len(calls) != 1 {
		t.Fatalf("llm.chat spans = %d", len(calls))
	}
	s := calls[0]
	if s.Stage != spans.StageLLM || s.Status != spans.StatusOK {
		t.Errorf("span stage/status = %v/%v", s.Stage, s.Status)
	}
	for key, want := range map[string]int64{spans.KeyLLMPromptTokens: 21, spans.KeyLLMCompletionTokens: 4, KeyGenAIUsageInputTokens: 21, KeyGenAIUsageOutputTokens: 4} {
		if got := intAttr(t, s, key); got != want {
			t.Errorf("%s = %d, want %d", key, got, want)
		}
	}
	for key, want := range map[string]string{spans.KeyLLMModel: "gpt-4o", KeyGenAIRequestModel: "gpt-4o", spans.KeyLLMProvider: "openai", spans.KeyLLMTokenSource: "provider", spans.KeyLLMFinishReason: "stop"} {
		if got := strAttr(t, s, key); got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	if intAttr(t, s, spans.KeyLLMTTFTNanos) <= 0 {
		t.Error("llm.ttft_ns must be positive")
	}
	// The HTTP attempt is a child of the retry span, itself a child of the call.
	logical := spansNamed(rec, "retry llm.request")
	attempts := spansNamed(rec, "llm.request")
	if len(logical) != 1 || len(attempts) != 1 || logical[0].ParentID != s.SpanID || attempts[0].ParentID != logical[0].SpanID {
		t.Errorf("span tree wrong: logical=%d attempts=%d", len(logical), len(attempts))
	}
	if len(eventsOf[*event.LLMStart](rec)) != 1 {
		t.Error("want one LLMStart")
	}
	ends := eventsOf[*event.LLMEnd](rec)
	if len(ends) != 1 || ends[0].PromptTokens != 21 || ends[0].TokenSource != "provider" {
		t.Errorf("LLMEnd = %+v", ends)
	}
}

func TestCompleteFallsBackToTiktoken(t *testing.T) {
	d, rec := recorded(t)
	_, srv := newFake(t, completion("hello world", nil))
	resp, err := client(srv, d, "gpt-4o").Complete(context.Background(), question)
	if err != nil {
		t.Fatal(err)
	}
	// o200k_base: framing 3 + (3 + "system" 1 + "Be brief." 3) + (3 + "user" 1 + "hello world" 2) = 16.
	enc, _ := tokens.Encoding(tokens.O200KBase)
	if want := countPrompt(enc, question.Messages); resp.PromptTokens != want || want != 16 {
		t.Errorf("prompt tokens = %d, countPrompt = %d, want 16", resp.PromptTokens, want)
	}
	if resp.CompletionTokens != 2 || resp.TokenSource != TokenSourceTiktoken {
		t.Errorf("response = %+v", resp)
	}
	s := spansNamed(rec, SpanName)[0]
	if strAttr(t, s, spans.KeyLLMTokenSource) != "tiktoken" || intAttr(t, s, spans.KeyLLMCompletionTokens) != 2 {
		t.Error("span does not carry the tiktoken counts")
	}
}

func TestBaseURLWithV1(t *testing.T) {
	d, _ := recorded(t)
	f, srv := newFake(t, completion("ok", nil))
	m := NewOpenAI(srv.URL+"/v1/", "llama3", WithHTTPClient(srv.Client()), WithDispatcher(d))
	if _, err := m.Complete(context.Background(), Prompt("hi")); err != nil {
		t.Fatal(err)
	}
	if f.Hits() != 1 || m.Model() != "llama3" {
		t.Errorf("hits = %d", f.Hits())
	}
}

func drain(t *testing.T, s *Stream) []string {
	t.Helper()
	var deltas []string
	for {
		d, err := s.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return deltas
		}
		if err != nil {
			t.Fatal(err)
		}
		deltas = append(deltas, d)
	}
}

func TestStreamWithUsage(t *testing.T) {
	d, rec := recorded(t)
	f, srv := newFake(t, sse([]string{"Hel", "lo", "", " world"}, &usage{PromptTokens: 30, CompletionTokens: 3}))
	s, err := client(srv, d, "gpt-4o").Stream(context.Background(), question)
	if err != nil {
		t.Fatal(err)
	}
	if !f.reqs[0].Stream || f.reqs[0].StreamOptions == nil || !f.reqs[0].StreamOptions.IncludeUsage {
		t.Errorf("stream request = %+v", f.reqs[0])
	}
	if n := len(spansNamed(rec, SpanName)); n != 0 {
		t.Fatal("the call span ended before the stream was read")
	}
	deltas := drain(t, s)
	if strings.Join(deltas, "|") != "Hel|lo| world" {
		t.Errorf("deltas = %q", deltas)
	}
	resp := s.Response()
	if resp == nil || resp.Content != "Hello world" || resp.PromptTokens != 30 || resp.CompletionTokens != 3 || resp.TokenSource != TokenSourceProvider || resp.FinishReason != "stop" {
		t.Fatalf("response = %+v", resp)
	}
	if resp.TimeToFirstToken <= 0 {
		t.Error("TTFT not measured")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	calls := spansNamed(rec, SpanName)
	if len(calls) != 1 {
		t.Fatalf("llm.chat spans = %d", len(calls))
	}
	c := calls[0]
	if v, _ := c.Attr("stream.drained"); !v.AsBool() {
		t.Error("stream.drained must be true")
	}
	if intAttr(t, c, spans.KeyLLMPromptTokens) != 30 || strAttr(t, c, spans.KeyLLMTokenSource) != "provider" || intAttr(t, c, spans.KeyLLMTTFTNanos) != int64(resp.TimeToFirstToken) {
		t.Error("stream span attributes wrong")
	}
	if n := len(eventsOf[*event.LLMStreamDelta](rec)); n != 3 {
		t.Errorf("delta events = %d, want 3", n)
	}
	if attempts := spansNamed(rec, "llm.request"); len(attempts) != 1 || attempts[0].TraceID != c.TraceID {
		t.Error("the HTTP attempt is not in the stream's trace")
	}
}

func TestStreamWithoutUsageCountsTokens(t *testing.T) {
	d, _ := recorded(t)
	_, srv := newFake(t, sse([]string{"hello", " world"}, nil))
	s, err := client(srv, d, "gpt-4o").Stream(context.Background(), question)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := ReadAll(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Content != "hello world" || resp.TokenSource != TokenSourceTiktoken || resp.PromptTokens != 16 || resp.CompletionTokens != 2 {
		t.Errorf("response = %+v", resp)
	}
}

func TestStreamClosedEarly(t *testing.T) {
	d, rec := recorded(t)
	_, srv := newFake(t, sse([]string{"one", " two", " three"}, nil))
	s, err := client(srv, d, "gpt-4o").Stream(context.Background(), question)
	if err != nil {
		t.Fatal(err)
	}
	if d, err := s.Next(context.Background()); err != nil || d != "one" {
		t.Fatalf("first delta = %q, %v", d, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	c := spansNamed(rec, SpanName)
	if len(c) != 1 {
		t.Fatal("closing must end the span")
	}
	if v, _ := c[0].Attr("stream.drained"); v.AsBool() {
		t.Error("stream.drained must be false")
	}
	if strAttr(t, c[0], spans.KeyLLMFinishReason) != "closed" || intAttr(t, c[0], spans.KeyLLMCompletionTokens) != 1 {
		t.Error("a closed stream records what was read")
	}
}

func TestStreamMalformedChunk(t *testing.T) {
	d, rec := recorded(t)
	_, srv := newFake(t, func(w http.ResponseWriter, _ chatRequest) {
		io.WriteString(w, "data: {\"choices\":[{\"delta\":{\"content\":\"ok\"}}]}\n\ndata: {not json\n\n")
	})
	s, err := client(srv, d, "gpt-4o").Stream(context.Background(), question)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if d, _ := s.Next(context.Background()); d != "ok" {
		t.Fatalf("first delta %q", d)
	}
	_, err = s.Next(context.Background())
	if err == nil || !strings.Contains(err.Error(), "malformed JSON") || !strings.Contains(err.Error(), "{not json") {
		t.Fatalf("err = %v", err)
	}
	if c := spansNamed(rec, SpanName); len(c) != 1 || c[0].Status != spans.StatusError {
		t.Error("the span must end with the stream error")
	}
}

func TestRateLimitHonoursRetryAfter(t *testing.T) {
	cases := []struct {
		name   string
		header map[string]string
		max    time.Duration
		want   time.Duration
	}{
		{"retry-after-ms", map[string]string{"Retry-After-Ms": "25"}, time.Second, 25 * time.Millisecond},
		{"retry-after seconds, capped", map[string]string{"Retry-After": "7"}, 15 * time.Millisecond, 15 * time.Millisecond},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, rec := recorded(t)
			f, srv := newFake(t, status(429, c.header, `{"error":{"message":"Rate limit reached","type":"requests"}}`), completion("fine", nil))
			resp, err := client(srv, d, "gpt-4o", WithRetry(retry.WithMaxBackoff(c.max))).Complete(context.Background(), question)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Content != "fine" || f.Hits() != 2 {
				t.Errorf("content %q after %d hits", resp.Content, f.Hits())
			}
			b := eventsOf[*event.BackoffScheduled](rec)
			if len(b) != 1 || b[0].Delay != c.want {
				t.Fatalf("backoff events = %+v, want one of %v", b, c.want)
			}
			failed := eventsOf[*event.AttemptFailed](rec)
			if len(failed) != 1 || !strings.Contains(failed[0].Err, "HTTP 429") || !strings.Contains(failed[0].Err, "Rate limit reached") {
				t.Errorf("attempt failure = %+v", failed)
			}
			logical := spansNamed(rec, "retry llm.request")[0]
			if intAttr(t, logical, spans.KeyRetryAttempts) != 2 || intAttr(t, logical, spans.KeyRetryBackoffNanos) < int64(c.want) {
				t.Error("retry span attributes wrong")
			}
		})
	}
}

func TestServerErrorsRetriedThenSuccess(t *testing.T) {
	d, rec := recorded(t)
	f, srv := newFake(t, status(502, nil, "bad gateway"), status(503, nil, "overloaded"), completion("finally", &usage{PromptTokens: 5, CompletionTokens: 1}))
	resp, err := client(srv, d, "gpt-4o", WithRetry(retry.WithMaxTries(4))).Complete(context.Background(), question)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Content != "finally" || f.Hits() != 3 {
		t.Errorf("content %q after %d hits", resp.Content, f.Hits())
	}
	attempts := spansNamed(rec, "llm.request")
	if len(attempts) != 3 || attempts[0].Status != spans.StatusError || attempts[2].Status != spans.StatusOK || attempts[0].Stage != spans.StageLLM {
		t.Errorf("attempt spans wrong: %d", len(attempts))
	}
	// Every attempt always fails: the error names the status and the attempts.
	d2, _ := recorded(t)
	_, srv2 := newFake(t, status(500, nil, "internal failure"))
	_, err = client(srv2, d2, "gpt-4o", WithRetry(retry.WithMaxTries(2))).Complete(context.Background(), question)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 500 || !strings.Contains(err.Error(), "2 attempts") || !strings.Contains(err.Error(), "internal failure") {
		t.Errorf("err = %v", err)
	}
}

func TestMalformedJSONNotRetried(t *testing.T) {
	d, rec := recorded(t)
	f, srv := newFake(t, status(200, map[string]string{"Content-Type": "application/json"}, `{"choices": [ {"message": `))
	_, err := client(srv, d, "gpt-4o").Complete(context.Background(), question)
	if err == nil || !strings.Contains(err.Error(), "malformed JSON") || !strings.Contains(err.Error(), `{"choices"`) {
		t.Fatalf("err = %v", err)
	}
	if f.Hits() != 1 {
		t.Errorf("malformed JSON was retried: %d hits", f.Hits())
	}
	if c := spansNamed(rec, SpanName); len(c) != 1 || c[0].Status != spans.StatusError {
		t.Error("the call span must end with the error")
	}
}

func TestClientErrorNotRetried(t *testing.T) {
	d, _ := recorded(t)
	f, srv := newFake(t, status(400, nil, `{"error":{"message":"max_tokens is too large"}}`))
	_, err := client(srv, d, "gpt-4o").Complete(context.Background(), question)
	if err == nil || !strings.Contains(err.Error(), "HTTP 400") || !strings.Contains(err.Error(), "max_tokens is too large") || !retry.IsPermanent(err) {
		t.Fatalf("err = %v", err)
	}
	if f.Hits() != 1 {
		t.Errorf("hits = %d", f.Hits())
	}
	// A stream whose request fails returns the error and ends its span.
	d2, rec2 := recorded(t)
	_, srv2 := newFake(t, status(401, nil, "bad key"))
	s, err := client(srv2, d2, "gpt-4o").Stream(context.Background(), question)
	if s != nil || err == nil || !strings.Contains(err.Error(), "HTTP 401") {
		t.Fatalf("Stream = %v, %v", s, err)
	}
	if c := spansNamed(rec2, SpanName); len(c) != 1 || c[0].Status != spans.StatusError {
		t.Error("a failed stream request must end its span with the error")
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, c := range []struct {
		h    http.Header
		want time.Duration
	}{
		{http.Header{"Retry-After": {"2"}}, 2 * time.Second},
		{http.Header{"Retry-After": {"0.5"}}, 500 * time.Millisecond},
		{http.Header{"Retry-After": {now.Add(3 * time.Second).Format(http.TimeFormat)}}, 3 * time.Second},
		{http.Header{"Retry-After": {"2"}, "Retry-After-Ms": {"120.5"}}, 120500 * time.Microsecond},
		{http.Header{"Retry-After": {"soon"}}, 0},
		{http.Header{"Retry-After": {"-4"}}, 0},
		{http.Header{}, 0},
	} {
		if got := parseRetryAfter(c.h, now); got != c.want {
			t.Errorf("parseRetryAfter(%v) = %v, want %v", c.h, got, c.want)
		}
	}
}

func TestSSEReader(t *testing.T) {
	r := newSSEReader(strings.NewReader(": comment\n\nevent: x\ndata: a\ndata:b\n\nid: 3\n\ndata: last"))
	var got []string
	for {
		d, err := r.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(d))
	}
	if strings.Join(got, "|") != "a\nb|last" {
		t.Errorf("events = %q", got)
	}
}
