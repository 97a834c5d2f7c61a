package analysis

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stagescope/stagescope/spans"
)

// streamedTrace is retrieve 10 ms, then a streamed llm call whose first
// token comes after ttft ms and whose stream lasts 30 ms more.
func streamedTrace(ttft float64) Trace {
	b := newTrace()
	q := b.span(nil, "query", spans.StageQuery, 0, 10+ttft+30)
	b.span(q, "retrieve", spans.StageRetrieve, 0, 10)
	b.span(q, "llm", spans.StageLLM, 10, 10+ttft+30, spans.String(spans.KeyLLMModel, "gpt-x"), spans.Bool(spans.KeyLLMStream, true),
		spans.Int64(spans.KeyLLMTTFTNanos, int64(msDur(ttft))))
	return b.trace()
}

func TestStreamingTTFTDominates(t *testing.T) {
	var traces []Trace
	for i := range 10 {
		traces = append(traces, streamedTrace(50+float64(i)))
	}
	// A call that did not stream: its "first token" is its whole answer.
	b := newTrace()
	q := b.span(nil, "query", spans.StageQuery, 0, 100)
	b.span(q, "llm", spans.StageLLM, 0, 100, spans.String(spans.KeyLLMModel, "gpt-x"), spans.Bool(spans.KeyLLMStream, false),
		spans.Int64(spans.KeyLLMTTFTNanos, int64(msDur(100))))
	traces = append(traces, b.trace())
	// A streamed call that ran beside a longer retrieval: never waited for.
	b = newTrace()
	q = b.span(nil, "query", spans.StageQuery, 0, 200)
	b.span(q, "retrieve", spans.StageRetrieve, 0, 200)
	b.span(q, "llm", spans.StageLLM, 0, 50, spans.String(spans.KeyLLMModel, "small"), spans.Bool(spans.KeyLLMStream, true),
		spans.Int64(spans.KeyLLMTTFTNanos, int64(msDur(20))))
	traces = append(traces, b.trace())

	r := Analyze(traces)
	st := r.Streaming
	if st.Streams != 11 || len(st.Calls) != 2 || st.Traces != 10 {
		t.Fatalf("streaming = %+v", st)
	}
	g := st.Calls[0]
	// TTFT 50..59 ms: nearest-rank p50 of 10 is the 5th, p95 the 10th.
	if g.Stage != spans.StageLLM || g.Model != "gpt-x" || g.Calls != 10 || g.TTFT.P50 != msDur(54) || g.TTFT.P95 != msDur(59) ||
		g.Stream.P50 != msDur(30) || g.Stream.P95 != msDur(30) {
		t.Fatalf("gpt-x = %+v", g)
	}
	if s := st.Calls[1]; s.Model != "small" || s.Calls != 1 || s.TTFT.P50 != msDur(20) || s.Stream.P50 != msDur(30) {
		t.Fatalf("small = %+v", s)
	}
	// On the path: 54 ms of a 94 ms p50 request (90 + i ms).
	if st.TTFTOnPath.P50 != msDur(54) || st.E2E.P50 != msDur(94) || st.TTFTShare != 0.5745 || !st.Dominates {
		t.Fatalf("on path %v of %v, share %v, dominates %v", st.TTFTOnPath.P50, st.E2E.P50, st.TTFTShare, st.Dominates)
	}
	var f Finding
	for _, x := range r.Findings {
		if x.Kind == "ttft" {
			f = x
		}
	}
	if f.Stage != spans.StageLLM || f.Subject != "gpt-x" || f.Score != msDur(54) || f.Share != 0.5745 || f.Severity != "critical" ||
		f.Title != "waiting for the first token is 57% of the p50 latency of streamed requests (54ms of 94ms)" ||
		!strings.Contains(f.Recommendation, `lower time to first token than "gpt-x"`) || len(f.Exemplars) != 5 {
		t.Fatalf("ttft finding = %+v", f)
	}
	// Here the slow trace is the 200 ms retrieval, so the ttft finding
	// ranks after it by score (54 ms per request against 190 ms).
	if kinds := findingKinds(r); kinds != "latency/retrieve ttft/llm" {
		t.Errorf("findings %s", kinds)
	}
	// Without it, the ttft finding follows the llm latency finding it
	// explains.
	if kinds := findingKinds(Analyze(traces[:10])); kinds != "latency/llm ttft/llm latency/retrieve" {
		t.Errorf("streamed traces only: findings %s", kinds)
	}
	var buf bytes.Buffer
	if err := r.WriteText(&buf, "test"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Streamed model calls (11):", "gpt-x", "54ms", "59ms", "30ms",
		"10 traces wait for a first token on their critical path: p50 54ms of an end-to-end p50 of 94ms (57%, at or above the 50% at which it dominates)"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, buf.String())
		}
	}
}

func TestStreamingBelowTheShareHasNoFinding(t *testing.T) {
	// First token after 20 ms of a 60 ms request: a third of the wait.
	var traces []Trace
	for range 5 {
		traces = append(traces, streamedTrace(20))
	}
	r := Analyze(traces)
	if st := r.Streaming; st.TTFTShare != 0.3333 || st.Dominates || st.TTFTOnPath.P50 != msDur(20) || st.E2E.P50 != msDur(60) {
		t.Fatalf("streaming = %+v", st)
	}
	for _, f := range r.Findings {
		if f.Kind == "ttft" {
			t.Fatalf("ttft finding below the share: %+v", f)
		}
	}
	if r := Analyze([]Trace{simpleTrace(10, 10)}); r.Streaming.Streams != 0 || r.Streaming.Calls == nil || r.Streaming.Traces != 0 {
		t.Fatalf("no streams: %+v", r.Streaming)
	}
}

func findingKinds(r *Report) string {
	var kinds []string
	for _, f := range r.Findings {
		kinds = append(kinds, f.Kind+"/"+f.Stage.String())
	}
	return strings.Join(kinds, " ")
}
