package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// TestLoadRetriesOn429And503 checks that refused requests are sent again
// (and counted) after their Retry-After, and that what arrives is every
// span once.
func TestLoadRetriesOn429And503(t *testing.T) {
	var mu sync.Mutex
	calls, refused := 0, 0
	seen := map[[8]byte]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		calls++
		if r.Header.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("content type %q", r.Header.Get("Content-Type"))
		}
		switch calls {
		case 2:
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
			refused++
			return
		case 4:
			w.Header().Set("Retry-After", time.Now().Add(-time.Second).UTC().Format(http.TimeFormat))
			w.WriteHeader(http.StatusServiceUnavailable)
			refused++
			return
		}
		var m coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &m); err != nil {
			t.Errorf("request does not decode: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		for _, rs := range m.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					seen[[8]byte(s.SpanId)]++
				}
			}
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{
			PartialSuccess: &coltracepb.ExportTracePartialSuccess{RejectedSpans: 1},
		})
		_, _ = w.Write(out)
	}))
	defer srv.Close()
	gen, err := newGenerator(2, fixtureOptions{spansPerRequest: 50, seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	res, err := runLoad(t.Context(), gen, srv.URL+"/v1/traces",
		loadOptions{clients: 3, spans: 500, interval: 100, requestTimeout: 10 * time.Second}, nil, func(string, ...any) {})
	if err != nil {
		t.Fatal(err)
	}
	if res.Spans != 500 || res.Requests != 10 || res.Retries != 2 || res.Rejected != 10 {
		t.Fatalf("spans %d requests %d retries %d rejected %d; want 500, 10, 2, 10", res.Spans, res.Requests, res.Retries, res.Rejected)
	}
	if len(seen) != 500 {
		t.Fatalf("server saw %d distinct spans, want 500", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("span %x arrived %d times", id, n)
		}
	}
	if len(res.Intervals) != 5 || len(res.lastIDs) == 0 || res.firstID == "" {
		t.Fatalf("%d intervals, %d last ids, first id %q", len(res.Intervals), len(res.lastIDs), res.firstID)
	}
}

// TestLoadFailsOnOtherStatus checks that a 400 ends the run with the
// server's message rather than retrying for ever.
func TestLoadFailsOnOtherStatus(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "bad spans here", http.StatusBadRequest)
	}))
	defer srv.Close()
	gen, err := newGenerator(1, fixtureOptions{spansPerRequest: 10, seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	_, err = runLoad(t.Context(), gen, srv.URL, loadOptions{clients: 2, spans: 100, requestTimeout: 10 * time.Second}, nil, func(string, ...any) {})
	if err == nil || !strings.Contains(err.Error(), "400") || !strings.Contains(err.Error(), "bad spans here") {
		t.Fatalf("error %v, want the 400 and its message", err)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	for h, want := range map[string]time.Duration{
		"":                              defaultRetryAfter,
		"3":                             3 * time.Second,
		"-1":                            defaultRetryAfter,
		"soon":                          defaultRetryAfter,
		"Fri, 04 Dec 2026 12:00:05 GMT": 5 * time.Second,
		"Fri, 04 Dec 2026 11:59:00 GMT": 0,
	} {
		if got := retryAfter(h, now); got != want {
			t.Errorf("Retry-After %q: %v, want %v", h, got, want)
		}
	}
}
