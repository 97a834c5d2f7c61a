package faultinject

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stagescope/stagescope/spans"
)

func TestParsePlant(t *testing.T) {
	ln := LogNormal(40*time.Millisecond, LogNormalSigma)
	cases := []struct {
		in          string
		stage       spans.Stage
		latency     Distribution // nil: none
		latencyRate float64
		errorRate   float64
	}{
		{in: "rerank=latency:500ms@0.05", stage: spans.StageRerank, latency: Constant(500 * time.Millisecond), latencyRate: 0.05},
		{in: "rerank=latency:80ms", stage: spans.StageRerank, latency: Constant(80 * time.Millisecond), latencyRate: 1},
		{in: "retrieve=latency:lognormal:40ms", stage: spans.StageRetrieve, latency: ln, latencyRate: 1},
		{in: "synth=latency:uniform:10ms-90ms@1", stage: spans.StageSynth, latency: Uniform(10*time.Millisecond, 90*time.Millisecond), latencyRate: 1},
		{in: "llm=errors:0.1", stage: spans.StageLLM, latencyRate: 1, errorRate: 0.1},
		{in: "llm=latency:50ms@0,errors:1", stage: spans.StageLLM, latency: Constant(50 * time.Millisecond), errorRate: 1},
		{in: " embed = latency:1ms @ 0.5 , errors: 0.25 ", stage: spans.StageEmbed, latency: Constant(time.Millisecond), latencyRate: 0.5, errorRate: 0.25},
		{in: "storage=latency:0s", stage: spans.StageStorage, latency: Constant(0), latencyRate: 1},
		{in: "pool=latency:20ms@0.5", stage: spans.StagePool, latency: Constant(20 * time.Millisecond), latencyRate: 0.5},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			stage, inj, err := ParsePlant(c.in, 1)
			if err != nil {
				t.Fatal(err)
			}
			if stage != c.stage || inj.latency != c.latency || inj.latencyRate != c.latencyRate || inj.rate != c.errorRate {
				t.Fatalf("got stage %s latency %#v@%v errors %v", stage, inj.latency, inj.latencyRate, inj.rate)
			}
		})
	}
}

func TestParsePlantRejects(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", "is not STAGE=SPEC"},
		{"rerank", "is not STAGE=SPEC"},
		{"=latency:1ms", "is not STAGE=SPEC"},
		{"rerank=", "empty fault spec"},
		{"rerank=  ", "empty fault spec"},
		{"bogus=latency:1ms", `cannot plant faults in stage "bogus" (embed, retrieve, rerank, synth, llm, storage or pool)`},
		{"query=latency:1ms", `cannot plant faults in stage "query"`},
		{"retry=errors:0.1", `cannot plant faults in stage "retry"`},
		{"rerank=latency:soon", `"soon" is not a duration`},
		{"rerank=latency:-5ms", `"-5ms" is not a duration`},
		{"rerank=latency:", `"" is not a duration`},
		{"rerank=latency:5ms@1.5", `probability "1.5" is not a number between 0 and 1`},
		{"rerank=latency:5ms@-0.1", `probability "-0.1"`},
		{"rerank=latency:5ms@NaN", `probability "NaN"`},
		{"rerank=latency:5ms@", `probability ""`},
		{"rerank=latency:5ms@5%", `probability "5%"`},
		{"llm=errors:2", `error rate: probability "2"`},
		{"llm=errors:often", `probability "often"`},
		{"llm=errors:0.1@0.5", "no @P"},
		{"rerank=latency:lognormal:0s", "lognormal median"},
		{"rerank=latency:uniform:9ms-1ms", "uniform range"},
		{"rerank=latency:uniform:9ms", "uniform range"},
		{"rerank=latency:gamma:9ms", `unknown latency distribution "gamma"`},
		{"rerank=slow:5ms", `unknown fault "slow"`},
		{"rerank=latency:1ms,", "empty item"},
		{"rerank=latency:1ms,latency:2ms", "latency given twice"},
		{"rerank=errors:0.1,errors:0.2", "errors given twice"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			_, inj, err := ParsePlant(c.in, 1)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("ParsePlant(%q) = %v, %v; want an error containing %q", c.in, inj, err, c.want)
			}
			if c.in != "" && !strings.Contains(err.Error(), c.in) {
				t.Fatalf("error %q does not quote the plant", err)
			}
		})
	}
}

// The seed makes a parsed plant reproducible: same seed, same calls delayed.
func TestParsePlantSeed(t *testing.T) {
	draws := func(seed int64) []bool {
		_, inj, err := ParsePlant("rerank=latency:1ns@0.3,errors:0.2", seed)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]bool, 400)
		for k := range out {
			d, fail := inj.draw()
			out[k] = d > 0 || fail
		}
		return out
	}
	a, b, c := draws(4), draws(4), draws(5)
	if !slices.Equal(a, b) || slices.Equal(a, c) {
		t.Fatal("the seed does not fix the draws")
	}
}
