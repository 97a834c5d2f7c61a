package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/stagescope/stagescope/collector/analysis"
	"github.com/stagescope/stagescope/spans"
)

// The README's planted-bottleneck command, run as written (the whole
// standard library indexed, the demo's model latency and workers), makes
// `stagescope report` name the planted stage first, as the README's
// screenshot shows: it drives the tail, while the model call sets the floor.
// Only where the data goes, how many queries and the pause between batches
// are added.
func TestReadmePlantedHeadlineIsReproduced(t *testing.T) {
	args, planted := readmePlant(t)
	data := t.TempDir()
	runID := runReadmeDemo(t, data, args)
	out := mustRun(t, nil, "report", "--data", data, "--run", runID, "--json")
	var rep analysis.Report
	if err := json.Unmarshal([]byte(out.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Traces != 120 || len(rep.Findings) == 0 {
		t.Fatalf("report of %d traces, %d findings", rep.Traces, len(rep.Findings))
	}
	first := rep.Findings[0]
	if first.Stage != planted || first.Kind != "latency" || first.TailGain <= 0 {
		var got []string
		for _, f := range rep.Findings {
			got = append(got, f.Kind+"/"+f.Stage.String()+" "+f.Title)
		}
		t.Fatalf("first finding %s/%s, want latency/%s; findings:\n%s", first.Kind, first.Stage, planted, strings.Join(got, "\n"))
	}
	if rep.Gains[0].Stage != planted || !strings.Contains(rep.Gains[0].Role, "tail") || rep.Tail.Top != planted {
		t.Errorf("gains %+v, tail top %s", rep.Gains[0], rep.Tail.Top)
	}
	// The model call costs every request the same: the floor.
	for _, g := range rep.Gains {
		if g.Stage == spans.StageLLM && !strings.Contains(g.Role, "floor") {
			t.Errorf("llm is not the floor: %+v", g)
		}
	}
	t.Logf("first finding: %s — %s", first.Title, first.Detail)
}

// readmePlant returns the arguments of the README's planted-bottleneck
// command (`go run ./cmd/stagescope demo --plant STAGE=SPEC`) and the stage
// it plants.
func readmePlant(t *testing.T) ([]string, spans.Stage) {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const prefix = "go run ./cmd/stagescope demo "
	var args []string
	for line := range strings.Lines(string(readme)) {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), prefix); ok && strings.Contains(rest, "--plant") {
			args = strings.Fields(rest)
			break
		}
	}
	if len(args) != 2 || args[0] != "--plant" {
		t.Fatalf("README has no `%s--plant STAGE=SPEC` command (found %q)", prefix, args)
	}
	stageName, _, _ := strings.Cut(args[1], "=")
	planted, err := spans.ParseStage(stageName)
	if err != nil {
		t.Fatalf("README plants an unknown stage: %v", err)
	}
	return args, planted
}

// runReadmeDemo runs the README's demo command with args as written, adding
// only where the data goes, how many queries (120) and the pause between
// batches, and returns its run id.
func runReadmeDemo(t *testing.T, data string, args []string) string {
	t.Helper()
	return runDemoCmd(t, nil, append([]string{"demo", "--addr", "127.0.0.1:0", "--data", data, "--queries", "120", "--interval", "5ms"}, args...))
}
