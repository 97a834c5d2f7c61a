package handlers

import (
	"context"
	"errors"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/collector/analysis"
)

// Sample describes which traces an analysis read: the `sample` object of
// /api/report and /api/compare. It is the source's own account of the
// sampling policy (collector.SQLiteStore.SampleTraces, collector.SampleOf
// for a Jaeger source), the one `stagescope report` prints too, and names
// the source the traces came from.
type Sample struct {
	// Source is the kind of source that answered: "sqlite" (the store) or
	// "jaeger" (a Jaeger query service; Method then says how many traces
	// were read from it and how).
	Source string `json:"source"`
	collector.SampleInfo
}

// loadSample reads the traces an analysis of q sees, n drawn by hash plus
// the slow ones, by the store's one sampling policy.
func (s *Server) loadSample(ctx context.Context, q collector.TraceQuery, n int) ([]analysis.Trace, Sample, error) {
	ts, info, err := s.src.SampleTraces(ctx, q, n)
	smp := Sample{Source: s.src.Info().Kind, SampleInfo: info}
	switch {
	case errors.Is(err, collector.ErrNotFound) && q.RunID != "":
		return nil, smp, badRequest("run %q does not exist", truncate(q.RunID, 64))
	case err != nil:
		return nil, smp, storeError("traces", err)
	}
	return toAnalysis(ts, make([]analysis.Trace, 0, len(ts))), smp, nil
}

// sampleWeights weights a sample back to its window: it holds every slow
// trace but only a hash-drawn fraction of the others (a no-op when every
// trace was read).
func sampleWeights(smp Sample) analysis.Option {
	return analysis.WithSample(smp.SlowThreshold, smp.HashRate)
}

// toAnalysis appends the traces in analysis form to dst.
func toAnalysis(ts []*collector.Trace, dst []analysis.Trace) []analysis.Trace {
	for _, t := range ts {
		dst = append(dst, t.Trace)
	}
	return dst
}
