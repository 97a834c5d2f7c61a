package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/engine/corpus"
	"github.com/stagescope/stagescope/engine/llm"
	"github.com/stagescope/stagescope/engine/query"
	"github.com/stagescope/stagescope/engine/synth"
	"github.com/stagescope/stagescope/spans"
)

var (
	pipeOnce sync.Once
	pipe     *query.GoPipeline
	pipeErr  error
)

// smallPipeline is a few standard-library packages with 40 questions,
// built once per test binary.
func smallPipeline(t testing.TB) *query.GoPipeline {
	t.Helper()
	pipeOnce.Do(func() {
		pipe, pipeErr = query.NewGoPipeline(context.Background(), corpus.GOROOT(), llm.NewExtractive(),
			[]corpus.Option{corpus.WithPackages("strings", "bytes", "io", "sort", "sync"), corpus.WithQuestions(40), corpus.WithSeed(7)}, nil)
	})
	if pipeErr != nil {
		t.Fatal(pipeErr)
	}
	return pipe
}

// memRecorder is a RunRecorder in memory.
type memRecorder struct {
	mu       sync.Mutex
	names    map[string]string
	configs  map[string]json.RawMessage
	summary  map[string]json.RawMessage
	finished []string
}

func newMemRecorder() *memRecorder {
	return &memRecorder{names: map[string]string{}, configs: map[string]json.RawMessage{}, summary: map[string]json.RawMessage{}}
}

func (m *memRecorder) StartRun(_ context.Context, name string, config json.RawMessage) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := fmt.Sprintf("run-%d", len(m.names)+1)
	m.names[id], m.configs[id] = name, config
	return id, nil
}

func (m *memRecorder) FinishRun(_ context.Context, id string, summary json.RawMessage) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.summary[id] = summary
	m.finished = append(m.finished, id)
	return nil
}

func TestSweepIsReproducible(t *testing.T) {
	p := smallPipeline(t)
	grid := Grid{TopK: []int{3, 8}, TopN: []int{1, 3}, Modes: []synth.Mode{synth.Compact}, Workers: []int{1, 3}}
	setup := SetupFromPipeline(p, llm.NewExtractive(), 7)
	first, err := Sweep(context.Background(), setup, grid)
	if err != nil {
		t.Fatal(err)
	}
	second, err := Sweep(context.Background(), SetupFromPipeline(p, llm.NewExtractive(), 7), grid)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 8 || len(second) != 8 {
		t.Fatalf("%d and %d results, want 8", len(first), len(second))
	}
	for i := range first {
		a, b := first[i], second[i]
		if a.Config != b.Config || a.HitRate != b.HitRate || a.MRR != b.MRR || a.PromptTokens != b.PromptTokens {
			t.Fatalf("config %s: first hit %.4f MRR %.4f tokens %d, second %s hit %.4f MRR %.4f tokens %d",
				a.Config.Name(), a.HitRate, a.MRR, a.PromptTokens, b.Config.Name(), b.HitRate, b.MRR, b.PromptTokens)
		}
		if a.Errors != 0 || a.Questions != 40 || a.P50 <= 0 || a.P50 > a.P95 || a.P95 > a.P99 || a.Throughput <= 0 {
			t.Fatalf("config %s: %+v", a.Config.Name(), a)
		}
		if a.HitRate <= 0 || a.HitRate > 1 || a.MRR <= 0 || a.MRR > a.HitRate {
			t.Fatalf("config %s: hit rate %.3f, MRR %.3f", a.Config.Name(), a.HitRate, a.MRR)
		}
	}
	// Workers do not change quality; more passages kept cannot lose hits.
	byName := map[string]Result{}
	for _, r := range first {
		byName[r.Config.Name()] = r
	}
	if w1, w3 := byName["k8-n3-compact-w1"], byName["k8-n3-compact-w3"]; w1.HitRate != w3.HitRate || w1.MRR != w3.MRR {
		t.Fatalf("workers changed quality: %+v vs %+v", w1, w3)
	}
	if n1, n3 := byName["k8-n1-compact-w1"], byName["k8-n3-compact-w1"]; n3.HitRate < n1.HitRate {
		t.Fatalf("top_n 3 hit rate %.3f below top_n 1's %.3f", n3.HitRate, n1.HitRate)
	}
	// The front is the one ParetoFront computes on (p95, MRR).
	pts := make([]Point, len(first))
	for i, r := range first {
		pts[i] = Point{float64(r.P95), r.MRR}
	}
	for i, on := range ParetoFront(pts) {
		if first[i].OnFront != on {
			t.Fatalf("result %d OnFront %v, ParetoFront says %v", i, first[i].OnFront, on)
		}
	}
}

func TestSweepRecordsRunsAndTagsSpans(t *testing.T) {
	p := smallPipeline(t)
	rec := newMemRecorder()
	spansRec := dispatcher.NewRecorder(0)
	defer dispatcher.Root().AddSpanHandler(spansRec)()
	var progress []int
	grid := Grid{TopK: []int{5}, TopN: []int{2}, Modes: []synth.Mode{synth.Compact, synth.TreeSummarize}, Workers: []int{2}}
	setup := SetupFromPipeline(p, llm.NewExtractive(), 7)
	setup.Questions = setup.Questions[:10]
	results, err := Sweep(context.Background(), setup, grid, WithRecorder(rec),
		WithProgress(func(done, total int) {
			if total != 20 {
				t.Errorf("progress total %d, want 20", total)
			}
			progress = append(progress, done)
		}))
	if err != nil {
		t.Fatal(err)
	}
	if len(progress) != 20 || progress[0] != 1 || progress[19] != 20 {
		t.Fatalf("progress %v", progress)
	}
	if len(rec.finished) != 2 || results[0].RunID != "run-1" || results[1].RunID != "run-2" {
		t.Fatalf("finished %v, run ids %q %q", rec.finished, results[0].RunID, results[1].RunID)
	}
	if rec.names["run-2"] != "k5-n2-tree_summarize-w2" {
		t.Fatalf("run name %q", rec.names["run-2"])
	}
	var conf map[string]any
	if err := json.Unmarshal(rec.configs["run-1"], &conf); err != nil {
		t.Fatal(err)
	}
	if conf["top_k"] != 5.0 || conf["top_n"] != 2.0 || conf["mode"] != "compact" || conf["workers"] != 2.0 || conf["questions"] != 10.0 || conf["seed"] != 7.0 {
		t.Fatalf("config %s", rec.configs["run-1"])
	}
	var sum map[string]float64
	if err := json.Unmarshal(rec.summary["run-1"], &sum); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"p50_ms", "p95_ms", "p99_ms", "hit_rate", "mrr", "traces"} {
		if _, ok := sum[k]; !ok {
			t.Fatalf("summary lacks %q: %s", k, rec.summary["run-1"])
		}
	}
	if sum["traces"] != 10 || sum["hit_rate"] != results[0].HitRate || sum["p95_ms"] != ms(results[0].P95) {
		t.Fatalf("summary %s vs result %+v", rec.summary["run-1"], results[0])
	}
	// Every query span of the sweep carries its run's ID.
	perRun := map[string]int{}
	for _, s := range spansRec.Spans() {
		if s.Name == query.SpanName && s.Stage == spans.StageQuery {
			id, _ := s.Tag(spans.KeyRunID)
			perRun[id]++
		}
	}
	if perRun["run-1"] != 10 || perRun["run-2"] != 10 {
		t.Fatalf("query spans per run %v", perRun)
	}
	var buf bytes.Buffer
	if err := WriteTable(&buf, results); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "MRR") || !strings.Contains(lines[2], "tree_summarize") {
		t.Fatalf("table:\n%s", buf.String())
	}
}

func TestSweepRejectsBadInput(t *testing.T) {
	p := smallPipeline(t)
	setup := SetupFromPipeline(p, llm.NewExtractive(), 7)
	if _, err := Sweep(context.Background(), setup, Grid{TopK: []int{2}, TopN: []int{3}}); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("empty grid: %v", err)
	}
	if _, err := Sweep(context.Background(), setup, Grid{Modes: []synth.Mode{"poetry"}}); err == nil {
		t.Fatal("unknown mode accepted")
	}
	setup.Questions = nil
	if _, err := Sweep(context.Background(), setup, Grid{}); err == nil {
		t.Fatal("no questions accepted")
	}
}
