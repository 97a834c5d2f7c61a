package embed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/engine/retry"
	"github.com/stagescope/stagescope/spans"
)

// fakeServer speaks the OpenAI embeddings wire format. Its vectors are
// [len(text), index-in-batch, 1]; fail decides, per request number
// (1-based), whether to answer with an error instead.
type fakeServer struct {
	requests atomic.Int64
	mu       sync.Mutex
	batches  [][]string
	fail     func(n int, w http.ResponseWriter) bool
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := int(f.requests.Add(1))
	if r.URL.Path != "/v1/embeddings" || r.Method != http.MethodPost || r.Header.Get("Authorization") != "Bearer k" {
		http.Error(w, "bad route "+r.URL.Path, http.StatusNotFound)
		return
	}
	if f.fail != nil && f.fail(n, w) {
		return
	}
	var req embeddingsRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.batches = append(f.batches, req.Input)
	f.mu.Unlock()
	type item struct {
		Object    string    `json:"object"`
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	}
	var data []item
	tokens := 0
	for i := len(req.Input) - 1; i >= 0; i-- { // out of order on purpose
		data = append(data, item{"embedding", i, []float32{float32(len(req.Input[i])), float32(i), 1}})
		tokens += len(req.Input[i])
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"object": "list", "model": req.Model, "data": data,
		"usage": map[string]int{"prompt_tokens": tokens, "total_tokens": tokens}})
}

func newClient(t *testing.T, f *fakeServer, opts ...OpenAIOption) *OpenAI {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	base := []OpenAIOption{WithAPIKey("k"), WithRetryOptions(retry.WithMinBackoff(time.Millisecond), retry.WithMaxBackoff(time.Second), retry.WithMaxTries(4))}
	return NewOpenAI(srv.URL, "test-embed", append(base, opts...)...)
}

func TestOpenAIBatchesInOrder(t *testing.T) {
	f := &fakeServer{}
	o := newClient(t, f, WithBatchSize(4))
	texts := make([]string, 10)
	for i := range texts {
		texts[i] = fmt.Sprintf("text %d %s", i, string(make([]byte, i)))
	}
	vs, err := o.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.requests.Load(); got != 3 {
		t.Fatalf("%d requests for 10 texts in batches of 4, want 3", got)
	}
	for i, v := range vs {
		if int(v[0]) != len(texts[i]) || int(v[1]) != i%4 {
			t.Fatalf("vector %d = %v: out of order", i, v)
		}
	}
	if o.Dimensions() != 3 {
		t.Fatalf("Dimensions = %d", o.Dimensions())
	}
	for _, b := range f.batches {
		if len(b) > 4 {
			t.Fatalf("batch of %d", len(b))
		}
	}
}

func TestOpenAIHonoursRetryAfterOn429(t *testing.T) {
	rec := dispatcher.NewRecorder(0)
	defer dispatcher.Root().AddSpanHandler(rec)()
	defer dispatcher.Root().AddEventHandler(rec)()
	f := &fakeServer{fail: func(n int, w http.ResponseWriter) bool {
		if n == 1 {
			w.Header().Set("Retry-After", "0.03")
			http.Error(w, `{"error":{"message":"rate limited"}}`, http.StatusTooManyRequests)
			return true
		}
		return false
	}}
	o := newClient(t, f)
	vs, err := o.Embed(context.Background(), []string{"abc"})
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 1 || f.requests.Load() != 2 {
		t.Fatalf("%d vectors after %d requests", len(vs), f.requests.Load())
	}
	var delays []time.Duration
	for _, e := range rec.Events() {
		if b, ok := e.(*event.BackoffScheduled); ok {
			delays = append(delays, b.Delay)
		}
	}
	// The jittered backoff of attempt 1 is at most 1 ms; Retry-After asked
	// for 30 ms.
	if len(delays) != 1 || delays[0] != 30*time.Millisecond {
		t.Fatalf("backoff delays %v, want [30ms] from Retry-After", delays)
	}
	// Attempt spans sit under the retry span, which sits under embed.
	byID := map[spans.SpanID]*spans.Span{}
	for _, s := range rec.Spans() {
		byID[s.SpanID] = s
	}
	attempts := 0
	for _, s := range rec.Spans() {
		if s.Name != RetryOp {
			continue
		}
		attempts++
		logical := byID[s.ParentID]
		if logical == nil || logical.Name != "retry "+RetryOp || byID[logical.ParentID] == nil || byID[logical.ParentID].Name != SpanName {
			t.Fatalf("attempt span %v is not under retry → embed", s.Name)
		}
	}
	if attempts != 2 {
		t.Fatalf("%d attempt spans, want 2", attempts)
	}
}

func TestOpenAIRetries5xxThenSucceeds(t *testing.T) {
	f := &fakeServer{fail: func(n int, w http.ResponseWriter) bool {
		if n <= 2 {
			http.Error(w, "upstream down", http.StatusBadGateway)
			return true
		}
		return false
	}}
	vs, err := newClient(t, f).Embed(context.Background(), []string{"a", "bb"})
	if err != nil {
		t.Fatal(err)
	}
	if f.requests.Load() != 3 || len(vs) != 2 || vs[1][0] != 2 {
		t.Fatalf("%d requests, vectors %v", f.requests.Load(), vs)
	}
}

func TestOpenAIGivesUpOnPersistent5xx(t *testing.T) {
	f := &fakeServer{fail: func(int, http.ResponseWriter) bool { return true }}
	f.fail = func(_ int, w http.ResponseWriter) bool {
		http.Error(w, "overloaded", http.StatusServiceUnavailable)
		return true
	}
	_, err := newClient(t, f).Embed(context.Background(), []string{"a"})
	var he *HTTPError
	var re *retry.Error
	if !errors.As(err, &he) || he.StatusCode != 503 || !errors.As(err, &re) || re.Attempts != 4 {
		t.Fatalf("err = %v", err)
	}
	if f.requests.Load() != 4 {
		t.Fatalf("%d requests, want 4 (max tries)", f.requests.Load())
	}
}

func TestOpenAIMalformedJSONFailsAtOnce(t *testing.T) {
	for name, body := range map[string]string{
		"truncated":   `{"data":[{"index":0,"embedding":[1,2`,
		"wrong count": `{"data":[]}`,
		"bad index":   `{"data":[{"index":5,"embedding":[1]}]}`,
		"not json":    `<html>gateway</html>`,
	} {
		t.Run(name, func(t *testing.T) {
			f := &fakeServer{fail: func(_ int, w http.ResponseWriter) bool {
				w.Write([]byte(body))
				return true
			}}
			_, err := newClient(t, f).Embed(context.Background(), []string{"a"})
			if !errors.Is(err, ErrMalformedResponse) {
				t.Fatalf("err = %v, want ErrMalformedResponse", err)
			}
			if f.requests.Load() != 1 {
				t.Fatalf("a malformed answer was retried: %d requests", f.requests.Load())
			}
		})
	}
}

func TestOpenAIClientErrorNotRetried(t *testing.T) {
	f := &fakeServer{fail: func(_ int, w http.ResponseWriter) bool {
		http.Error(w, `{"error":{"message":"unknown model"}}`, http.StatusBadRequest)
		return true
	}}
	_, err := newClient(t, f).Embed(context.Background(), []string{"a"})
	var he *HTTPError
	if !errors.As(err, &he) || he.StatusCode != 400 || f.requests.Load() != 1 {
		t.Fatalf("err = %v after %d requests", err, f.requests.Load())
	}
}

func TestOpenAIBaseURLForms(t *testing.T) {
	for base, want := range map[string]string{
		"http://h:1":      "http://h:1/v1/embeddings",
		"http://h:1/":     "http://h:1/v1/embeddings",
		"http://h:1/v1":   "http://h:1/v1/embeddings",
		"http://h:1/v1/":  "http://h:1/v1/embeddings",
		"http://h:1/api/": "http://h:1/api/v1/embeddings",
	} {
		if got := NewOpenAI(base, "m").endpoint; got != want {
			t.Errorf("NewOpenAI(%q) posts to %q, want %q", base, got, want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":        0,
		"2":       2 * time.Second,
		"0.5":     500 * time.Millisecond,
		"garbage": 0,
		"-1":      0,
		now.Add(7 * time.Second).Format(http.TimeFormat): 7 * time.Second,
		now.Add(-time.Hour).Format(http.TimeFormat):      0,
	} {
		if got := parseRetryAfter(v, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestOpenAIConcurrentBatchesThroughPool(t *testing.T) {
	rec := dispatcher.NewRecorder(0)
	defer dispatcher.Root().AddSpanHandler(rec)()
	f := &fakeServer{}
	o := newClient(t, f, WithBatchSize(2), WithConcurrency(3))
	texts := []string{"a", "bb", "ccc", "dddd", "eeeee", "ffffff", "g", "hh", "iii", "jjjj"}
	vs, err := o.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	if f.requests.Load() != 5 || len(vs) != 10 {
		t.Fatalf("%d requests, %d vectors", f.requests.Load(), len(vs))
	}
	for i, v := range vs {
		if int(v[0]) != len(texts[i]) {
			t.Fatalf("vector %d out of order: %v", i, v)
		}
	}
	var embedSpan, run *spans.Span
	for _, s := range rec.Spans() {
		switch {
		case s.Name == SpanName:
			embedSpan = s
		case s.Name == "embed.batches":
			run = s
		}
	}
	if embedSpan == nil || run == nil || run.ParentID != embedSpan.SpanID {
		t.Fatal("the batch pool is not under the embed span")
	}
	jobs := 0
	for _, s := range rec.Spans() {
		if s.ParentID == run.SpanID && s.Stage == spans.StagePool {
			jobs++
		}
	}
	if v, _ := embedSpan.Attr(spans.KeyEmbeddingTokens); jobs != 5 || v.AsInt64() != 31 {
		t.Fatalf("%d jobs, %d tokens (want 5, 31)", jobs, v.AsInt64())
	}
	empty, err := o.Embed(context.Background(), nil)
	if err != nil || len(empty) != 0 {
		t.Fatalf("empty input: %v %v", empty, err)
	}
}
