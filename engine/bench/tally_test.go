package bench_test

import (
	"math"
	"sync"
	"testing"
	"time"

	"github.com/stagescope/stagescope/engine/bench"
	"github.com/stagescope/stagescope/engine/corpus"
	"github.com/stagescope/stagescope/engine/query"
	"github.com/stagescope/stagescope/engine/retrieve"
)

func TestTallyQualityTokensErrorsAndLatency(t *testing.T) {
	q := func(doc string) corpus.Question { return corpus.Question{Query: "?", ExpectedDocID: doc} }
	resp := func(docs ...string) *query.Response {
		r := &query.Response{PromptTokens: 100, CompletionTokens: 10}
		for _, d := range docs {
			r.Sources = append(r.Sources, retrieve.Hit{DocID: d})
		}
		return r
	}
	var tl bench.Tally
	var wg sync.WaitGroup
	for i := range 4 { // concurrent callers, as the demo's workers are
		wg.Go(func() { tl.Latency(time.Duration(i+1) * time.Millisecond) })
	}
	wg.Wait()
	tl.Answer(q("a"), resp("a", "b"))      // hit at rank 1
	tl.Answer(q("b"), resp("a", "b", "c")) // hit at rank 2
	tl.Answer(q("z"), resp("a"))           // miss
	tl.Answer(q("a"), nil)                 // failed: error and miss
	r := tl.Result(2 * time.Second)
	if r.Questions != 4 || r.Errors != 1 || r.PromptTokens != 300 || r.CompletionTokens != 30 {
		t.Fatalf("counts %+v", r)
	}
	if r.HitRate != 0.5 || math.Abs(r.MRR-(1+0.5)/4) > 1e-12 {
		t.Fatalf("hit rate %v, MRR %v; want 0.5, 0.375", r.HitRate, r.MRR)
	}
	if r.P50 != 2*time.Millisecond || r.P99 != 4*time.Millisecond || r.Throughput != 2 {
		t.Fatalf("p50 %v p99 %v throughput %v", r.P50, r.P99, r.Throughput)
	}
	if s := r.Summary(); s.Traces != 4 || s.P95Ms != 4 || s.MRR != r.MRR {
		t.Fatalf("summary %+v", s)
	}
	var empty bench.Tally
	if r := empty.Result(0); r.HitRate != 0 || r.Throughput != 0 || r.P50 != 0 {
		t.Fatalf("empty tally %+v", r)
	}
}
