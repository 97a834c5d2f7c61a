package jaeger_test

import (
	"context"
	"encoding/binary"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/uber/jaeger-client-go/thrift"
	j "github.com/uber/jaeger-client-go/thrift-gen/jaeger"

	"github.com/stagescope/stagescope/collector/jaeger"
	"github.com/stagescope/stagescope/spans"
)

// thriftCollector is a fake Jaeger collector that decodes the jaeger.thrift
// batches posted to it.
type thriftCollector struct {
	mu      sync.Mutex
	batches []*j.Batch
	paths   []string
	headers []http.Header
}

func (c *thriftCollector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	buf := thrift.NewTMemoryBuffer()
	buf.Write(body)
	b := &j.Batch{}
	if err := b.Read(context.Background(), thrift.NewTBinaryProtocolTransport(buf)); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	c.batches = append(c.batches, b)
	c.paths = append(c.paths, r.URL.Path)
	c.headers = append(c.headers, r.Header.Clone())
	c.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

func TestThriftMapping(t *testing.T) {
	col := &thriftCollector{}
	srv := httptest.NewServer(col)
	defer srv.Close()
	exp, err := jaeger.NewThriftExporter(srv.URL, jaeger.WithHeaders(map[string]string{"X-Tenant": "acme"}))
	if err != nil {
		t.Fatal(err)
	}
	traces := fixture(2, "svc")
	st, err := exp.Export(context.Background(), traces)
	if err != nil {
		t.Fatal(err)
	}
	if err := exp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	// One batch per service (a batch carries one process), sent together.
	if st.Spans != 12 || st.Traces != 2 || st.Events != 4 || st.Batches != 2 || len(col.batches) != 2 {
		t.Fatalf("stats %+v, %d batches received; want 12 spans in 2 batches", st, len(col.batches))
	}
	got := map[int64]*j.Span{}
	services := map[string]int{}
	for i, b := range col.batches {
		if col.paths[i] != "/api/traces" || col.headers[i].Get("X-Tenant") != "acme" || col.headers[i].Get("Content-Type") != "application/x-thrift" {
			t.Errorf("request %d: path %q headers %v", i, col.paths[i], col.headers[i])
		}
		services[b.Process.ServiceName] += len(b.Spans)
		for _, s := range b.Spans {
			got[s.SpanId] = s
		}
	}
	if services["svc"] != 10 || services["svc-embedder"] != 2 {
		t.Fatalf("spans per process %v", services)
	}
	for _, tr := range traces {
		for _, s := range tr.Spans {
			js := got[int64(binary.BigEndian.Uint64(s.SpanID[:]))]
			if js == nil {
				t.Fatalf("span %s not sent", s.Name)
			}
			if uint64(js.TraceIdHigh) != binary.BigEndian.Uint64(s.TraceID[:8]) || uint64(js.TraceIdLow) != binary.BigEndian.Uint64(s.TraceID[8:]) {
				t.Errorf("%s: trace id %x/%x", s.Name, js.TraceIdHigh, js.TraceIdLow)
			}
			if uint64(js.ParentSpanId) != binary.BigEndian.Uint64(s.ParentID[:]) || js.OperationName != s.Name {
				t.Errorf("%s: parent %x name %q", s.Name, js.ParentSpanId, js.OperationName)
			}
			if js.StartTime != s.Start.UnixMicro() || js.Duration != s.Duration().Microseconds() {
				t.Errorf("%s: start %d µs duration %d µs, want %d %d", s.Name, js.StartTime, js.Duration, s.Start.UnixMicro(), s.Duration().Microseconds())
			}
			refs := map[j.SpanRefType]int64{}
			for _, r := range js.References {
				refs[r.RefType] = r.SpanId
			}
			if !s.ParentID.IsZero() && refs[j.SpanRefType_CHILD_OF] != js.ParentSpanId {
				t.Errorf("%s: references %v lack CHILD_OF parent", s.Name, js.References)
			}
			if len(s.Links) > 0 && refs[j.SpanRefType_FOLLOWS_FROM] != int64(binary.BigEndian.Uint64(s.Links[0].SpanID[:])) {
				t.Errorf("%s: link not sent as FOLLOWS_FROM: %v", s.Name, js.References)
			}
			tags := map[string]*j.Tag{}
			for _, tg := range js.Tags {
				tags[tg.Key] = tg
			}
			if tg := tags["stagescope.stage"]; tg == nil || tg.GetVStr() != s.Stage.String() {
				t.Errorf("%s: stage tag %v", s.Name, tg)
			}
			if _, ok := tags["sampler.type"]; ok {
				t.Errorf("%s: sampler tags added", s.Name)
			}
			if s.Status == spans.StatusError && (tags["error"].GetVBool() != true || tags["otel.status_description"].GetVStr() != s.Err) {
				t.Errorf("%s: error tags %v", s.Name, js.Tags)
			}
			if s.Name == "query" {
				typed := map[string]j.TagType{"big": j.TagType_LONG, "ratio": j.TagType_DOUBLE, "cached": j.TagType_BOOL, "docs": j.TagType_STRING, "tag.tenant": j.TagType_STRING}
				for k, want := range typed {
					if tags[k] == nil || tags[k].VType != want {
						t.Errorf("query tag %s: %v, want type %v", k, tags[k], want)
					}
				}
				big, _ := s.Attr("big")
				if tags["big"].GetVLong() != big.AsInt64() || big.AsInt64() < 1<<62 || tags["docs"].GetVStr() != `["a","b"]` {
					t.Errorf("query tag values big=%d docs=%q", tags["big"].GetVLong(), tags["docs"].GetVStr())
				}
			}
			if s.Name == "retrieve" {
				if len(js.Logs) != 1 || js.Logs[0].Timestamp != tr.Events[0].Time.UnixMicro() || js.Logs[0].Fields[0].GetVStr() != "retrieval.end" {
					t.Errorf("retrieve logs %v", js.Logs)
				}
			}
		}
	}
}

func TestThriftExportReportsCollectorErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "overloaded", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	exp, err := jaeger.NewThriftExporter(srv.URL + "/api/traces")
	if err != nil {
		t.Fatal(err)
	}
	defer exp.Shutdown(context.Background())
	st, err := exp.Export(context.Background(), fixture(1, "svc"))
	if err == nil || st.Traces != 0 {
		t.Fatalf("Export against a 503 collector: %+v, %v", st, err)
	}
}
