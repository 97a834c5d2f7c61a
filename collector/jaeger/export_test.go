package jaeger_test

import (
	"context"
	"testing"
	"time"

	"github.com/stagescope/stagescope/collector/jaeger"
	"github.com/stagescope/stagescope/collector/jaeger/jaegertest"
)

func exportAndReadBack(t *testing.T, exp jaeger.Exporter, service string, thrift bool) {
	j := needJaeger(t)
	service = jaegertest.UniqueService(service)
	ctx := context.Background()
	traces := fixture(7, service)
	st, err := exp.Export(ctx, traces)
	if err != nil {
		t.Fatal(err)
	}
	if err := exp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	// Batches of 8 spans: 6 OTLP requests; Thrift sends one request per
	// service (process) in each round, so between 6 and 12.
	if st.Traces != 7 || st.Spans != 42 || st.Events != 14 || st.Batches < 42/8+1 || (!thrift && st.Batches != 42/8+1) || st.Batches > 2*(42/8+1) {
		t.Fatalf("stats %+v, want 7 traces, 42 spans, 14 events, 6 batches (up to 12 for thrift)", st)
	}
	qc, err := jaeger.NewQueryClient(j.QueryURL)
	if err != nil {
		t.Fatal(err)
	}
	defer qc.Close()
	for _, want := range traces {
		got := waitTrace(t, qc, want.ID(), len(want.Spans))
		checkRoundTrip(t, want, got, thrift)
	}
	svcs, err := qc.Services(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !contains(svcs, service) || !contains(svcs, service+"-embedder") {
		t.Fatalf("services %v lack %s and %s-embedder", svcs, service, service)
	}
	found, err := qc.FindTraces(ctx, jaeger.Query{Service: service, From: time.Now().Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != len(traces) {
		t.Fatalf("FindTraces found %d traces, want %d", len(found), len(traces))
	}
	for i, want := range traces { // both are ordered by start
		checkRoundTrip(t, want, found[i], thrift)
	}
	if _, err := exp.Export(ctx, traces); err != jaeger.ErrShutdown {
		t.Fatalf("Export after Shutdown: %v, want ErrShutdown", err)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestOTLPExportRoundTrip(t *testing.T) {
	j := needJaeger(t)
	var calls []jaeger.Stats
	exp, err := jaeger.NewOTLPExporter(context.Background(), j.OTLPURL, jaeger.WithBatchSize(8),
		jaeger.WithProgress(func(done jaeger.Stats, total int) {
			if total != 7 {
				t.Errorf("progress total %d", total)
			}
			calls = append(calls, done)
		}))
	if err != nil {
		t.Fatal(err)
	}
	exportAndReadBack(t, exp, "ss-otlp", false)
	if len(calls) != 6 || calls[5].Spans != 42 || calls[0].Spans != 8 {
		t.Fatalf("progress calls %+v", calls)
	}
}

func TestThriftExportRoundTrip(t *testing.T) {
	j := needJaeger(t)
	exp, err := jaeger.NewThriftExporter(j.ThriftURL, jaeger.WithBatchSize(8))
	if err != nil {
		t.Fatal(err)
	}
	exportAndReadBack(t, exp, "ss-thrift", true)
}

func TestExportToUnreachableJaegerFails(t *testing.T) {
	addr := closedAddr(t)
	ctx := context.Background()
	otlp, err := jaeger.NewOTLPExporter(ctx, addr, jaeger.WithRetry(false), jaeger.WithBatchSize(4))
	if err != nil {
		t.Fatal(err)
	}
	thrift, err := jaeger.NewThriftExporter(addr, jaeger.WithBatchSize(4))
	if err != nil {
		t.Fatal(err)
	}
	for name, exp := range map[string]jaeger.Exporter{"otlp": otlp, "thrift": thrift} {
		st, err := exp.Export(ctx, fixture(2, "ss-unreachable"))
		if err == nil || st.Spans != 0 || st.Traces != 0 {
			t.Errorf("%s: Export to a closed port: %+v, %v; want an error and nothing sent", name, st, err)
		}
		if err := exp.Shutdown(ctx); err != nil {
			t.Errorf("%s: Shutdown: %v", name, err)
		}
	}
}

func TestExportHonoursCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	exp, err := jaeger.NewThriftExporter(closedAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	defer exp.Shutdown(context.Background())
	if st, err := exp.Export(ctx, fixture(1, "x")); err == nil || st.Spans != 0 {
		t.Fatalf("cancelled Export: %+v, %v", st, err)
	}
}

func TestEndpointValidation(t *testing.T) {
	for _, bad := range []string{"ftp://h:1", "http://", "http://[::1"} {
		if _, err := jaeger.NewThriftExporter(bad); err == nil {
			t.Errorf("thrift endpoint %q accepted", bad)
		}
		if _, err := jaeger.NewOTLPExporter(context.Background(), bad); err == nil {
			t.Errorf("otlp endpoint %q accepted", bad)
		}
		if _, err := jaeger.NewQueryClient(bad); err == nil {
			t.Errorf("query URL %q accepted", bad)
		}
	}
}
