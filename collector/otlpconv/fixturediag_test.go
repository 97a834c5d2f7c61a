package otlpconv_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stagescope/stagescope/collector/analysis"
	"github.com/stagescope/stagescope/spans"
)

// fixtureDiagnosis is the diagnosis a recorded fixture must produce,
// written next to it (testdata/<dir>/diagnosis.json, with the reasons in
// its explanation) from the delays and failures its program set.
type fixtureDiagnosis struct {
	Traces int `json:"traces"`
	// Bottlenecks are the stages the program made slow, in the order their
	// latency findings must come; every other stage is no bottleneck.
	Bottlenecks []spans.Stage `json:"bottlenecks"`
	// FloorMs is the delay set in each stage that sets the floor: its
	// critical-path time in the median request.
	FloorMs        map[spans.Stage]float64 `json:"floor_ms"`
	FailedRequests int                     `json:"failed_requests"`
	FailingStage   spans.Stage             `json:"failing_stage"`
	Tokens         []struct {
		Stage      spans.Stage `json:"stage"`
		Model      string      `json:"model"`
		Prompt     int64       `json:"prompt_tokens"`
		Completion int64       `json:"completion_tokens"`
		Embedding  int64       `json:"embedding_tokens"`
	} `json:"tokens"`
	FlaggedTraces int `json:"flagged_traces"`
	// MissingRoot is how many requests lost their root span (their
	// instrumentation never ended it); each such set gets one "incomplete"
	// finding, the others none.
	MissingRoot int `json:"missing_root"`
}

// floorTolerance: a slept delay shows as up to a few per cent more or less
// (Node's timers run on a loop clock cached to the millisecond).
const floorTolerance = 0.1

// TestRecordedFixtureDiagnoses runs the bottleneck analysis over the traces
// real instrumentations recorded and checks it says what their programs
// did: the slowest step first, the floor, no bottleneck where nothing was
// slow, the failures where they began, the tokens.
func TestRecordedFixtureDiagnoses(t *testing.T) {
	for _, dir := range []string{"otel-js", "langchain", "vercel-ai", "langfuse", "traceloop"} {
		t.Run(dir, func(t *testing.T) {
			var want fixtureDiagnosis
			b, err := os.ReadFile(filepath.Join("testdata", dir, "diagnosis.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &want); err != nil {
				t.Fatal(err)
			}
			f, batch, _ := loadFixture(t, dir)
			byTrace := map[spans.TraceID][]*spans.Span{}
			var ids []spans.TraceID
			for i := range batch.Spans {
				s := &batch.Spans[i]
				if byTrace[s.TraceID] == nil {
					ids = append(ids, s.TraceID)
				}
				byTrace[s.TraceID] = append(byTrace[s.TraceID], s)
			}
			traces := make([]analysis.Trace, 0, len(ids))
			for _, id := range ids {
				traces = append(traces, analysis.Trace{Spans: byTrace[id]})
			}
			rep := analysis.Analyze(traces)
			if rep.Traces != want.Traces || rep.Traces != f.Traces || rep.Spans != f.Spans {
				t.Fatalf("%d traces, %d spans; want %d traces (expected.json: %d), %d spans", rep.Traces, rep.Spans, want.Traces, f.Traces, f.Spans)
			}
			checkBottlenecks(t, rep, want)
			checkErrors(t, rep, want)
			for _, w := range want.Tokens {
				found := false
				for _, c := range rep.Cost {
					if c.Stage == w.Stage && c.Model == w.Model {
						found = true
						if c.PromptTokens != w.Prompt || c.CompletionTokens != w.Completion || c.EmbeddingTokens != w.Embedding {
							t.Errorf("tokens of %s/%s: %d prompt, %d completion, %d embedding; want %d, %d, %d",
								w.Stage, w.Model, c.PromptTokens, c.CompletionTokens, c.EmbeddingTokens, w.Prompt, w.Completion, w.Embedding)
						}
					}
				}
				if !found {
					t.Errorf("no token figures for %s/%s in %+v", w.Stage, w.Model, rep.Cost)
				}
			}
			if len(rep.Cost) != len(want.Tokens) {
				t.Errorf("%d (stage, model) cost rows, want %d: %+v", len(rep.Cost), len(want.Tokens), rep.Cost)
			}
			if rep.Anomalies.Traces != want.FlaggedTraces {
				t.Errorf("%d traces with flagged spans (%+v), want %d", rep.Anomalies.Traces, rep.Anomalies.Anomalies, want.FlaggedTraces)
			}
			checkMissingRoot(t, rep, want)
		})
	}
}

// checkBottlenecks: the latency findings name the slow stages first, in
// order; those stages set the floor with about the delay the program set;
// no other stage is called a bottleneck — it is neither the first finding,
// nor above info severity, nor the floor, nor what drives the tail.
func checkBottlenecks(t *testing.T, rep *analysis.Report, want fixtureDiagnosis) {
	t.Helper()
	var latency []spans.Stage
	for _, f := range rep.Findings {
		if f.Kind == "latency" {
			latency = append(latency, f.Stage)
		}
		if f.Kind == "latency" && !slices.Contains(want.Bottlenecks, f.Stage) && f.Severity != "info" {
			t.Errorf("invented bottleneck: %s finding on %s: %s", f.Severity, f.Stage, f.Title)
		}
	}
	if len(latency) < len(want.Bottlenecks) || !slices.Equal(latency[:len(want.Bottlenecks)], want.Bottlenecks) {
		t.Errorf("latency findings %v, want %v first", latency, want.Bottlenecks)
	}
	for _, g := range rep.Gains {
		floorMs, isFloor := want.FloorMs[g.Stage]
		switch {
		case isFloor:
			if g.Role != "floor" && g.Role != "floor and tail" {
				t.Errorf("%s: role %q, want it to set the floor (%s)", g.Stage, g.Role, g.Summary)
			}
			if math.Abs(g.FloorMs-floorMs) > floorTolerance*floorMs {
				t.Errorf("%s: floor %.2f ms per request, want the %.0f ms its program set", g.Stage, g.FloorMs, floorMs)
			}
			// Taking it out saves at least most of its delay at the median
			// (in vercel-ai a little less: without the model calls the
			// median request becomes a faster kind of call).
			if g.Removed.P50GainMs < (1-floorTolerance)*floorMs {
				t.Errorf("%s removed: p50 gain %.2f ms, want about %.0f ms", g.Stage, g.Removed.P50GainMs, floorMs)
			}
		case g.Role == "floor" || g.Role == "floor and tail":
			t.Errorf("%s sets the floor (%s); only %v should", g.Stage, g.Summary, want.Bottlenecks)
		}
	}
	// The stage that grew most in the slowest requests must be a planted
	// one — unless the growth is jitter the report does not call a tail
	// (no stage has the tail role): with 20 requests the slow cohort is
	// one request, and a recording machine's hiccup decides which.
	for _, g := range rep.Gains {
		if (g.Role == "tail" || g.Role == "floor and tail") && !slices.Contains(want.Bottlenecks, g.Stage) {
			t.Errorf("%s drives the tail (%s); only %v should", g.Stage, g.Summary, want.Bottlenecks)
		}
	}
	if !slices.Contains(want.Bottlenecks, rep.Tail.Top) {
		for _, g := range rep.Gains {
			if g.Stage == rep.Tail.Top && g.Role != "" {
				t.Errorf("tail driven by %s (role %q), want one of %v", rep.Tail.Top, g.Role, want.Bottlenecks)
			}
		}
	}
}

// checkMissingRoot: requests whose root span never arrived are counted,
// named in one finding that says their outcome is unknown, and no other set
// gets that finding.
func checkMissingRoot(t *testing.T, rep *analysis.Report, want fixtureDiagnosis) {
	t.Helper()
	an := rep.Anomalies
	if an.MissingRoot != want.MissingRoot || len(an.MissingRootExemplars) != want.MissingRoot {
		t.Errorf("%d requests without a root span (exemplars %v), want %d", an.MissingRoot, an.MissingRootExemplars, want.MissingRoot)
	}
	var found []analysis.Finding
	for _, f := range rep.Findings {
		if f.Kind == "incomplete" {
			found = append(found, f)
		}
	}
	if want.MissingRoot == 0 {
		if len(found) != 0 {
			t.Errorf("incomplete findings %+v, want none", found)
		}
		return
	}
	share := float64(want.MissingRoot) / float64(want.Traces)
	if len(found) != 1 || found[0].Share != share || found[0].Severity != "warning" || len(found[0].Exemplars) != want.MissingRoot {
		t.Fatalf("incomplete findings %+v, want one warning with share %v", found, share)
	}
}

// checkErrors: the failed requests are counted and charged to the stage
// where they began; the ancestors that failed with it fail no request of
// their own; an error finding names the stage.
func checkErrors(t *testing.T, rep *analysis.Report, want fixtureDiagnosis) {
	t.Helper()
	e := rep.Errors
	if e.FailedTraces != want.FailedRequests {
		t.Errorf("%d failed requests, want %d", e.FailedTraces, want.FailedRequests)
	}
	if wantRate := float64(want.FailedRequests) / float64(want.Traces); math.Abs(e.FailureRate-wantRate) > 5e-5 {
		t.Errorf("failure rate %v, want %v (rounded to 4 digits)", e.FailureRate, wantRate)
	}
	if want.FailedRequests == 0 {
		if len(e.Stages) != 0 || e.TracesWithErrors != 0 {
			t.Errorf("error stages %+v (%d traces with errors), want none", e.Stages, e.TracesWithErrors)
		}
		for _, f := range rep.Findings {
			if f.Kind == "error" {
				t.Errorf("error finding %+v, want none", f)
			}
		}
		return
	}
	if len(e.Stages) == 0 || e.Stages[0].Stage != want.FailingStage {
		t.Fatalf("error stages %+v, want %s first", e.Stages, want.FailingStage)
	}
	for _, s := range e.Stages {
		wantFailed := 0
		if s.Stage == want.FailingStage {
			wantFailed = want.FailedRequests
		}
		if s.FailedRequests != wantFailed {
			t.Errorf("%s failed %d requests, want %d", s.Stage, s.FailedRequests, wantFailed)
		}
	}
	if len(e.Exemplars) != want.FailedRequests {
		t.Errorf("%d failed-request exemplars, want %d", len(e.Exemplars), want.FailedRequests)
	}
	var errFindings []spans.Stage
	for _, f := range rep.Findings {
		if f.Kind == "error" {
			errFindings = append(errFindings, f.Stage)
		}
	}
	if !slices.Equal(errFindings, []spans.Stage{want.FailingStage}) {
		t.Errorf("error findings on %v, want one on %s", errFindings, want.FailingStage)
	}
}
