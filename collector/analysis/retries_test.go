package analysis

import (
	"strings"
	"testing"

	"github.com/stagescope/stagescope/spans"
)

// retryTrace: two failed attempts of 200 ms with 100 ms backoff after each,
// then a 400 ms success; failed attempts spend 100 prompt tokens each.
func retryTrace(withBackoffAttr bool) Trace {
	b := newTrace()
	q := b.span(nil, "query", spans.StageQuery, 0, 1000)
	attrs := []spans.Attribute{spans.String(spans.KeyRetryOp, "llm.complete"), spans.Int(spans.KeyRetryAttempts, 3), spans.Bool(spans.KeyRetryGaveUp, false)}
	if withBackoffAttr {
		attrs = append(attrs, spans.Int64(spans.KeyRetryBackoffNanos, int64(msDur(200))))
	}
	call := b.span(q, "retry", spans.StageRetry, 0, 1000, attrs...)
	for i, iv := range [][2]float64{{0, 200}, {300, 500}, {600, 1000}} {
		a := b.span(call, "attempt", spans.StageRetry, iv[0], iv[1], spans.Int(spans.KeyRetryAttempt, i+1))
		l := b.span(a, "llm", spans.StageLLM, iv[0], iv[1], spans.String(spans.KeyLLMModel, "gpt-4o-mini"),
			spans.Int(spans.KeyLLMPromptTokens, 100))
		if i < 2 {
			a.Status, l.Status = spans.StatusError, spans.StatusError
		} else {
			l.Attrs = append(l.Attrs, spans.Int(spans.KeyLLMCompletionTokens, 50))
		}
	}
	return b.trace()
}

func TestRetryAmplification(t *testing.T) {
	for _, attr := range []bool{true, false} {
		r := Analyze([]Trace{retryTrace(attr), retryTrace(attr)})
		if len(r.Retries) != 1 {
			t.Fatalf("retries = %+v", r.Retries)
		}
		s := r.Retries[0]
		if s.Op != "llm.complete" || s.Stage != spans.StageLLM || s.Calls != 2 || s.Attempts != 6 || s.AttemptsPerCall != 3 ||
			s.MaxAttempts != 3 || s.FailedAttempts != 4 || s.GaveUp != 0 {
			t.Fatalf("backoff attr %v: counts = %+v", attr, s)
		}
		if s.FailedTime != msDur(800) || s.Backoff != msDur(400) || s.Lost != msDur(1200) || s.LostPerCall != msDur(600) || s.LostPerCallMs != 600 {
			t.Fatalf("backoff attr %v: times = %+v", attr, s)
		}
		// 400 prompt tokens lost at $0.15/Mtok.
		if s.TokensLost != 400 || s.CostLostUSD != 0.00006 {
			t.Fatalf("tokens lost = %d ($%v), want 400 ($0.00006)", s.TokensLost, s.CostLostUSD)
		}
		// Critical path: 600 ms charged to retry, 400 ms to llm.
		if c, _ := stageCP(r, spans.StageRetry); c.MeanPerTrace != msDur(600) {
			t.Fatalf("retry on path %v, want 600ms", c.MeanPerTrace)
		}
		if c, _ := stageCP(r, spans.StageLLM); c.MeanPerTrace != msDur(400) {
			t.Fatalf("llm on path %v, want 400ms", c.MeanPerTrace)
		}
		f := r.Findings[0]
		if f.Kind != "retry" || f.Stage != spans.StageRetry || f.Subject != "llm.complete" || f.Score != msDur(600) || f.Severity != "critical" {
			t.Fatalf("first finding = %+v", f)
		}
		// Every call needed its 3 attempts: a lower cap would fail them all.
		if len(s.Caps) != 3 || s.Caps[0].GiveUpRate != 1 || s.Caps[1].GiveUpRate != 1 || s.Caps[2].GiveUpRate != 0 || s.RecommendedCap != 3 {
			t.Fatalf("caps %+v, recommended %d", s.Caps, s.RecommendedCap)
		}
		if !strings.Contains(f.Recommendation, "keep the cap at 3 (now up to 3: the most attempts seen in one call, from the retry.attempt spans): at 2, requests that give up would go from 0.0% to 100.0%") || len(f.Exemplars) != 1 {
			t.Fatalf("retry finding recommendation %q exemplars %d", f.Recommendation, len(f.Exemplars))
		}
	}
}

func TestRetryGiveUpsWithoutAttemptSpans(t *testing.T) {
	var traces []Trace
	for i := range 4 {
		b := newTrace()
		q := b.span(nil, "query", spans.StageQuery, 0, 100)
		c := b.span(q, "retry embed", spans.StageRetry, 0, 100, spans.String(spans.KeyRetryOp, "embed"),
			spans.Int(spans.KeyRetryAttempts, 4), spans.Bool(spans.KeyRetryGaveUp, i%2 == 0), spans.Int64(spans.KeyRetryBackoffNanos, int64(msDur(30))))
		c.Status = spans.StatusError
		traces = append(traces, b.trace())
	}
	r := Analyze(traces)
	s := r.Retries[0]
	// Calls that gave up failed all 4 attempts, the others 3.
	if s.Calls != 4 || s.Attempts != 16 || s.GaveUp != 2 || s.FailedAttempts != 14 || s.Backoff != msDur(120) {
		t.Fatalf("retry stats = %+v", s)
	}
}

func TestRetryCapPredictsGiveUps(t *testing.T) {
	// 200 requests, one call each: 150 succeed at once, 40 at the 2nd
	// attempt, 7 at the 3rd, 1 at the 4th, and 2 give up after 4.
	var traces []Trace
	add := func(n, attempts int, gaveUp bool) {
		for range n {
			b := newTrace()
			q := b.span(nil, "query", spans.StageQuery, 0, 100)
			b.span(q, "retry llm", spans.StageRetry, 0, 100, spans.String(spans.KeyRetryOp, "llm"),
				spans.Int(spans.KeyRetryAttempts, attempts), spans.Bool(spans.KeyRetryGaveUp, gaveUp), spans.Int64(spans.KeyRetryBackoffNanos, int64(msDur(5*float64(attempts-1)))))
			traces = append(traces, b.trace())
		}
	}
	add(150, 1, false)
	add(40, 2, false)
	add(7, 3, false)
	add(1, 4, false)
	add(2, 4, true)
	s := Analyze(traces).Retries[0]
	want := []RetryCap{{1, 0.25}, {2, 0.05}, {3, 0.015}, {4, 0.01}}
	if len(s.Caps) != 4 || s.GiveUpRate != 0.01 || s.GaveUp != 2 {
		t.Fatalf("retry stats = %+v", s)
	}
	for i, w := range want {
		if s.Caps[i] != w {
			t.Errorf("cap %d: %+v, want %+v", i+1, s.Caps[i], w)
		}
	}
	// Cap 3 adds half a point of give-ups (the tolerance); cap 2 four.
	if s.RecommendedCap != 3 || !strings.Contains(s.Recommendation,
		"cap attempts at 3 (now up to 4: the most attempts seen in one call, from the retry.attempt spans): requests that give up would go from 1.0% to 1.5%") {
		t.Fatalf("recommendation %d %q", s.RecommendedCap, s.Recommendation)
	}
}

func TestTopKAdviceReadsTheQuerysSetting(t *testing.T) {
	// As the engine writes it: the query asks for top_k 10, the hybrid
	// retriever for 10, and its two inner retrievers for 2 × 10 candidates
	// each through a pool.
	var traces []Trace
	for range 5 {
		b := newTrace()
		q := b.span(nil, "query", spans.StageQuery, 0, 100, spans.Int(spans.KeyRetrievalTopK, 10), spans.Int(spans.KeyRerankTopN, 3))
		h := b.span(q, "retrieve", spans.StageRetrieve, 0, 90, spans.Int(spans.KeyRetrievalTopK, 10))
		p := b.span(h, "pool hybrid", spans.StagePool, 0, 90, spans.String(spans.KeyPoolName, "hybrid"), spans.Int(spans.KeyPoolWorkers, 2))
		for j := range 2 {
			job := b.span(p, "job", spans.StagePool, 0, 90, spans.Int(spans.KeyPoolJob, j), spans.Int64(spans.KeyPoolQueueNanos, 0), spans.Int64(spans.KeyPoolRunNanos, int64(msDur(90))))
			b.span(job, "retrieve", spans.StageRetrieve, 0, 90, spans.Int(spans.KeyRetrievalTopK, 20))
		}
		b.span(q, "llm", spans.StageLLM, 90, 100)
		traces = append(traces, b.trace())
	}
	r := Analyze(traces)
	var rec string
	for _, f := range r.Findings {
		if f.Stage == spans.StageRetrieve && f.Kind == "latency" {
			rec = f.Recommendation
		}
	}
	if !strings.Contains(rec, "lower retrieval.top_k from 10 (attribute retrieval.top_k of the query spans) to 5") {
		t.Fatalf("retrieve advice %q", rec)
	}
	// Without the query's attribute, the outermost retrieve span's 10, not
	// the inner retrievers' 20.
	for _, tr := range traces {
		tr.Spans[0].Attrs = nil
	}
	rec = ""
	for _, f := range Analyze(traces).Findings {
		if f.Stage == spans.StageRetrieve && f.Kind == "latency" {
			rec = f.Recommendation
		}
	}
	if !strings.Contains(rec, "from 10 (attribute retrieval.top_k of the outermost retrieve spans) to 5") {
		t.Fatalf("retrieve advice without the query's top_k: %q", rec)
	}
}
