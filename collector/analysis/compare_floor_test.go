package analysis

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stagescope/stagescope/spans"
)

// stageTrace is retrieve 10 ms, then st for d (to the nanosecond), then llm
// 20 ms, under a query span.
func stageTrace(st spans.Stage, d time.Duration) Trace {
	b := newTrace()
	q := b.span(nil, "query", spans.StageQuery, 0, 30)
	b.span(q, "retrieve", spans.StageRetrieve, 0, 10)
	s := b.span(q, string(st), st, 10, 10)
	s.End = s.Start.Add(d)
	l := b.span(q, "llm", spans.StageLLM, 10, 30)
	l.Start, l.End = s.End, s.End.Add(20*time.Millisecond)
	q.End = l.End
	return b.trace()
}

// stageSide makes n traces whose st span takes base + (i mod 5) × step.
func stageSide(st spans.Stage, n int, base, step time.Duration) []Trace {
	out := make([]Trace, n)
	for i := range out {
		out[i] = stageTrace(st, base+time.Duration(i%5)*step)
	}
	return out
}

func deltaOf(t *testing.T, c *Comparison, st spans.Stage) StageDelta {
	t.Helper()
	for _, d := range c.Stages {
		if d.Stage == st {
			return d
		}
	}
	t.Fatalf("no delta for %s in %+v", st, c.Stages)
	return StageDelta{}
}

func TestCompareNineMicrosecondsIsNotARegression(t *testing.T) {
	// rerank goes from 10.0–10.4 µs to 19.0–19.4 µs: perfectly separated,
	// so as significant as 40 against 40 can be, but 9 µs is below the
	// 1 ms floor.
	base := stageSide(spans.StageRerank, 40, 10*time.Microsecond, 100)
	cand := stageSide(spans.StageRerank, 40, 19*time.Microsecond, 100)
	c := Compare(base, cand)
	if c.MinEffect != time.Millisecond || c.MinEffectMs != 1 || c.RegressionThreshold != 0.1 {
		t.Fatalf("criteria: min effect %v, threshold %v", c.MinEffect, c.RegressionThreshold)
	}
	d := deltaOf(t, c, spans.StageRerank)
	// Sorted, each value 8 times: the 20th of 40 is 10.2 µs; the 38th 10.4.
	if d.BaselineP50 != 10200 || d.CandidateP50 != 19200 || d.BaselineP95 != 10400 || d.CandidateP95 != 19400 ||
		d.BaselineMean != 10200 || d.Delta != 9000 || d.DeltaMs != 0.009 {
		t.Fatalf("rerank figures = %+v", d)
	}
	if !d.Significant || d.Test.P >= 1e-10 || d.Effect != 9000 || d.EffectFloor != time.Millisecond || d.Regressed || d.Improved {
		t.Fatalf("rerank verdict = %+v", d)
	}
	// A relative change of a near-zero baseline is not given; the absolute
	// one is.
	if d.Change != 0 || d.ChangeText != "+9µs" {
		t.Fatalf("change %v %q, want 0 and +9µs", d.Change, d.ChangeText)
	}
	if len(c.Regressions) != 0 || len(c.Findings) != 0 || c.E2E.Regressed || c.E2E.Delta != 9000 || c.E2E.ChangeText != "+0%" || deltaOf(t, c, spans.StageLLM).ChangeText != "0" {
		t.Fatalf("regressions %v findings %+v e2e %+v", c.Regressions, c.Findings, c.E2E)
	}
	// The typical traces sit at each side's median, 10.2 and 19.2 µs: the
	// third trace of each (i mod 5 = 2).
	if d.Exemplars == nil || d.Exemplars.Baseline != base[2].ID() || d.Exemplars.Candidate != cand[2].ID() {
		t.Fatalf("exemplars %+v", d.Exemplars)
	}
	var buf bytes.Buffer
	if err := c.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"max(10% of the baseline, 1ms)", "rerank", "10µs", "19µs", "+9µs", "below floor", "No stage regressed."} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "regressed  ") || strings.Contains(out, "revert") {
		t.Errorf("text calls 9 µs a regression:\n%s", out)
	}
}

func TestCompareRegressionWithConfigDiffAndExemplars(t *testing.T) {
	base := stageSide(spans.StageRerank, 40, 8*time.Millisecond, 100*time.Microsecond)
	cand := stageSide(spans.StageRerank, 40, 12*time.Millisecond, 100*time.Microsecond)
	c := Compare(base, cand, WithRunConfigs(
		[]byte(`{"top_n":5,"rerank":{"model":"small","batch":[1,2]},"note":null}`),
		[]byte(`{"top_n":5.0,"rerank":{"model":"large","batch":[1,2,3]},"seed":3,"note":null}`)))
	d := deltaOf(t, c, spans.StageRerank)
	// p50 8.2 → 12.2 ms: 4 ms against a floor of max(10 % × 8.2, 1) ms.
	if !d.Regressed || d.Effect != 4*time.Millisecond || d.EffectFloor != time.Millisecond || d.Change != 0.4878 || d.ChangeText != "+49%" {
		t.Fatalf("rerank = %+v", d)
	}
	if !c.ConfigCompared || len(c.ConfigDiff) != 3 {
		t.Fatalf("config diff %+v", c.ConfigDiff)
	}
	want := []ConfigChange{{Key: "rerank.batch[2]", Candidate: "3"}, {Key: "rerank.model", Baseline: `"small"`, Candidate: `"large"`}, {Key: "seed", Candidate: "3"}}
	for i, w := range want {
		if c.ConfigDiff[i] != w {
			t.Errorf("diff[%d] = %+v, want %+v", i, c.ConfigDiff[i], w)
		}
	}
	if len(c.Regressions) != 1 || c.Regressions[0] != spans.StageRerank || len(c.Findings) != 1 {
		t.Fatalf("regressions %v findings %d", c.Regressions, len(c.Findings))
	}
	f := c.Findings[0]
	if f.Score != 4*time.Millisecond || f.Title != "rerank regressed by +4ms self time per trace at the p50 (mean +49%)" ||
		!strings.Contains(f.Recommendation, `rerank.model: "small" → "large"`) || !strings.Contains(f.Recommendation, "seed: (absent) → 3") ||
		!strings.Contains(f.Detail, "baseline "+base[2].ID().String()+", candidate "+cand[2].ID().String()) {
		t.Fatalf("finding = %+v", f)
	}
	var buf bytes.Buffer
	if err := c.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Settings that differ (baseline → candidate):", `  rerank.model: "small" → "large"`, "  rerank.batch[2]: (absent) → 3",
		"rerank: baseline " + base[2].ID().String() + ", candidate " + cand[2].ID().String(), "1. [", "regressed"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, buf.String())
		}
	}

	// The other way round it is an improvement, and the runs' identical
	// settings are said to be identical.
	back := Compare(cand, base, WithRunConfigs([]byte(`{"a":1}`), []byte(`{"a":1}`)))
	if d := deltaOf(t, back, spans.StageRerank); !d.Improved || d.Regressed || d.Effect != -4*time.Millisecond || d.ChangeText != "-33%" {
		t.Fatalf("reverse = %+v", d)
	}
	if len(back.Regressions) != 0 || !back.ConfigCompared || len(back.ConfigDiff) != 0 {
		t.Fatalf("reverse: regressions %v, config %v %v", back.Regressions, back.ConfigCompared, back.ConfigDiff)
	}
	if bad := Compare(base, cand, WithRunConfigs([]byte(`{"a":`), nil)); bad.ConfigCompared || !strings.Contains(bad.ConfigError, "baseline config") {
		t.Fatalf("broken config: %v %q", bad.ConfigCompared, bad.ConfigError)
	}
}

func TestCompareFromNearZeroShowsTheAbsoluteChange(t *testing.T) {
	// storage goes from 5 µs to 6.65 ms: +132900 % relative, which says
	// nothing; the change is given as +6.65ms, and it is a regression.
	base := stageSide(spans.StageStorage, 30, 5*time.Microsecond, 0)
	cand := stageSide(spans.StageStorage, 30, 6650*time.Microsecond, 0)
	c := Compare(base, cand)
	d := deltaOf(t, c, spans.StageStorage)
	if d.Change != 0 || d.ChangeText != "+6.65ms" || !d.Regressed || d.Effect != 6645*time.Microsecond {
		t.Fatalf("storage = %+v", d)
	}
	if f := c.Findings[0]; f.Title != "storage regressed by +6.65ms self time per trace at the p50 (mean +6.65ms)" {
		t.Fatalf("title %q", f.Title)
	}
}

func TestDiffConfigsFlattens(t *testing.T) {
	diff, err := DiffConfigs([]byte(`{"llm":{"model":"a","params":{"t":0.2}},"tags":[],"k":[{"x":1}]}`),
		[]byte(`{"llm":{"model":"a","params":{"t":0.7}},"tags":["x"],"k":[{"x":1}],"empty":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range diff {
		got = append(got, d.String())
	}
	if strings.Join(got, " | ") != `empty: (absent) → {} | llm.params.t: 0.2 → 0.7 | tags: [] → (absent) | tags[0]: (absent) → "x"` {
		t.Fatalf("diff = %q", got)
	}
	if d, err := DiffConfigs(nil, []byte(" ")); err != nil || len(d) != 0 {
		t.Fatalf("empty configs: %v %v", d, err)
	}
	if _, err := DiffConfigs([]byte(`{} {}`), nil); err == nil {
		t.Fatal("two documents accepted")
	}
}
