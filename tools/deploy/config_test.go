package deploy_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stagescope/stagescope/spans"
	"github.com/stagescope/stagescope/spans/semconv"
	"github.com/stagescope/stagescope/tools/deploy"
)

// connectorDimensions returns the dimension names of one connector block
// of collector.yaml (from its header to the next line indented as little).
func connectorDimensions(t *testing.T, header string) []string {
	t.Helper()
	i := strings.Index(deploy.CollectorConfig, "\n  "+header)
	if i < 0 {
		t.Fatalf("collector.yaml has no connector %q", header)
	}
	block := deploy.CollectorConfig[i+1:]
	if end := regexp.MustCompile(`\n(  \S|\S)`).FindStringIndex(block); end != nil {
		block = block[:end[0]]
	}
	var out []string
	for _, m := range regexp.MustCompile(`(?m)^\s+- name: (\S+)$`).FindAllStringSubmatch(block, -1) {
		out = append(out, m[1])
	}
	return out
}

// TestDimensionsKeepWhatDecidesAStage checks that the spanmetrics
// dimensions are every attribute semconv reads for a span's stage and
// failure, and the run: what collector/prom needs to map a series as OTLP
// ingest maps a span.
func TestDimensionsKeepWhatDecidesAStage(t *testing.T) {
	want := append(append(semconv.StageKeys(), semconv.FailureKeys()...), spans.KeyRunID)
	got := connectorDimensions(t, "spanmetrics: &stage_metrics")
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("spanmetrics dimensions %v, want %v", got, want)
	}
	roots := connectorDimensions(t, "spanmetrics/roots:")
	wantRoots := append(semconv.FailureKeys(), spans.KeyRunID)
	slices.Sort(roots)
	slices.Sort(wantRoots)
	if !slices.Equal(roots, wantRoots) {
		t.Errorf("spanmetrics/roots dimensions %v, want %v", roots, wantRoots)
	}
}
