package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/spans"
)

// seedServices writes traces of two services into a data directory:
// three of "alpha" (two spans each) and two of "beta".
func seedServices(t *testing.T) (dir string, ids map[string][]spans.TraceID) {
	t.Helper()
	dir = t.TempDir()
	store, err := collector.OpenSQLite(filepath.Join(dir, databaseFile))
	if err != nil {
		t.Fatal(err)
	}
	coll := collector.New(store)
	ctx := context.Background()
	ids = map[string][]spans.TraceID{}
	at := time.Now().Add(-10 * time.Minute)
	for _, svc := range []string{"alpha", "beta", "alpha", "beta", "alpha"} {
		tid, root := spans.NewTraceID(), spans.NewSpanID()
		attrs := []spans.Attribute{spans.String(spans.KeyService, svc)}
		ss := []spans.Span{
			{TraceID: tid, SpanID: root, Name: "query " + svc, Stage: spans.StageQuery, Start: at, End: at.Add(50 * time.Millisecond), Status: spans.StatusOK, Attrs: attrs},
			{TraceID: tid, SpanID: spans.NewSpanID(), ParentID: root, Name: "retrieve", Stage: spans.StageRetrieve, Start: at, End: at.Add(20 * time.Millisecond), Status: spans.StatusOK, Attrs: attrs},
		}
		if err := coll.Ingest(ctx, ss, nil); err != nil {
			t.Fatal(err)
		}
		ids[svc] = append(ids[svc], tid)
		at = at.Add(time.Second)
	}
	if err := coll.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, ids
}

func TestReportOfOneService(t *testing.T) {
	dir, _ := seedServices(t)
	for svc, want := range map[string]int{"alpha": 3, "beta": 2, "nobody": 0, "": 5} {
		args := []string{"report", "--data", dir, "--json"}
		if svc != "" {
			args = append(args, "--service", svc)
		}
		var rep struct {
			Traces int `json:"traces"`
			Spans  int `json:"spans"`
		}
		out := mustRun(t, []string{"OTEL_SERVICE_NAME=alpha"}, args...)
		if err := json.Unmarshal([]byte(out.stdout), &rep); err != nil {
			t.Fatalf("report --service %q: %v in %s", svc, err, out.stdout)
		}
		// OTEL_SERVICE_NAME names Jaeger's service only: a local report
		// without --service covers every service.
		if rep.Traces != want || rep.Spans != 2*want {
			t.Errorf("report --service %q: %d traces, %d spans; want %d and %d", svc, rep.Traces, rep.Spans, want, 2*want)
		}
	}
	text := mustRun(t, nil, "report", "--data", dir, "--service", "beta")
	if !strings.Contains(text.stdout, "service beta") {
		t.Errorf("text report does not name its service:\n%s", text.stdout)
	}
	for _, bad := range []string{" beta", "be\tta"} {
		if r := runCmd(t, nil, "report", "--data", dir, "--service", bad); r.code != 2 || !strings.Contains(r.stderr, "--service") {
			t.Errorf("report --service %q: exit %d, %q", bad, r.code, r.stderr)
		}
	}
}

// otlpSink is an OTLP/HTTP receiver that records each span's service.
type otlpSink struct {
	mu       sync.Mutex
	services map[string]int // spans per resource service.name
	traces   map[string]bool
}

func (s *otlpSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	var req coltracepb.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(body, &req)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	for _, rs := range req.ResourceSpans {
		svc := ""
		for _, a := range rs.GetResource().GetAttributes() {
			if a.Key == spans.KeyService {
				svc = a.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.ScopeSpans {
			for _, sp := range ss.Spans {
				s.services[svc]++
				s.traces[string(sp.TraceId)] = true
			}
		}
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	b, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	_, _ = w.Write(b)
}

func TestExportOfOneService(t *testing.T) {
	dir, ids := seedServices(t)
	sink := &otlpSink{services: map[string]int{}, traces: map[string]bool{}}
	srv := httptest.NewServer(sink)
	defer srv.Close()
	out := mustRun(t, nil, "export", "jaeger", "--data", dir, "--service", "beta", "--endpoint", srv.URL+"/v1/traces")
	if !strings.Contains(out.stdout, "exported 2 traces, 4 spans") {
		t.Fatalf("export --service beta: %s %s", out.stdout, out.stderr)
	}
	sink.mu.Lock()
	got := sink.services
	var sent []string
	for id := range sink.traces {
		sent = append(sent, spans.TraceID([]byte(id)).String())
	}
	sink.mu.Unlock()
	if len(got) != 1 || got["beta"] != 4 {
		t.Errorf("spans received per service: %v, want beta: 4", got)
	}
	for _, id := range ids["beta"] {
		if !slices.Contains(sent, id.String()) {
			t.Errorf("trace %s of beta not exported (sent %v)", id, sent)
		}
	}
	// A selection of trace ids keeps to the service too.
	r := runCmd(t, nil, "export", "jaeger", "--data", dir, "--service", "beta", "--trace", ids["alpha"][0].String(), "--endpoint", srv.URL+"/v1/traces")
	if r.code != 1 || !strings.Contains(r.stderr, `no span of service "beta"`) {
		t.Errorf("export of an alpha trace as beta: exit %d, %q", r.code, r.stderr)
	}
	if r := runCmd(t, nil, "export", "jaeger", "--data", dir, "--service", "nobody", "--endpoint", srv.URL+"/v1/traces"); r.code != 1 || !strings.Contains(r.stderr, "no stored traces") {
		t.Errorf("export of an unknown service: exit %d, %q", r.code, r.stderr)
	}
}
