package query

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/engine/corpus"
	"github.com/stagescope/stagescope/engine/faultinject"
	"github.com/stagescope/stagescope/engine/llm"
	"github.com/stagescope/stagescope/engine/pool"
	"github.com/stagescope/stagescope/engine/retry"
	"github.com/stagescope/stagescope/engine/synth"
	"github.com/stagescope/stagescope/spans"
)

// flakyLLM fails the first failFirst calls with a transient error, then
// delegates.
type flakyLLM struct {
	llm.LLM
	failFirst int64
	calls     atomic.Int64
}

var errTransient = errors.New("transient model failure")

func (f *flakyLLM) Complete(ctx context.Context, req llm.Request) (*llm.Response, error) {
	if f.calls.Add(1) <= f.failFirst {
		return nil, errTransient
	}
	return f.LLM.Complete(ctx, req)
}

var (
	goOnce sync.Once
	goPipe *GoPipeline
	goErr  error
)

// goPipeline is built once per test binary: a few hundred documents of the
// real standard library.
func goPipeline(t testing.TB) *GoPipeline {
	t.Helper()
	goOnce.Do(buildGoPipeline)
	if goErr != nil {
		t.Fatal(goErr)
	}
	return goPipe
}

func buildGoPipeline() {
	goPipe, goErr = NewGoPipeline(context.Background(), corpus.GOROOT(), llm.NewExtractive(),
		[]corpus.Option{corpus.WithPackages("strings", "bytes", "io", "os", "net/http", "sort", "sync"), corpus.WithQuestions(200)}, nil)
}

type tree struct {
	byID     map[spans.SpanID]*spans.Span
	children map[spans.SpanID][]*spans.Span
}

func newTree(ss []*spans.Span) *tree {
	t := &tree{byID: map[spans.SpanID]*spans.Span{}, children: map[spans.SpanID][]*spans.Span{}}
	for _, s := range ss {
		t.byID[s.SpanID] = s
		t.children[s.ParentID] = append(t.children[s.ParentID], s)
	}
	return t
}

// child returns the only child of p named name, failing otherwise.
func (tr *tree) child(t *testing.T, p *spans.Span, name string, stage spans.Stage) *spans.Span {
	t.Helper()
	var found []*spans.Span
	for _, c := range tr.children[p.SpanID] {
		if c.Name == name && c.Stage == stage {
			found = append(found, c)
		}
	}
	if len(found) != 1 {
		var names []string
		for _, c := range tr.children[p.SpanID] {
			names = append(names, c.Name+"/"+c.Stage.String())
		}
		t.Fatalf("span %q has %d children %q/%s (children: %v)", p.Name, len(found), name, stage, names)
	}
	return found[0]
}

func TestWholeQuerySpanTreeOverGoCorpus(t *testing.T) {
	p := goPipeline(t)
	model := &flakyLLM{LLM: llm.NewExtractive(), failFirst: 1}
	slow := faultinject.New(faultinject.WithLatency(faultinject.Constant(15 * time.Millisecond)))
	e, err := New(p.Index.Hybrid, p.Engine.reranker, model, WithTopK(8), WithTopN(3), WithResponseMode(synth.Compact),
		WithRetryOptions(retry.WithMinBackoff(time.Millisecond), retry.WithMaxBackoff(2*time.Millisecond)),
		WithFaults(map[spans.Stage]*faultinject.Injector{spans.StageRerank: slow}))
	if err != nil {
		t.Fatal(err)
	}
	rec := dispatcher.NewRecorder(0)
	defer dispatcher.Root().AddSpanHandler(rec)()
	defer dispatcher.Root().AddEventHandler(rec)()

	resp, err := e.Query(context.Background(), "How do I build a string efficiently by appending pieces?")
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Sources) != 3 || resp.Answer == "" || resp.LLMCalls != 1 {
		t.Fatalf("response %+v", resp)
	}
	tr := newTree(rec.Spans())
	roots := tr.children[spans.SpanID{}]
	if len(roots) != 1 || roots[0].Name != SpanName || roots[0].Stage != spans.StageQuery {
		t.Fatalf("want one root query span, got %d", len(roots))
	}
	q := roots[0]
	// query → retrieve (hybrid) → pool run → two jobs → vector and bm25
	// retrievals; the query's embedding sits under the vector retrieval.
	ret := tr.child(t, q, "retrieve", spans.StageRetrieve)
	if v, _ := ret.Attr(spans.KeyRetrievalTopK); v.AsInt64() != 8 {
		t.Fatalf("retrieval.top_k = %d", v.AsInt64())
	}
	run := tr.child(t, ret, "hybrid", spans.StagePool)
	jobs := tr.children[run.SpanID]
	if len(jobs) != 2 {
		t.Fatalf("hybrid pool has %d jobs", len(jobs))
	}
	kinds := map[string]bool{}
	for _, j := range jobs {
		if j.Stage != spans.StagePool {
			t.Fatalf("pool job stage %s", j.Stage)
		}
		inner := tr.child(t, j, "retrieve", spans.StageRetrieve)
		k, _ := inner.Attr("retrieval.retriever")
		kinds[k.AsString()] = true
		if k.AsString() == "vector" {
			tr.child(t, inner, "embed", spans.StageEmbed)
		}
	}
	if !kinds["vector"] || !kinds["bm25"] {
		t.Fatalf("inner retrievers %v", kinds)
	}
	// query → rerank → fault (rerank stage, the planted latency, marked
	// injected); the rerank span says it received the fault.
	rr := tr.child(t, q, "rerank", spans.StageRerank)
	if v, _ := rr.Attr(spans.KeyRerankTopN); v.AsInt64() != 3 {
		t.Fatalf("rerank.top_n = %d", v.AsInt64())
	}
	fault := tr.child(t, rr, FaultSpanName, spans.StageRerank)
	if v, _ := fault.Attr(spans.KeyFaultLatencyNanos); v.AsInt64() != int64(15*time.Millisecond) || fault.Duration() < 15*time.Millisecond {
		t.Fatalf("fault span: latency %d, duration %v", v.AsInt64(), fault.Duration())
	}
	if v, ok := fault.Attr(faultinject.KeyInjected); !ok || !v.AsBool() {
		t.Fatal("the fault span is not marked fault.injected")
	}
	if v, _ := rr.Attr(spans.KeyFaultLatencyNanos); v.AsInt64() != int64(15*time.Millisecond) {
		t.Fatalf("rerank span: fault.latency_ns %d", v.AsInt64())
	}
	if _, ok := rr.Attr(faultinject.KeyInjected); ok || rr.Duration() < fault.Duration() {
		t.Fatalf("rerank span marked injected, or shorter (%v) than its fault (%v)", rr.Duration(), fault.Duration())
	}
	// query → synthesize → retry → attempt 1 (failed) and 2 → llm.
	syn := tr.child(t, q, "synthesize", spans.StageSynth)
	logical := tr.child(t, syn, "retry "+LLMRetryOp, spans.StageRetry)
	if v, _ := logical.Attr(spans.KeyRetryAttempts); v.AsInt64() != 2 {
		t.Fatalf("retry.attempts = %d, want 2", v.AsInt64())
	}
	attempts := tr.children[logical.SpanID]
	if len(attempts) != 2 || attempts[0].Status != spans.StatusError || attempts[1].Status != spans.StatusOK {
		t.Fatalf("attempts %d: %+v", len(attempts), attempts)
	}
	for i, a := range attempts {
		if v, _ := a.Attr(spans.KeyRetryAttempt); v.AsInt64() != int64(i+1) || a.Name != LLMRetryOp {
			t.Fatalf("attempt %d: %s attempt=%d", i, a.Name, v.AsInt64())
		}
	}
	if len(tr.children[attempts[0].SpanID]) != 0 {
		t.Fatal("the failed attempt has an llm span although the model was never reached")
	}
	call := tr.child(t, attempts[1], llm.SpanName, spans.StageLLM)
	pt, _ := call.Attr(spans.KeyLLMPromptTokens)
	ct, _ := call.Attr(spans.KeyLLMCompletionTokens)
	if pt.AsInt64() < 50 || ct.AsInt64() < 1 || int(pt.AsInt64()) != resp.PromptTokens {
		t.Fatalf("llm tokens prompt=%d completion=%d (response %d)", pt.AsInt64(), ct.AsInt64(), resp.PromptTokens)
	}
	// Every span belongs to the query's trace and ended after it started.
	for _, s := range rec.Spans() {
		if s.TraceID != q.TraceID || s.End.Before(s.Start) {
			t.Fatalf("span %s: trace %s (query %s)", s.Name, s.TraceID, q.TraceID)
		}
	}
	var starts, ends int
	for _, ev := range rec.Events() {
		switch ev := ev.(type) {
		case *event.QueryStart:
			starts++
		case *event.QueryEnd:
			ends++
			if ev.Sources != 3 || ev.SpanID != q.SpanID || ev.Response != resp.Answer {
				t.Fatalf("query end %+v", ev)
			}
		}
	}
	if starts != 1 || ends != 1 {
		t.Fatalf("%d query starts, %d ends", starts, ends)
	}
}

func TestQueryBatchJobsUnderPool(t *testing.T) {
	p := goPipeline(t)
	e, err := New(p.Index.BM25, p.Engine.reranker, llm.NewExtractive(), WithWorkers(3), WithTopN(2), WithResponseMode(synth.Refine))
	if err != nil {
		t.Fatal(err)
	}
	rec := dispatcher.NewRecorder(0)
	defer dispatcher.Root().AddSpanHandler(rec)()
	qs := []string{p.Corpus.Questions[0].Query, p.Corpus.Questions[1].Query, p.Corpus.Questions[2].Query, p.Corpus.Questions[3].Query, p.Corpus.Questions[4].Query}
	resps, err := e.QueryBatch(context.Background(), qs)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range resps {
		if r == nil || r.Query != qs[i] || len(r.Sources) != 2 || r.LLMCalls < 1 {
			t.Fatalf("response %d: %+v", i, r)
		}
	}
	tr := newTree(rec.Spans())
	roots := tr.children[spans.SpanID{}]
	if len(roots) != 1 || roots[0].Name != "query.batch" || roots[0].Stage != spans.StagePool {
		t.Fatalf("root spans %d", len(roots))
	}
	if v, _ := roots[0].Attr(spans.KeyPoolWorkers); v.AsInt64() != 3 {
		t.Fatalf("pool.workers = %d", v.AsInt64())
	}
	jobs := tr.children[roots[0].SpanID]
	if len(jobs) != len(qs) {
		t.Fatalf("%d jobs for %d queries", len(jobs), len(qs))
	}
	seen := map[string]bool{}
	for _, j := range jobs {
		q := tr.child(t, j, SpanName, spans.StageQuery)
		text, _ := q.Attr(spans.KeyQueryText)
		seen[text.AsString()] = true
		tr.child(t, q, "retrieve", spans.StageRetrieve)
		tr.child(t, q, "rerank", spans.StageRerank)
		tr.child(t, q, "synthesize", spans.StageSynth)
	}
	if len(seen) != len(qs) {
		t.Fatalf("queries seen under jobs: %d", len(seen))
	}
}

func TestQueryFaultErrorsAndOptions(t *testing.T) {
	p := goPipeline(t)
	failing := faultinject.New(faultinject.WithErrorRate(1))
	e, err := New(p.Index.BM25, nil, llm.NewExtractive(), WithFaults(map[spans.Stage]*faultinject.Injector{spans.StageRetrieve: failing}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Query(context.Background(), "anything"); !errors.Is(err, faultinject.ErrInjected) {
		t.Fatalf("err = %v, want an injected fault", err)
	}
	// A planted LLM error that never stops exhausts the retries.
	e, err = New(p.Index.BM25, nil, llm.NewExtractive(), WithRetryOptions(retry.WithMaxTries(3), retry.WithMinBackoff(time.Microsecond)),
		WithFaults(map[spans.Stage]*faultinject.Injector{spans.StageLLM: failing}))
	if err != nil {
		t.Fatal(err)
	}
	before, _, _ := failing.Stats()
	_, err = e.Query(context.Background(), "read a file")
	var re *retry.Error
	if !errors.As(err, &re) || re.Attempts != 3 {
		t.Fatalf("err = %v", err)
	}
	if after, _, _ := failing.Stats(); after-before != 3 {
		t.Fatalf("injector applied %d times, want 3 (once per attempt)", after-before)
	}
	// Without a reranker the first topN retrieved are the sources.
	e, _ = New(p.Index.BM25, nil, llm.NewExtractive(), WithTopK(5), WithTopN(2))
	r, err := e.Query(context.Background(), "read a file")
	if err != nil || len(r.Sources) != 2 {
		t.Fatalf("%v %+v", err, r)
	}
	for _, bad := range [][]Option{{WithTopK(0)}, {WithTopN(0)}, {WithResponseMode("chatty")},
		{WithFaults(map[spans.Stage]*faultinject.Injector{spans.StageQuery: failing})}} {
		if _, err := New(p.Index.BM25, nil, llm.NewExtractive(), bad...); err == nil {
			t.Fatal("bad options accepted")
		}
	}
	if _, err := New(nil, nil, llm.NewExtractive()); err == nil {
		t.Fatal("nil retriever accepted")
	}
	_, err = e.QueryBatch(context.Background(), []string{"x"})
	if err != nil {
		t.Fatal(err)
	}
	var je *pool.JobErrors
	e, _ = New(p.Index.BM25, nil, llm.NewExtractive(), WithFaults(map[spans.Stage]*faultinject.Injector{spans.StageSynth: failing}))
	rs, err := e.QueryBatch(context.Background(), []string{"a b", "c d"})
	if !errors.As(err, &je) || len(rs) != 2 || rs[0] != nil {
		t.Fatalf("batch with failing synth: %v %v", err, rs)
	}
	if !strings.Contains(err.Error(), "synthesize") {
		t.Fatalf("error does not say which stage failed: %v", err)
	}
}

func TestRetrievalQualityOnGoCorpus(t *testing.T) {
	p := goPipeline(t)
	ctx := context.Background()
	qs := p.Corpus.Questions
	if len(qs) != 200 {
		t.Fatalf("%d questions", len(qs))
	}
	// Floors measured on this corpus slice (908 documents, seed 1): BM25
	// 0.975, hybrid 0.970, vector 0.970 hit rate@10; BM25 MRR@10 0.879.
	for _, tc := range []struct {
		name         string
		ev           func() (Evaluation, error)
		hitFloor     float64
		mrrFloor     float64
		hitAt1Ceiled bool
	}{
		{"bm25", func() (Evaluation, error) { return Evaluate(ctx, p.Index.BM25, qs, 10) }, 0.93, 0.80, true},
		{"hybrid", func() (Evaluation, error) { return Evaluate(ctx, p.Index.Hybrid, qs, 10) }, 0.93, 0.78, true},
		{"vector", func() (Evaluation, error) { return Evaluate(ctx, p.Index.Vector, qs, 10) }, 0.90, 0.75, true},
	} {
		ev, err := tc.ev()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %v", tc.name, ev)
		if ev.HitRate < tc.hitFloor || ev.MRR < tc.mrrFloor || ev.MRR > ev.HitRate {
			t.Errorf("%s: %v below floors hit %.2f MRR %.2f", tc.name, ev, tc.hitFloor, tc.mrrFloor)
		}
	}
	// The labelled set is not trivial: the top hit is often wrong.
	at1, _ := Evaluate(ctx, p.Index.BM25, qs, 1)
	if at1.HitRate > 0.95 {
		t.Errorf("BM25 hit rate@1 %.3f: the questions give their answers away", at1.HitRate)
	}
	// A retriever that ignores the question finds almost nothing.
	wrong := make([]corpus.Question, len(qs))
	for i, q := range qs {
		wrong[i] = q
		wrong[i].Query = qs[(i+1)%len(qs)].Query
	}
	if ev, _ := Evaluate(ctx, p.Index.BM25, wrong, 10); ev.HitRate > 0.1 {
		t.Errorf("mismatched questions still hit %.3f", ev.HitRate)
	}
}
