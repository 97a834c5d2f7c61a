package analysis

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"

	"github.com/stagescope/stagescope/collector/tracetree"
	"github.com/stagescope/stagescope/spans"
	"github.com/stagescope/stagescope/spans/semconv"
)

// TTFTDominatesShare is the share of the end-to-end p50 from which the time
// to first token on the critical path is said to dominate the user's wait
// (the "ttft" finding): at p50, streamed requests spend at least half their
// latency waiting for a model's first token.
const TTFTDominatesShare = 0.5

// StreamingStats describes the model calls whose answer was streamed
// (semconv.StreamedFirstToken: llm.stream with llm.ttft_ns, or the Vercel
// AI SDK's ai.response.msToFirstChunk).
type StreamingStats struct {
	// Streams counts the streamed spans; Calls lists them per stage and
	// model, most streams first.
	Streams int           `json:"streams"`
	Calls   []StreamStats `json:"calls"`
	// Traces counts the traces whose critical path passes through a
	// streamed call while it waited for its first token. Over them,
	// TTFTOnPath is, per trace, the critical-path time spent waiting for a
	// first token, and E2E the traces' end-to-end latency; TTFTShare is
	// TTFTOnPath.P50 / E2E.P50, and Dominates says it reached
	// TTFTDominatesShare.
	Traces     int         `json:"traces"`
	TTFTOnPath Percentiles `json:"ttft_on_path"`
	E2E        Percentiles `json:"e2e"`
	TTFTShare  float64     `json:"ttft_share"`
	Dominates  bool        `json:"dominates"`
}

// StreamStats is the streamed calls of one stage and model.
type StreamStats struct {
	Stage spans.Stage `json:"stage"`
	Model string      `json:"model"` // "" when the spans name none
	Calls int         `json:"calls"` // streamed spans
	// TTFT is the time to first token; Stream the time from the first token
	// to the span's end (generation and reading of the rest).
	TTFT   Percentiles `json:"ttft"`
	Stream Percentiles `json:"stream"`
}

type streamKey struct {
	stage spans.Stage
	model string
}

type streamGroup struct{ ttft, stream []int64 }

// streamAcc gathers the streamed calls and, per trace, the path time spent
// waiting for first tokens.
type streamAcc struct {
	groups map[streamKey]*streamGroup
	spans  int
	// waits holds the current trace's first-token windows on the path.
	waits []tracetree.Interval
	// traces lists the traces with a first-token wait on their path: the
	// result index and the waiting time (the union of the windows).
	traces []streamTrace
}

type streamTrace struct {
	result int
	wait   int64
}

// visitPath is the path walker's hook: v occupies [lo, hi] of the critical
// path; a streamed call's part of it before its first token is waiting.
func (a *accumulator) visitPath(v int32, lo, hi int64) {
	n := &a.tree.nodes[v]
	if n.span == nil || len(n.span.Attrs) == 0 {
		return
	}
	ttft, ok := semconv.StreamedFirstToken(n.span)
	if !ok {
		return
	}
	if s, e := max(lo, n.start), min(hi, n.start+int64(ttft)); e > s {
		a.stream.waits = append(a.stream.waits, tracetree.Interval{Start: s, End: e})
	}
}

// addStreams gathers the streamed calls of the current trace and its
// first-token wait on the path; the path walk must have run, and the trace
// is about to become result number idx.
func (a *accumulator) addStreams(idx int) {
	sa := &a.stream
	for _, v := range a.tree.order {
		n := &a.tree.nodes[v]
		if n.span == nil || len(n.span.Attrs) == 0 {
			continue
		}
		ttft, ok := semconv.StreamedFirstToken(n.span)
		if !ok {
			continue
		}
		if sa.groups == nil {
			sa.groups = map[streamKey]*streamGroup{}
		}
		k := streamKey{n.stage, semconv.Model(n.span)}
		g := sa.groups[k]
		if g == nil {
			g = &streamGroup{}
			sa.groups[k] = g
		}
		sa.spans++
		g.ttft = append(g.ttft, int64(ttft))
		g.stream = append(g.stream, max(n.end-n.start-int64(ttft), 0))
	}
	if len(sa.waits) > 0 {
		sa.traces = append(sa.traces, streamTrace{result: idx, wait: tracetree.UnionLength(sa.waits)})
		sa.waits = sa.waits[:0]
	}
}

// streamingStats finishes the streaming figures.
func (a *accumulator) streamingStats() StreamingStats {
	sa := &a.stream
	st := StreamingStats{Streams: sa.spans, Calls: []StreamStats{}, Traces: len(sa.traces)}
	for k, g := range sa.groups {
		st.Calls = append(st.Calls, StreamStats{Stage: k.stage, Model: k.model, Calls: len(g.ttft), TTFT: summarize(g.ttft), Stream: summarize(g.stream)})
	}
	slices.SortFunc(st.Calls, func(x, y StreamStats) int {
		return cmp.Or(y.Calls-x.Calls, int(x.Stage)-int(y.Stage), cmp.Compare(x.Model, y.Model))
	})
	if len(sa.traces) == 0 {
		return st
	}
	waits := make([]int64, len(sa.traces))
	e2e := make([]int64, len(sa.traces))
	for i, t := range sa.traces {
		waits[i], e2e[i] = t.wait, a.results[t.result].e2e
	}
	st.TTFTOnPath, st.E2E = summarize(waits), summarize(e2e)
	st.TTFTShare = round4(ratio(float64(st.TTFTOnPath.P50), float64(st.E2E.P50)))
	st.Dominates = st.TTFTShare >= TTFTDominatesShare
	return st
}

// streamingFinding says so when waiting for the first token dominates the
// latency of streamed requests. Its score is the first-token wait on the
// path at p50 (TTFTOnPath.P50) and its share TTFTShare: the figures that
// decide it, of the requests it is about.
func (a *accumulator) streamingFinding(rep *Report, c cohort) (Finding, bool) {
	st := rep.Streaming
	if !st.Dominates || len(st.Calls) == 0 {
		return Finding{}, false
	}
	top := st.Calls[0]
	f := Finding{Kind: "ttft", Stage: top.Stage, Subject: top.Model, Score: st.TTFTOnPath.P50, ScoreMs: st.TTFTOnPath.P50Ms,
		Share: min(st.TTFTShare, 1), Exemplars: a.streamExemplars(c)}
	f.Severity = severity(f.Share)
	f.Title = fmt.Sprintf("waiting for the first token is %.0f%% of the p50 latency of streamed requests (%s of %s)",
		100*st.TTFTShare, dur(st.TTFTOnPath.P50), dur(st.E2E.P50))
	model := ""
	if top.Model != "" {
		model = " " + quote(top.Model)
	}
	f.Detail = fmt.Sprintf("%d of %d traces wait on a streamed call's first token on their critical path (p50 %s, p95 %s). %s%s streams %d calls: time to first token p50 %s, p95 %s; the rest of the stream p50 %s, p95 %s.",
		st.Traces, rep.Traces, dur(st.TTFTOnPath.P50), dur(st.TTFTOnPath.P95), top.Stage, model, top.Calls,
		dur(top.TTFT.P50), dur(top.TTFT.P95), dur(top.Stream.P50), dur(top.Stream.P95))
	than := ""
	if model != "" {
		than = " than" + model
	}
	f.Recommendation = fmt.Sprintf("the wait is before generation starts (queueing and prompt processing), not generation: shorten the prompt or cache its fixed prefix (prompt caching), use a model or deployment with a lower time to first token%s, or start the call earlier; a faster decoder or shorter answers would not help.", than)
	return f, true
}

// streamExemplars returns up to maxExemplars traces that waited longest for
// a first token, slow ones first.
func (a *accumulator) streamExemplars(c cohort) []spans.TraceID {
	inSlow := make(map[int]bool, len(c.slow))
	for _, i := range c.slow {
		inSlow[int(i)] = true
	}
	ts := slices.Clone(a.stream.traces)
	slices.SortStableFunc(ts, func(x, y streamTrace) int {
		if inSlow[x.result] != inSlow[y.result] {
			if inSlow[x.result] {
				return -1
			}
			return 1
		}
		return cmp.Compare(y.wait, x.wait)
	})
	out := []spans.TraceID{}
	for _, t := range ts[:min(len(ts), a.cfg.maxExemplars)] {
		out = append(out, a.results[t.result].id)
	}
	return out
}

// placeStreamingFinding puts f right after the latency finding of its stage
// (it explains that finding's time), or by score before the cost findings.
func placeStreamingFinding(fs []Finding, f Finding) []Finding {
	at := -1
	for i, x := range fs {
		if x.Kind == "latency" && x.Stage == f.Stage {
			at = i + 1
			break
		}
	}
	if at < 0 {
		at = len(fs)
		for i, x := range fs {
			if x.Kind == "cost" || x.Score < f.Score {
				at = i
				break
			}
		}
	}
	return slices.Insert(fs, at, f)
}

// writeStreaming writes the streaming section of the text report.
func (r *Report) writeStreaming(w io.Writer) {
	st := r.Streaming
	if st.Streams == 0 {
		return
	}
	fmt.Fprintf(w, "\n%s (%d):\n", textStreaming, st.Streams)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  STAGE\tMODEL\tCALLS\tTTFT P50\tTTFT P95\tSTREAM P50\tSTREAM P95")
	for _, c := range st.Calls {
		model := c.Model
		if model == "" {
			model = "(unnamed)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%s\t%s\t%s\n", c.Stage, model, c.Calls, dur(c.TTFT.P50), dur(c.TTFT.P95),
			dur(c.Stream.P50), dur(c.Stream.P95))
	}
	_ = tw.Flush()
	if st.Traces > 0 {
		verdict := "below"
		if st.Dominates {
			verdict = "at or above"
		}
		fmt.Fprintf(w, "  %d traces wait for a first token on their critical path: p50 %s of an end-to-end p50 of %s (%.0f%%, %s the %.0f%% at which it dominates)\n",
			st.Traces, dur(st.TTFTOnPath.P50), dur(st.E2E.P50), 100*st.TTFTShare, verdict, 100*TTFTDominatesShare)
	}
}
