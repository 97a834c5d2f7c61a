package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/engine/faultinject"
	"github.com/stagescope/stagescope/spans"
)

// The demo stores its run with latency and quality figures, so it shows on
// the Runs page's latency-versus-quality chart next to bench runs.
func TestDemoRunSummaryHasLatencyAndQuality(t *testing.T) {
	data := t.TempDir()
	runID := runDemoCmd(t, nil, demoArgs(data, "6"))
	st, err := collector.OpenSQLite(filepath.Join(data, databaseFile))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	run, err := st.Run(context.Background(), runID)
	if err != nil {
		t.Fatal(err)
	}
	var sum map[string]float64
	if err := json.Unmarshal(run.Summary, &sum); err != nil {
		t.Fatalf("summary %s: %v", run.Summary, err)
	}
	if sum["traces"] != 6 || sum["errors"] != 0 || sum["p50_ms"] <= 0 || sum["p95_ms"] < sum["p50_ms"] ||
		sum["hit_rate"] <= 0 || sum["hit_rate"] > 1 || sum["mrr"] <= 0 || sum["mrr"] > sum["hit_rate"] {
		t.Fatalf("demo run summary %s", run.Summary)
	}
}

func TestPlantFlag(t *testing.T) {
	var p plantFlag
	for _, v := range []string{"rerank=latency:500ms@0.05", "llm=errors:0.1", "pool=latency:lognormal:20ms,errors:0.01"} {
		if err := p.Set(v); err != nil {
			t.Fatalf("Set(%q): %v", v, err)
		}
	}
	if got, want := p.String(), "pool=latency:lognormal:20ms,errors:0.01 rerank=latency:500ms@0.05 llm=errors:0.1"; got != want {
		t.Errorf("String() = %q, want %q (pipeline order)", got, want)
	}
	if len(p.faults) != 3 || p.faults[spans.StageRerank] == nil || p.faults[spans.StageLLM] == nil || p.faults[spans.StagePool] == nil {
		t.Fatalf("faults %v", p.faults)
	}
	cases := []struct{ in, want string }{
		{"rerank=errors:0.2", "rerank is planted already (latency:500ms@0.05)"},
		{"query=latency:1ms", `cannot plant faults in stage "query"`},
		{"synth=", "empty fault spec"},
		{"synth=latency:5ms@2", `probability "2"`},
		{"synth=latency:fast", `"fast" is not a duration`},
		{"synth", "is not STAGE=SPEC"},
	}
	for _, c := range cases {
		if err := p.Set(c.in); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Set(%q) = %v, want an error containing %q", c.in, err, c.want)
		}
	}
	if len(p.faults) != 3 || p.seed != 3 {
		t.Errorf("rejected plants changed the flag: %d plants, seed %d", len(p.faults), p.seed)
	}
}

// plantedDemo runs the demo with plants and returns its run's traces and
// the number of failed queries it reported.
func plantedDemo(t *testing.T, queries int, plants ...string) ([]*collector.Trace, int) {
	t.Helper()
	data, runID, failed := runPlantedDemo(t, queries, nil, plants...)
	ts := storedRun(t, data, runID)
	if len(ts) != queries {
		t.Fatalf("%d traces stored for %d queries", len(ts), queries)
	}
	return ts, failed
}

// runPlantedDemo runs the small demo (extra flags after the defaults) with
// plants into a new data directory and returns it, the run id and the
// number of failed queries the demo reported.
func runPlantedDemo(t *testing.T, queries int, extra []string, plants ...string) (data, runID string, failed int) {
	t.Helper()
	data = t.TempDir()
	args := []string{"demo", "--addr", "127.0.0.1:0", "--data", data, "--queries", strconv.Itoa(queries), "--workers", "3",
		"--interval", "1ms", "--packages", "strings,bytes,sort", "--llm-latency", "2ms", "--token-latency", "0"}
	args = append(args, extra...)
	for _, p := range plants {
		args = append(args, "--plant", p)
	}
	r := mustRun(t, nil, args...)
	m := demoRunLine.FindStringSubmatch(r.stdout)
	if m == nil || m[2] != strconv.Itoa(queries) {
		t.Fatalf("demo output lacks its run line:\n%s\n%s", r.stdout, r.stderr)
	}
	failed, _ = strconv.Atoi(m[3])
	return data, m[1], failed
}

// replayPlants parses plants as the demo does (so with the same seeds) and
// applies the injector of stage calls times, as the demo's calls of that
// stage would: the seeds fix the draws, whichever goroutine makes them.
func replayPlants(t *testing.T, stage spans.Stage, calls int, plants ...string) *faultinject.Injector {
	t.Helper()
	var p plantFlag
	for _, v := range plants {
		if err := p.Set(v); err != nil {
			t.Fatal(err)
		}
	}
	inj := p.faults[stage]
	for range calls {
		_ = inj.Apply(context.Background())
	}
	return inj
}

// faultChildren maps each span id of a trace to its fault child spans.
func faultChildren(tr *collector.Trace) map[spans.SpanID][]*spans.Span {
	out := map[spans.SpanID][]*spans.Span{}
	for i := range tr.Spans {
		if s := tr.Spans[i]; s.Name == faultinject.SpanName {
			out[s.ParentID] = append(out[s.ParentID], s)
		}
	}
	return out
}

func isInjected(s *spans.Span) bool {
	v, ok := s.Attr(faultinject.KeyInjected)
	return ok && v.AsBool()
}

// Two plants at once in the real demo: a tail (5% of rerank calls) and a
// latency on every embedding call. Exactly the calls the seeded plants
// delay carry the fault, in a child span marked injected.
func TestDemoPlantedTailAndEveryCall(t *testing.T) {
	const queries = 100
	const tail, every = 30 * time.Millisecond, 2 * time.Millisecond
	plants := []string{"rerank=latency:30ms@0.05", "embed=latency:2ms"}
	want := replayPlants(t, spans.StageRerank, queries, plants...).Delayed()
	// n·p = 5, σ ≈ 2.2: the seed's draw is a plausible 5% (and not 0, which
	// would make the test vacuous).
	if want < 1 || want > 15 {
		t.Fatalf("the seeded 5%% plant delays %d of %d calls", want, queries)
	}
	ts, failed := plantedDemo(t, queries, plants...)
	if failed != 0 {
		t.Fatalf("%d queries failed with latency plants only", failed)
	}
	var reranks, delayed, embeds int
	for _, tr := range ts {
		faults := faultChildren(tr)
		for i := range tr.Spans {
			s := tr.Spans[i]
			if s.Name == faultinject.SpanName {
				if !isInjected(s) || s.Status != spans.StatusOK {
					t.Fatalf("fault span %s: injected %v, status %v", s.Stage, isInjected(s), s.Status)
				}
				continue
			}
			lat, marked := s.Attr(spans.KeyFaultLatencyNanos)
			fs := faults[s.SpanID]
			switch s.Stage {
			case spans.StageRerank:
				reranks++
				if len(fs) == 0 {
					if marked {
						t.Fatal("a rerank span without a fault carries fault.latency_ns")
					}
					continue
				}
				delayed++
				if len(fs) != 1 || fs[0].Stage != spans.StageRerank || lat.AsInt64() != int64(tail) || fs[0].Duration() < tail || s.Duration() < tail {
					t.Fatalf("delayed rerank: %d fault spans, fault.latency_ns %d, %v", len(fs), lat.AsInt64(), s.Duration())
				}
			case spans.StageEmbed:
				embeds++
				if len(fs) != 1 || fs[0].Stage != spans.StageEmbed || lat.AsInt64() != int64(every) || fs[0].Duration() < every {
					t.Fatalf("embed span: %d fault spans, fault.latency_ns %d", len(fs), lat.AsInt64())
				}
			default:
				if marked || len(fs) > 0 {
					t.Fatalf("%s span %q carries a fault planted elsewhere", s.Stage, s.Name)
				}
			}
		}
	}
	if reranks != queries || embeds != queries || int64(delayed) != want {
		t.Fatalf("%d rerank spans (%d delayed, want %d), %d embed spans, for %d queries", reranks, delayed, want, embeds, queries)
	}
	t.Logf("%d of %d rerank calls delayed, every one of %d embeddings", delayed, reranks, embeds)
}

// An error-only plant: the seeded fraction of rerank calls fail, and with
// them their queries; each failed rerank span says the error was planted.
func TestDemoPlantedErrors(t *testing.T) {
	const queries = 50
	plants := []string{"rerank=errors:0.2"}
	_, want, _ := replayPlants(t, spans.StageRerank, queries, plants...).Stats()
	if want < 3 || want > 19 { // n·p = 10, σ ≈ 2.8
		t.Fatalf("the seeded 20%% plant fails %d of %d calls", want, queries)
	}
	ts, failed := plantedDemo(t, queries, plants...)
	if int64(failed) != want {
		t.Fatalf("demo reports %d failed queries, the plant fails %d", failed, want)
	}
	var failedTraces int
	for _, tr := range ts {
		faults := faultChildren(tr)
		var rerankFailed bool
		for i := range tr.Spans {
			s := tr.Spans[i]
			if s.Stage != spans.StageRerank || s.Name == faultinject.SpanName {
				continue
			}
			planted, _ := s.Attr(spans.KeyFaultError)
			fs := faults[s.SpanID]
			if s.Status != spans.StatusError {
				if planted.AsBool() || len(fs) > 0 {
					t.Fatal("a rerank span that did not fail carries a planted error")
				}
				continue
			}
			rerankFailed = true
			if !planted.AsBool() || len(fs) != 1 || fs[0].Status != spans.StatusError || !isInjected(fs[0]) {
				t.Fatalf("failed rerank: fault.error %v, %d fault spans", planted.AsBool(), len(fs))
			}
		}
		if tr.Summary.Status == spans.StatusError {
			failedTraces++
			if !rerankFailed {
				t.Fatal("a query failed without a failed rerank")
			}
		}
	}
	if int64(failedTraces) != want {
		t.Fatalf("%d failed traces, want %d", failedTraces, want)
	}
	t.Logf("%d of %d queries failed at rerank", failedTraces, queries)
}
