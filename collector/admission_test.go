package collector

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/stagescope/stagescope/collector/otlpconv/otlptest"
)

// A request with more spans and events than the queue holds was refused
// with 429 forever, however idle the server. It is now committed in parts:
// 200, and every span and event stored once — also when the client sends it
// again (a retry after a timeout).
func TestRequestLargerThanTheQueueIsStored(t *testing.T) {
	s := openStore(t)
	c := newCollector(t, s, WithQueueSize(1000), WithBatchSize(128))
	srv := httptest.NewServer(NewOTLPHandler(c))
	defer srv.Close()
	req, tid, ids := otlpRequest(1500, t0)
	events := 0
	for i, sp := range req.ResourceSpans[0].ScopeSpans[0].Spans {
		for j := range i % 3 {
			sp.Events = append(sp.Events, &tracepb.Span_Event{Name: fmt.Sprint("ev", j), TimeUnixNano: sp.StartTimeUnixNano + 1})
			events++
		}
	}
	// One span with more events than a part holds.
	big := req.ResourceSpans[0].ScopeSpans[0].Spans[7]
	for j := range 600 {
		big.Events = append(big.Events, &tracepb.Span_Event{Name: fmt.Sprint("many", j), TimeUnixNano: big.StartTimeUnixNano + 2})
		events++
	}
	body, _ := proto.Marshal(req)
	for attempt := range 2 {
		resp, b := post(t, srv.URL, "application/x-protobuf", body, false)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("attempt %d: %d %s", attempt, resp.StatusCode, b)
		}
	}
	tr, err := s.GetTrace(context.Background(), tid)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("metrics %+v", c.Metrics())
	if len(tr.Spans) != len(ids) || len(tr.Events) != events {
		t.Fatalf("stored %d spans and %d events, want %d and %d", len(tr.Spans), len(tr.Events), len(ids), events)
	}
	if m := c.Metrics(); m.SpansWritten != uint64(len(ids)) || m.SpansDuplicate != uint64(len(ids)) || m.SpansRefused != 0 || m.Batches < 3 {
		t.Fatalf("metrics: %d written, %d duplicate, %d refused in %d batches", m.SpansWritten, m.SpansDuplicate, m.SpansRefused, m.Batches)
	}
}

// The body of a request is read only once its share of the decode budget
// is reserved. With a budget of one request, a second request waits while
// the first one's body is still arriving, and gets 429 with Retry-After —
// in the format it was sent in — when the wait runs out; once the first is
// done, the retry is stored.
func TestAdmissionBoundsBodiesInMemory(t *testing.T) {
	s := openStore(t)
	req1, tid1, _ := otlpRequest(50, t0)
	b1, _ := proto.Marshal(req1)
	c := newCollector(t, s, WithDecodeBudget(int64(len(b1))), WithAdmissionWait(50*time.Millisecond))
	srv := httptest.NewServer(NewOTLPHandler(c))
	defer srv.Close()

	// The first request sends half its body and stalls, holding its share.
	pr, pw := io.Pipe()
	defer pw.CloseWithError(errors.New("test ended")) // a failure below must not leave the server waiting for the body
	r1, _ := http.NewRequest(http.MethodPost, srv.URL, pr)
	r1.ContentLength = int64(len(b1))
	r1.Header.Set("Content-Type", "application/x-protobuf")
	first := make(chan int, 1)
	go func() {
		resp, err := http.DefaultClient.Do(r1)
		if err != nil {
			first <- -1
			return
		}
		resp.Body.Close()
		first <- resp.StatusCode
	}()
	if _, err := pw.Write(b1[:len(b1)/2]); err != nil {
		t.Fatal(err)
	}
	// The write returns once the client has taken the bytes, not the
	// handler: wait until the first request holds the whole budget.
	for deadline := time.Now().Add(10 * time.Second); c.adm.sem.TryAcquire(1); {
		c.adm.sem.Release(1)
		if time.Now().After(deadline) {
			t.Fatal("the first request was never admitted")
		}
		time.Sleep(time.Millisecond)
	}

	req2, tid2, _ := otlpRequest(5, t0)
	b2, _ := proto.Marshal(req2)
	for _, ct := range []string{"application/x-protobuf", "application/json"} {
		body := b2
		if ct == "application/json" {
			body = []byte(`{"resourceSpans":[]}`)
		}
		resp, msg := post(t, srv.URL, ct, body, false)
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("%s while the budget is taken: %d %s", ct, resp.StatusCode, msg)
		}
		if ct == "application/json" {
			if !bytes.Contains(msg, []byte(`"message":"collector busy`)) {
				t.Fatalf("JSON client got %s", msg)
			}
			continue
		}
		var st statuspb.Status
		if err := proto.Unmarshal(msg, &st); err != nil || st.Code != 8 || !strings.Contains(st.Message, "collector busy") {
			t.Fatalf("protobuf client got %q (%v)", msg, err)
		}
	}
	if _, err := pw.Write(b1[len(b1)/2:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if code := <-first; code != http.StatusOK {
		t.Fatalf("first request: %d", code)
	}
	if resp, msg := post(t, srv.URL, "application/x-protobuf", b2, false); resp.StatusCode != http.StatusOK {
		t.Fatalf("retry: %d %s", resp.StatusCode, msg)
	}
	for _, tid := range [...][16]byte{tid1, tid2} {
		if _, err := s.GetTrace(context.Background(), tid); err != nil {
			t.Fatal(err)
		}
	}
}

// Errors answer in the request's format, and content codings compare
// case-insensitively.
func TestOTLPErrorsInTheRequestFormat(t *testing.T) {
	s := openStore(t)
	c := newCollector(t, s)
	srv := httptest.NewServer(NewOTLPHandler(c, WithMaxBodyBytes(1000)))
	defer srv.Close()
	req, tid, _ := otlpRequest(3, t0)
	body, _ := proto.Marshal(req)

	// Content-Encoding: GZIP is gzip.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(body)
	zw.Close()
	hreq, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(gz.Bytes()))
	hreq.Header.Set("Content-Type", "application/x-protobuf")
	hreq.Header.Set("Content-Encoding", "GZIP")
	resp, err := http.DefaultClient.Do(hreq)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("Content-Encoding GZIP: %d", resp.StatusCode)
	}
	if _, err := s.GetTrace(context.Background(), tid); err != nil {
		t.Fatal(err)
	}

	// 413 to a protobuf client is a protobuf Status, to a JSON one JSON.
	big, _ := proto.Marshal(func() *coltracepb.ExportTraceServiceRequest { r, _, _ := otlpRequest(100, t0); return r }())
	resp, msg := post(t, srv.URL, "application/x-protobuf", big, false)
	var st statuspb.Status
	if resp.StatusCode != http.StatusRequestEntityTooLarge || resp.Header.Get("Content-Type") != "application/x-protobuf" ||
		proto.Unmarshal(msg, &st) != nil || !strings.Contains(st.Message, "the limit is 1000 bytes") {
		t.Fatalf("413 to protobuf: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), msg)
	}
	resp, msg = post(t, srv.URL, "application/json", bytes.Repeat([]byte(" "), 2000), false)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || resp.Header.Get("Content-Type") != "application/json" ||
		!bytes.Contains(msg, []byte(`"message":"request body too large: the limit is 1000 bytes`)) {
		t.Fatalf("413 to JSON: %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), msg)
	}
	// A wrong method, to a protobuf client.
	resp2, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	msg, _ = io.ReadAll(resp2.Body)
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusMethodNotAllowed || proto.Unmarshal(msg, &st) != nil || !strings.Contains(st.Message, "POST") {
		t.Fatalf("GET: %d %q", resp2.StatusCode, msg)
	}
}

// BenchmarkOTLPIngestUnderAdmission posts 1 MiB protobuf requests (about
// 4,700 spans and as many events) from 8 concurrent clients through the
// OTLP handler with the default decode budget (8 MiB: 8 such requests in
// memory at once) and reports spans per second, end to end: decode,
// conversion, queue, commit.
func BenchmarkOTLPIngestUnderAdmission(b *testing.B) {
	s := openStore(b)
	c := newCollector(b, s, WithLateChildren())
	srv := httptest.NewServer(NewOTLPHandler(c))
	defer srv.Close()
	req, nspans, _ := otlptest.RequestOfSize(rand.New(rand.NewPCG(1, 2)), 1<<20)
	b.ReportAllocs()
	b.ResetTimer()
	var next atomic.Int64
	b.SetParallelism(4) // 8 clients on 2 cores
	b.RunParallel(func(pb *testing.PB) {
		r := proto.Clone(req).(*coltracepb.ExportTraceServiceRequest)
		for pb.Next() {
			n := next.Add(1)
			for _, sp := range r.ResourceSpans[0].ScopeSpans[0].Spans {
				binary.BigEndian.PutUint64(sp.TraceId[8:], uint64(n))
			}
			body, _ := proto.Marshal(r)
			for {
				resp, _ := post(b, srv.URL, "application/x-protobuf", body, false)
				if resp.StatusCode == http.StatusOK {
					break
				}
				if resp.StatusCode != http.StatusTooManyRequests {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
		}
	})
	b.ReportMetric(float64(b.N*nspans)/b.Elapsed().Seconds(), "spans/s")
}
