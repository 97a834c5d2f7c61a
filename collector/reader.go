package collector

import (
	"context"

	"github.com/stagescope/stagescope/collector/tracetree"
	"github.com/stagescope/stagescope/spans"
)

// Reader returns the store as a tracetree.Reader, the interface the Jaeger
// query client implements too. FindTraces reads ListTraces' first page (so
// a filter stops at the scan budget like any trace list) and then each
// trace whole; Operation matches a substring of the root span's name.
func (s *SQLiteStore) Reader() tracetree.Reader { return storeReader{s} }

type storeReader struct{ s *SQLiteStore }

var _ tracetree.Reader = storeReader{}

func (r storeReader) FindTraces(ctx context.Context, q tracetree.Query) ([]tracetree.Trace, error) {
	ts, err := r.s.LoadTraces(ctx, TraceQuery{
		From: q.From, To: q.To, Service: q.Service, NameContains: q.Operation, MinDuration: q.MinDuration, Limit: q.Limit,
	})
	if err != nil {
		return nil, err
	}
	out := make([]tracetree.Trace, 0, len(ts))
	for _, t := range ts {
		if q.MaxDuration > 0 && t.Summary.Duration > q.MaxDuration {
			continue
		}
		out = append(out, t.Trace)
	}
	return out, nil
}

func (r storeReader) GetTrace(ctx context.Context, id spans.TraceID) (tracetree.Trace, error) {
	t, err := r.s.GetTrace(ctx, id)
	if err != nil {
		return tracetree.Trace{}, err
	}
	return t.Trace, nil
}
