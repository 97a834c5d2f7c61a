package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stagescope/stagescope/collector/analysis"
	"github.com/stagescope/stagescope/spans"
)

// plantedReport runs the small demo with plants and returns what
// `stagescope report --run ID --json` says about its run, and the number of
// queries the demo reported failed.
func plantedReport(t *testing.T, queries int, extra []string, plants ...string) (*analysis.Report, int) {
	t.Helper()
	data, runID, failed := runPlantedDemo(t, queries, extra, plants...)
	out := mustRun(t, nil, "report", "--data", data, "--run", runID, "--json")
	var rep analysis.Report
	if err := json.Unmarshal([]byte(out.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Traces != queries {
		t.Fatalf("report of %d traces for %d queries", rep.Traces, queries)
	}
	return &rep, failed
}

// describe lists a report's findings and gains, for failure messages.
func describe(rep *analysis.Report) string {
	var b strings.Builder
	for i, f := range rep.Findings {
		fmt.Fprintf(&b, "%d. %s %s/%s tail gain %.1fms p95 gain %.1fms role %q: %s\n", i+1, f.Severity, f.Kind, f.Stage, f.TailGainMs, f.P95GainMs, f.Role, f.Title)
	}
	for _, g := range rep.Gains {
		fmt.Fprintf(&b, "gain %s role %q: faster p50 %.1fms p95 %.1fms slow %.1fms; removed p50 %.1fms; tail share %.2f delta %.1fms; floor %.1fms (%.2f)\n",
			g.Stage, g.Role, g.Faster.P50GainMs, g.Faster.P95GainMs, g.Faster.TailMeanGainMs, g.Removed.P50GainMs, g.TailShare, g.TailDeltaMs, g.FloorMs, g.FloorShare)
	}
	return b.String()
}

// stageStats returns the report's figures of one stage.
func stageStats(rep *analysis.Report, st spans.Stage) analysis.StageStats {
	for _, s := range rep.Stages {
		if s.Stage == st {
			return s
		}
	}
	return analysis.StageStats{Stage: st}
}

// gainOf returns the report's predicted gains of one stage.
func gainOf(rep *analysis.Report, st spans.Stage) analysis.StageGain {
	for _, g := range rep.Gains {
		if g.Stage == st {
			return g
		}
	}
	return analysis.StageGain{Stage: st}
}

// latencyStages lists the stages of the latency, pool and retry findings,
// in the report's order.
func latencyStages(rep *analysis.Report) []spans.Stage {
	var out []spans.Stage
	for _, f := range rep.Findings {
		if f.Kind == "latency" || f.Kind == "pool" || f.Kind == "retry" {
			out = append(out, f.Stage)
		}
	}
	return out
}

// stageDelay is planted on every call of one stage: far above what the demo
// takes anywhere else (a 2 ms model) and above the scheduling stalls of a
// loaded 2-core machine.
const stageDelay = 100 * time.Millisecond

// A constant delay planted in any one stage, through the real demo and
// `stagescope report`: that stage is the first finding and the first
// predicted gain, it sets the floor with the planted delay, and the gains
// predicted for making it 2× faster or taking it out are about half the
// delay and the delay.
func TestDemoReportNamesEveryPlantedStage(t *testing.T) {
	const queries = 20
	delayMs := float64(stageDelay) / float64(time.Millisecond)
	for _, st := range []spans.Stage{spans.StageEmbed, spans.StageRetrieve, spans.StageRerank, spans.StageSynth,
		spans.StageLLM, spans.StageStorage, spans.StagePool} {
		t.Run(st.String(), func(t *testing.T) {
			rep, failed := plantedReport(t, queries, nil, st.String()+"=latency:"+stageDelay.String())
			if failed != 0 || rep.Errors.FailedTraces != 0 {
				t.Fatalf("%d queries failed (report: %d) with a latency plant", failed, rep.Errors.FailedTraces)
			}
			if len(rep.Findings) == 0 || len(rep.Gains) == 0 {
				t.Fatalf("no findings or gains:\n%s", describe(rep))
			}
			first := rep.Findings[0]
			// Named as a latency of the stage whose time is a planted fault
			// (not, for the pool, as waiting for a worker).
			wantKind := first.Kind == "latency" && strings.Contains(first.Recommendation, "planted fault (attribute fault.injected)")
			if first.Stage != st || !wantKind {
				t.Fatalf("first finding %s/%s (%s), want %s:\n%s", first.Kind, first.Stage, first.Recommendation, st, describe(rep))
			}
			g := rep.Gains[0]
			if g.Stage != st || !strings.Contains(g.Role, "floor") {
				t.Fatalf("first gain %s (role %q), want %s setting the floor:\n%s", g.Stage, g.Role, st, describe(rep))
			}
			// Every request pays the delay at least once on its path; the
			// predictions replay the paths, so they give it back.
			if g.FloorMs < 0.95*delayMs || g.Removed.P50GainMs < 0.95*delayMs || g.Removed.P95GainMs < 0.95*delayMs {
				t.Errorf("floor %.1fms, removed p50 gain %.1fms, p95 gain %.1fms; want ≥ the %.0fms planted", g.FloorMs, g.Removed.P50GainMs, g.Removed.P95GainMs, delayMs)
			}
			if g.Faster.P50GainMs < 0.45*delayMs || first.TailGainMs < 0.45*delayMs || first.P95GainMs < 0.45*delayMs {
				t.Errorf("2× faster: p50 gain %.1fms, slow-request gain %.1fms, p95 gain %.1fms; want about half the %.0fms planted",
					g.Faster.P50GainMs, first.TailGainMs, first.P95GainMs, delayMs)
			}
			if ss := stageStats(rep, st); ss.Injected < queries {
				t.Errorf("%d injected %s spans, want one per query at least (%d)", ss.Injected, st, queries)
			}
			if first.Severity != "critical" {
				t.Errorf("first finding is %s, want critical: %s", first.Severity, first.Title)
			}
		})
	}
}

// An error-only plant: 20% of rerank calls fail (no retries around rerank),
// and so do their queries. The report counts exactly the failures the seeded
// plant draws, charges them to rerank, and its first finding says so; no
// latency bottleneck is made of it.
func TestDemoReportNamesPlantedErrors(t *testing.T) {
	const queries = 50
	plants := []string{"rerank=errors:0.2"}
	_, want, _ := replayPlants(t, spans.StageRerank, queries, plants...).Stats()
	if want < 3 || want > 19 { // n·p = 10, σ ≈ 2.8
		t.Fatalf("the seeded 20%% plant fails %d of %d calls", want, queries)
	}
	// A model latency, as real pipelines have, so that rerank's own CPU
	// time (swollen on a loaded machine) is not most of a request.
	rep, failed := plantedReport(t, queries, []string{"--llm-latency", "30ms"}, plants...)
	e := rep.Errors
	if int64(failed) != want || int64(e.FailedTraces) != want || e.FailureRate != float64(want)/queries {
		t.Fatalf("demo: %d failed, report: %d failed (rate %v); the plant fails %d of %d", failed, e.FailedTraces, e.FailureRate, want, queries)
	}
	if len(e.Stages) == 0 || e.Stages[0].Stage != spans.StageRerank || int64(e.Stages[0].FailedRequests) != want || int64(e.Stages[0].Injected) != want {
		t.Fatalf("error stages %+v, want rerank failing %d requests, all planted", e.Stages, want)
	}
	first := rep.Findings[0]
	title := fmt.Sprintf("rerank failures failed %d of %d requests (%.1f%%)", want, queries, 100*float64(want)/queries)
	if first.Kind != "error" || first.Stage != spans.StageRerank || first.Severity != "critical" || first.Title != title || len(first.Exemplars) == 0 {
		t.Fatalf("first finding %s %s/%s %q, want critical error/rerank %q:\n%s", first.Severity, first.Kind, first.Stage, first.Title, title, describe(rep))
	}
	for _, f := range rep.Findings {
		if f.Stage == spans.StageRerank && f.Kind != "error" && f.Severity != "info" {
			t.Errorf("the error plant made a %s %s finding on rerank: %s", f.Severity, f.Kind, f.Title)
		}
	}
}

// A tail-only plant: 300 ms on 5% of rerank calls. The median request does
// not pay it, so rerank does not set the floor; the slowest requests do, so
// rerank drives the tail and leads by the slow-request gain.
func TestDemoReportNamesPlantedTail(t *testing.T) {
	const queries = 60
	// A delay large against what CPU contention does to the other stages
	// of a loaded machine under the race detector (100 ms and more).
	plants := []string{"rerank=latency:1s@0.05"}
	want := replayPlants(t, spans.StageRerank, queries, plants...).Delayed()
	if want < 1 || want > 10 { // n·p = 3
		t.Fatalf("the seeded 5%% plant delays %d of %d calls", want, queries)
	}
	rep, _ := plantedReport(t, queries, nil, plants...)
	if got := stageStats(rep, spans.StageRerank).Injected; int64(got) != want {
		t.Fatalf("%d injected rerank spans, the plant delays %d", got, want)
	}
	first := rep.Findings[0]
	if first.Kind != "latency" || first.Stage != spans.StageRerank || first.Role != "tail" {
		t.Fatalf("first finding %s/%s role %q, want latency/rerank driving the tail:\n%s", first.Kind, first.Stage, first.Role, describe(rep))
	}
	g := gainOf(rep, spans.StageRerank)
	if rep.Gains[0].Stage != spans.StageRerank || rep.Tail.Top != spans.StageRerank || g.TailShare < 0.75 {
		t.Fatalf("first gain %s, tail top %s, rerank's share of the tail growth %.2f:\n%s", rep.Gains[0].Stage, rep.Tail.Top, g.TailShare, describe(rep))
	}
	// The slow cohort is the traces ≥ p95 (3 of 60); those the plant hit
	// gain 500 ms each from a 2× faster rerank.
	slow := rep.Tail.SlowTraces
	hit := min(int(want), slow)
	if wantGain := 500 * float64(hit) / float64(slow); first.TailGainMs < 0.9*wantGain {
		t.Errorf("slow-request gain %.1fms, want about %.0fms (%d of the %d slow requests delayed)", first.TailGainMs, wantGain, hit, slow)
	}
	for _, f := range rep.Findings[1:] {
		if f.TailGain*3 > first.TailGain {
			t.Errorf("%s/%s gains the slow requests %.1fms, rerank %.1fms: the planted tail should lead by far", f.Kind, f.Stage, f.TailGainMs, first.TailGainMs)
		}
	}
	if g.FloorMs > 5 || g.Faster.P50GainMs > 5 {
		t.Errorf("rerank floor %.1fms, p50 gain %.1fms: 95%% of requests do not pay the plant", g.FloorMs, g.Faster.P50GainMs)
	}
}

// Two plants at once, 150 ms in rerank and 60 ms in embed on every call:
// both are named, as the first two findings, the larger first, each setting
// the floor with its delay.
func TestDemoReportNamesTwoPlants(t *testing.T) {
	rep, _ := plantedReport(t, 20, nil, "rerank=latency:150ms", "embed=latency:60ms")
	got := latencyStages(rep)
	if len(got) < 2 || got[0] != spans.StageRerank || got[1] != spans.StageEmbed {
		t.Fatalf("latency findings %v, want rerank then embed first:\n%s", got, describe(rep))
	}
	if rep.Findings[0].TailGain <= rep.Findings[1].TailGain {
		t.Errorf("rerank gains the slow requests %.1fms, embed %.1fms", rep.Findings[0].TailGainMs, rep.Findings[1].TailGainMs)
	}
	for st, ms := range map[spans.Stage]float64{spans.StageRerank: 150, spans.StageEmbed: 60} {
		g := gainOf(rep, st)
		if !strings.Contains(g.Role, "floor") || g.FloorMs < 0.95*ms || g.Removed.P50GainMs < 0.95*ms {
			t.Errorf("%s: role %q, floor %.1fms, removed p50 gain %.1fms; want the floor at the %.0fms planted", st, g.Role, g.FloorMs, g.Removed.P50GainMs, ms)
		}
	}
}

// No plant at all. The demo's model then waits --llm-latency (30 ms here)
// per call: the one cost set on purpose. The report must not invent a
// bottleneck, which here means precisely:
//
//   - no request failed and there is no error finding;
//   - the first finding is llm, which sets the floor with the model's
//     latency;
//   - no other stage has a finding of warning or critical severity (≥ 20%
//     of the slow requests' latency), a floor or tail role, or a predicted
//     slow-request gain above 10% of the slow requests' mean latency.
//
// One worker answers the queries, so that they do not compete for the CPU
// and stall one another into a tail of their own.
func TestDemoReportInventsNoBottleneck(t *testing.T) {
	rep, failed := plantedReport(t, 80, []string{"--llm-latency", "30ms", "--workers", "1"})
	if failed != 0 || rep.Errors.FailedTraces != 0 {
		t.Fatalf("%d queries failed (report: %d) without a plant", failed, rep.Errors.FailedTraces)
	}
	first := rep.Findings[0]
	if first.Kind != "latency" || first.Stage != spans.StageLLM || !strings.Contains(first.Role, "floor") {
		t.Fatalf("first finding %s/%s role %q, want llm setting the floor:\n%s", first.Kind, first.Stage, first.Role, describe(rep))
	}
	if g := gainOf(rep, spans.StageLLM); g.FloorMs < 28.5 {
		t.Errorf("llm floor %.1fms, want the 30ms model latency", g.FloorMs)
	}
	slowMean := rep.Tail.SlowMeanMs
	for _, f := range rep.Findings {
		if f.Kind == "error" {
			t.Errorf("error finding without a plant: %s", f.Title)
		}
		if f.Stage != spans.StageLLM && (f.Severity != "info" || f.TailGainMs > 0.1*slowMean) {
			t.Errorf("invented bottleneck: %s %s/%s, slow-request gain %.1fms of %.1fms: %s", f.Severity, f.Kind, f.Stage, f.TailGainMs, slowMean, f.Title)
		}
	}
	for _, g := range rep.Gains {
		if g.Stage != spans.StageLLM && g.Role != "" {
			t.Errorf("invented bottleneck: %s has the role %q: %s", g.Stage, g.Role, g.Summary)
		}
	}
}
