package handlers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/collector/analysis"
)

// sampleSlices is how many consecutive sub-windows a sample is spread over.
const sampleSlices = 20

// sampleScanBudgets is how many of the store's trace-scan budgets a spread
// sample may use in all, divided among its sub-windows.
const sampleScanBudgets = 4

// Sample describes which traces an analysis read.
type Sample struct {
	// Sampled is true when the selection held more traces than were
	// analysed.
	Sampled bool `json:"sampled"`
	// TracesAnalysed is how many traces were read; TracesMatched how many
	// the selection holds (absent when only a lower bound is known).
	TracesAnalysed int    `json:"traces_analysed"`
	TracesMatched  *int64 `json:"traces_matched,omitempty"`
	// Method says how a sample was drawn.
	Method  string     `json:"method,omitempty"`
	From    *time.Time `json:"from,omitempty"`
	To      *time.Time `json:"to,omitempty"`
	Run     string     `json:"run,omitempty"`
	Service string     `json:"service,omitempty"`
	// Partial is set when a filter that no index answers stopped at the
	// store's scan budget: traces older than ScannedTo (in the sub-window
	// where it stopped) may match but were not examined.
	Partial   bool       `json:"partial,omitempty"`
	ScannedTo *time.Time `json:"scanned_to,omitempty"`
}

// load reads the traces q selects (one page) in analysis form, appended to
// dst, and notes in smp when the page was cut short by the scan budget.
func (s *Server) load(ctx context.Context, q collector.TraceQuery, smp *Sample, dst []analysis.Trace) ([]analysis.Trace, error) {
	page, err := s.store.ListTraces(ctx, q)
	if err != nil {
		return dst, storeError("traces", err)
	}
	if page.Partial {
		smp.Partial = true
		if smp.ScannedTo == nil || page.ScannedTo.Before(*smp.ScannedTo) {
			smp.ScannedTo = timePtr(page.ScannedTo)
		}
	}
	for _, ts := range page.Traces {
		t, err := s.store.GetTrace(ctx, ts.TraceID)
		if errors.Is(err, collector.ErrNotFound) {
			continue // deleted by retention meanwhile
		}
		if err != nil {
			return dst, storeError("traces", err)
		}
		dst = toAnalysis([]*collector.Trace{t}, dst)
	}
	return dst, nil
}

// loadSample reads at most n traces matching q for analysis. When more
// match, it spreads the sample evenly over time: the window is cut into
// sampleSlices sub-windows and the newest n/sampleSlices traces of each are
// read, so every part of the window is represented and the cost stays
// bounded whatever the window holds.
func (s *Server) loadSample(ctx context.Context, q collector.TraceQuery, n int) ([]analysis.Trace, Sample, error) {
	smp := Sample{Run: q.RunID, Service: q.Service}
	if q.RunID != "" && q.From.IsZero() && q.To.IsZero() {
		run, err := s.store.Run(ctx, q.RunID)
		switch {
		case errors.Is(err, collector.ErrNotFound):
			return nil, smp, badRequest("run %q does not exist", truncate(q.RunID, 64))
		case err != nil:
			return nil, smp, storeError("run", err)
		}
		q.From, q.To = run.Started.Add(-time.Minute), run.Finished
	}
	if q.To.IsZero() {
		q.To = time.Now()
	}
	if q.From.IsZero() {
		var err error
		if q.From, err = s.firstTrace(ctx, q.To); err != nil {
			return nil, smp, err
		}
	}
	smp.From, smp.To = timePtr(q.From), timePtr(q.To)

	probe := q
	probe.Limit = n + 1
	page, err := s.store.ListTraces(ctx, probe)
	if err != nil {
		return nil, smp, storeError("traces", err)
	}
	if len(page.Traces) <= n && page.NextCursor == "" {
		q.Limit = n
		out, err := s.load(ctx, q, &smp, nil)
		if err != nil {
			return nil, smp, err
		}
		smp.TracesAnalysed = len(out)
		matched := int64(len(out))
		smp.TracesMatched = &matched
		return out, smp, nil
	}

	smp.Sampled = true
	switch {
	case simple(q):
		if l, err := s.e2e(ctx, q.From, q.To); err == nil {
			smp.TracesMatched = &l.Traces
		}
	case onlyService(q):
		if n, atLeast, ok, err := s.store.CountServiceTraces(ctx, q.Service, q.From, q.To); err == nil && ok && !atLeast {
			smp.TracesMatched = &n
		}
	}
	slices := min(sampleSlices, n)
	per := max(1, n/slices)
	width := q.To.Sub(q.From) / time.Duration(slices)
	smp.Method = fmt.Sprintf("spread: the newest %d traces of each of %d equal sub-windows", per, slices)
	var out []analysis.Trace
	for i := range slices {
		sub := q
		sub.From = q.From.Add(time.Duration(i) * width)
		sub.To = sub.From.Add(width - time.Nanosecond)
		if i == slices-1 {
			sub.To = q.To
		}
		sub.Limit = per
		// The sub-windows share a few budgets' worth of scanning, so a
		// sparse filter over a large window stays bounded too.
		sub.ScanBudget = max(per, sampleScanBudgets*collector.TraceScanBudget/slices)
		if out, err = s.load(ctx, sub, &smp, out); err != nil {
			return nil, smp, err
		}
	}
	smp.TracesAnalysed = len(out)
	return out, smp, nil
}

// simple reports whether q filters on time only, so that the store's
// rollups count its traces.
func simple(q collector.TraceQuery) bool {
	q.From, q.To, q.Limit, q.Cursor, q.ScanBudget = time.Time{}, time.Time{}, 0, "", 0
	return q == collector.TraceQuery{}
}

// onlyService reports whether q filters on time and one service only, so
// that the service index counts its traces.
func onlyService(q collector.TraceQuery) bool {
	svc := q.Service
	q.Service = ""
	return svc != "" && simple(q)
}

// toAnalysis appends the traces in analysis form to dst.
func toAnalysis(ts []*collector.Trace, dst []analysis.Trace) []analysis.Trace {
	for _, t := range ts {
		dst = append(dst, t.Trace)
	}
	return dst
}
