package bench

import (
	"sync"
	"time"

	"github.com/stagescope/stagescope/engine/corpus"
	"github.com/stagescope/stagescope/engine/query"
)

// Tally accumulates answered labelled questions — quality, tokens, errors and
// latencies — into a Result. The sweep uses it for each configuration, and a
// long-running pipeline (the demo) can use it to store a run that appears on
// the dashboard's latency-versus-quality chart. It is safe for concurrent
// use.
type Tally struct {
	mu        sync.Mutex
	r         Result
	rr        float64
	latencies []time.Duration
}

// Answer counts one question and its response (nil when the query failed,
// which counts as an error and a miss). A question is a hit when its
// expected document is among the response's sources (the passages kept for
// synthesis); the reciprocal rank of the first such source adds to the MRR.
func (t *Tally) Answer(q corpus.Question, resp *query.Response) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.r.Questions++
	if resp == nil {
		t.r.Errors++
		return
	}
	t.r.PromptTokens += int64(resp.PromptTokens)
	t.r.CompletionTokens += int64(resp.CompletionTokens)
	for rank, h := range resp.Sources {
		if h.DocID == q.ExpectedDocID {
			t.r.HitRate++
			t.rr += 1 / float64(rank+1)
			break
		}
	}
}

// Latency records one query's duration.
func (t *Tally) Latency(d time.Duration) {
	t.mu.Lock()
	t.latencies = append(t.latencies, d)
	t.mu.Unlock()
}

// Result returns what was tallied, for questions answered over elapsed wall
// time. Hit rate and MRR are over every question counted, failed ones
// included.
func (t *Tally) Result(elapsed time.Duration) Result {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.r
	if r.Questions > 0 {
		r.HitRate = t.r.HitRate / float64(r.Questions)
		r.MRR = t.rr / float64(r.Questions)
	}
	r.Elapsed = elapsed
	if elapsed > 0 {
		r.Throughput = float64(r.Questions) / elapsed.Seconds()
	}
	r.P50, r.P95, r.P99 = latencies(append([]time.Duration(nil), t.latencies...))
	return r
}
