package jaeger_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/protobuf/proto"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/collector/jaeger"
	"github.com/stagescope/stagescope/collector/jaeger/jaegertest"
	"github.com/stagescope/stagescope/collector/otlpconv"
	"github.com/stagescope/stagescope/collector/otlpconv/otlptest"
	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/spans"
)

// fidelityRequest is a random OTLP request whose services are unique to
// this run, so Jaeger's answers hold only its traces.
func fidelityRequest(seed uint64) (*coltracepb.ExportTraceServiceRequest, otlpconv.Batch) {
	rng := rand.New(rand.NewPCG(seed, uint64(time.Now().UnixNano())))
	req := otlptest.RandomRequest(rng, 3, 6)
	for _, rs := range req.GetResourceSpans() {
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == spans.KeyService {
				kv.Value = &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: jaegertest.UniqueService(kv.GetValue().GetStringValue())}}
			}
		}
	}
	return req, otlpconv.FromResourceSpans(req.GetResourceSpans())
}

// ingest posts req to a real collector over OTLP/HTTP and returns the store.
func ingest(t *testing.T, req *coltracepb.ExportTraceServiceRequest, opts ...collector.OTLPOption) *collector.SQLiteStore {
	t.Helper()
	store, err := collector.OpenSQLite(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	c := collector.New(store)
	srv := httptest.NewServer(collector.NewOTLPHandler(c, opts...))
	defer srv.Close()
	body, _ := proto.Marshal(req)
	resp, err := http.Post(srv.URL+"/v1/traces", "application/x-protobuf", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("ingest: %d", resp.StatusCode)
	}
	if err := c.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	return store
}

// byTrace groups what was sent by trace.
func byTrace(b otlpconv.Batch) map[spans.TraceID]jaeger.Trace {
	out := map[spans.TraceID]jaeger.Trace{}
	for i := range b.Spans {
		t := out[b.Spans[i].TraceID]
		t.Spans = append(t.Spans, &b.Spans[i])
		out[b.Spans[i].TraceID] = t
	}
	for _, e := range b.Events {
		t := out[e.TraceID]
		t.Events = append(t.Events, e)
		out[e.TraceID] = t
	}
	return out
}

// sorted lists attributes by key: OTLP gives their order no meaning, and
// Jaeger's storage sorts them.
func sorted(attrs []spans.Attribute) string {
	out := slices.Clone(attrs)
	slices.SortStableFunc(out, func(a, b spans.Attribute) int { return strings.Compare(a.Key, b.Key) })
	return fmt.Sprint(out)
}

func resourceAttrs(r *spans.Resource) string {
	if r == nil {
		return "<nil>"
	}
	return sorted(r.Attrs)
}

// sameSpans compares what was sent with what came back, field by field
// (attributes as sets of key and typed value).
func sameSpans(t *testing.T, want, got jaeger.Trace) {
	t.Helper()
	if len(got.Spans) != len(want.Spans) || len(got.Events) != len(want.Events) {
		t.Fatalf("trace %s: %d spans %d events back, want %d and %d", want.ID(), len(got.Spans), len(got.Events), len(want.Spans), len(want.Events))
	}
	gotBy := map[spans.SpanID]*spans.Span{}
	for _, s := range got.Spans {
		gotBy[s.SpanID] = s
	}
	for _, w := range want.Spans {
		g := gotBy[w.SpanID]
		if g == nil {
			t.Fatalf("span %s missing", w.SpanID)
		}
		fields := []struct {
			name      string
			want, got any
		}{
			{"trace", w.TraceID, g.TraceID}, {"parent", w.ParentID, g.ParentID}, {"name", w.Name, g.Name},
			{"kind", w.Kind, g.Kind}, {"start", w.Start.UnixNano(), g.Start.UnixNano()}, {"end", w.End.UnixNano(), g.End.UnixNano()},
			{"status", w.Status, g.Status}, {"error", w.Err, g.Err}, {"stage", w.Stage, g.Stage},
			{"scope", w.Scope, g.Scope}, {"scope version", w.ScopeVersion, g.ScopeVersion},
			{"attributes", sorted(w.Attrs), sorted(g.Attrs)},
			{"resource", resourceAttrs(w.Resource), resourceAttrs(g.Resource)},
			{"links", fmt.Sprint(w.Links), fmt.Sprint(g.Links)},
		}
		for _, f := range fields {
			if fmt.Sprint(f.want) != fmt.Sprint(f.got) {
				t.Errorf("span %s %s: got %v, want %v", w.SpanID, f.name, f.got, f.want)
			}
		}
	}
	key := func(e event.Record) string { return fmt.Sprint(e.SpanID, e.Time.UnixNano(), e.Name, sorted(e.Attrs)) }
	wk, gk := make([]string, 0, len(want.Events)), make([]string, 0, len(got.Events))
	for _, e := range want.Events {
		wk = append(wk, key(e))
	}
	for _, e := range got.Events {
		gk = append(gk, key(e))
	}
	slices.Sort(wk)
	slices.Sort(gk)
	if !slices.Equal(wk, gk) {
		t.Errorf("events: got %v, want %v", gk, wk)
	}
}

// TestOTLPIngestReplayReadBackIsExact: random OTLP → ingest into the store
// → replay to a real Jaeger v2 → read back through /api/v3 → equal, field
// by field, to what was sent.
func TestOTLPIngestReplayReadBackIsExact(t *testing.T) {
	j := needJaeger(t)
	for seed := range uint64(3) {
		req, sent := fidelityRequest(seed)
		store := ingest(t, req)
		want := byTrace(sent)
		var traces []jaeger.Trace
		for id := range want {
			st, err := store.GetTrace(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			stored := jaeger.Trace{Events: st.Events}
			for i := range st.Spans {
				stored.Spans = append(stored.Spans, st.Spans[i])
			}
			sameSpans(t, want[id], stored) // the store keeps what came in
			traces = append(traces, stored)
		}
		exp, err := jaeger.NewOTLPExporter(context.Background(), j.OTLPURL)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := exp.Export(context.Background(), traces); err != nil {
			t.Fatal(err)
		}
		exp.Shutdown(context.Background())
		qc, err := jaeger.NewQueryClient(j.QueryURL)
		if err != nil {
			t.Fatal(err)
		}
		for id, w := range want {
			sameSpans(t, w, waitTrace(t, qc, id, len(w.Spans)))
		}
		qc.Close()
	}
}

// TestLiveMirrorKeepsEachSpansService: spans ingested over OTLP by a
// collector with live export (serve --export-jaeger) reach Jaeger under
// their own services, exactly.
func TestLiveMirrorKeepsEachSpansService(t *testing.T) {
	j := needJaeger(t)
	live, err := jaeger.NewLiveExporter(context.Background(), j.OTLPURL, jaeger.WithServiceName("stagescope-should-not-appear"),
		jaeger.WithBatchTimeout(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	req, sent := fidelityRequest(7)
	ingest(t, req, collector.WithOnIngested(live.Ingested))
	if err := live.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := live.Stats(); st.Exported != uint64(len(sent.Spans)) || st.Dropped+st.Failed != 0 {
		t.Fatalf("live stats %+v, want %d exported", st, len(sent.Spans))
	}
	qc, err := jaeger.NewQueryClient(j.QueryURL)
	if err != nil {
		t.Fatal(err)
	}
	defer qc.Close()
	for id, w := range byTrace(sent) {
		sameSpans(t, w, waitTrace(t, qc, id, len(w.Spans)))
	}
	services, err := qc.Services(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, rs := range req.GetResourceSpans() {
		name := rs.GetResource().GetAttributes()[0].GetValue().GetStringValue()
		if !slices.Contains(services, name) {
			t.Errorf("service %q not in Jaeger (%d services)", name, len(services))
		}
	}
}
