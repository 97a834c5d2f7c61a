package jaeger_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/collector/jaeger"
	"github.com/stagescope/stagescope/collector/tracetree"
	"github.com/stagescope/stagescope/spans"
)

// TestReadersHonourOneContract runs the same checks against the two
// tracetree.Reader implementations — the SQLite store and a real Jaeger v2
// holding the same traces — so the report reads either the same way.
func TestReadersHonourOneContract(t *testing.T) {
	j := needJaeger(t)
	req, sent := fidelityRequest(11)
	store := ingest(t, req)
	want := byTrace(sent)
	var all []jaeger.Trace
	for id := range want {
		tr, err := store.Reader().GetTrace(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, tr)
	}
	exp, err := jaeger.NewOTLPExporter(context.Background(), j.OTLPURL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exp.Export(context.Background(), all); err != nil {
		t.Fatal(err)
	}
	exp.Shutdown(context.Background())
	qc, err := jaeger.NewQueryClient(j.QueryURL)
	if err != nil {
		t.Fatal(err)
	}
	defer qc.Close()
	for id, w := range want { // Jaeger indexes asynchronously
		waitTrace(t, qc, id, len(w.Spans))
	}

	// The traces of each service, from what was sent.
	byService := map[string]map[spans.TraceID]bool{}
	for i := range sent.Spans {
		s := &sent.Spans[i]
		if byService[s.Service()] == nil {
			byService[s.Service()] = map[spans.TraceID]bool{}
		}
		byService[s.Service()][s.TraceID] = true
	}
	readers := map[string]tracetree.Reader{"sqlite": store.Reader(), "jaeger": qc}
	from, to := time.Unix(0, 1_600_000_000_000_000_000), time.Unix(0, 1_800_000_000_000_000_000)
	for name, r := range readers {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			for id, w := range want {
				got, err := r.GetTrace(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				sameSpans(t, w, got)
			}
			if _, err := r.GetTrace(ctx, spans.NewTraceID()); err == nil {
				t.Error("GetTrace of an unknown trace: no error")
			} else if !errors.Is(err, collector.ErrNotFound) && !errors.Is(err, jaeger.ErrTraceNotFound) {
				t.Errorf("GetTrace of an unknown trace: %v, want a not-found error", err)
			}
			for svc, ids := range byService {
				got, err := r.FindTraces(ctx, tracetree.Query{Service: svc, From: from, To: to, Limit: 1000})
				if err != nil {
					t.Fatal(err)
				}
				found := map[spans.TraceID]bool{}
				for _, tr := range got {
					found[tr.ID()] = true
				}
				for id := range ids {
					if !found[id] {
						t.Errorf("FindTraces(service %s): trace %s missing", svc, id)
					}
				}
				if lim, err := r.FindTraces(ctx, tracetree.Query{Service: svc, From: from, To: to, Limit: 1}); err != nil || len(lim) != 1 {
					t.Errorf("FindTraces(limit 1): %d traces, %v", len(lim), err)
				}
			}
			none, err := r.FindTraces(ctx, tracetree.Query{Service: "no-such-service-here", From: from, To: to, Limit: 10})
			if len(none) != 0 {
				t.Errorf("FindTraces(unknown service): %d traces (%v)", len(none), err)
			}
		})
	}
}
