package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/stagescope/stagescope/engine/faultinject"
	"github.com/stagescope/stagescope/spans"
)

// plantFlag collects --plant stage=spec flags into fault injectors.
//
//	rerank=latency:80ms               constant extra latency
//	retrieve=latency:lognormal:40ms   log-normal, median 40ms (sigma 0.5)
//	synth=latency:uniform:10ms-90ms   uniform between the two
//	llm=errors:0.2                    20 % of model calls fail (and are retried)
//	llm=latency:50ms,errors:0.1       both
type plantFlag struct {
	faults map[spans.Stage]*faultinject.Injector
	seed   int64
}

const plantHelp = "plant a bottleneck: `stage=spec` with stage retrieve, rerank, synth or llm and spec " +
	"latency:DUR, latency:lognormal:MEDIAN, latency:uniform:LO-HI, errors:RATE, comma-separated; repeatable " +
	"(e.g. --plant rerank=latency:80ms --plant llm=errors:0.2)"

func (p *plantFlag) String() string {
	if p == nil || len(p.faults) == 0 {
		return ""
	}
	var names []string
	for s := range p.faults {
		names = append(names, s.String())
	}
	return strings.Join(names, ",")
}

func (p *plantFlag) Set(v string) error {
	name, spec, ok := strings.Cut(v, "=")
	if !ok || spec == "" {
		return fmt.Errorf("%q is not stage=spec", v)
	}
	stage, err := spans.ParseStage(strings.TrimSpace(name))
	if err != nil {
		return err
	}
	switch stage {
	case spans.StageRetrieve, spans.StageRerank, spans.StageSynth, spans.StageLLM:
	default:
		return fmt.Errorf("cannot plant faults in stage %s (retrieve, rerank, synth or llm)", stage)
	}
	p.seed++
	opts := []faultinject.Option{faultinject.WithSeed(p.seed)}
	for _, item := range strings.Split(spec, ",") {
		kind, arg, _ := strings.Cut(strings.TrimSpace(item), ":")
		switch kind {
		case "latency":
			d, err := parseDistribution(arg)
			if err != nil {
				return fmt.Errorf("%s: %w", v, err)
			}
			opts = append(opts, faultinject.WithLatency(d))
		case "errors":
			r, err := strconv.ParseFloat(arg, 64)
			if err != nil || r < 0 || r > 1 {
				return fmt.Errorf("%s: error rate %q is not between 0 and 1", v, arg)
			}
			opts = append(opts, faultinject.WithErrorRate(r))
		default:
			return fmt.Errorf("%s: unknown fault %q (latency or errors)", v, kind)
		}
	}
	if p.faults == nil {
		p.faults = map[spans.Stage]*faultinject.Injector{}
	}
	p.faults[stage] = faultinject.New(opts...)
	return nil
}

// lognormalSigma is the spread of planted log-normal latencies: p95 is
// about 2.3× the median, a realistic tail.
const lognormalSigma = 0.5

func parseDistribution(s string) (faultinject.Distribution, error) {
	kind, arg, ok := strings.Cut(s, ":")
	if !ok {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("latency %q is not a duration", s)
		}
		return faultinject.Constant(d), nil
	}
	switch kind {
	case "lognormal":
		d, err := time.ParseDuration(arg)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("median %q is not a positive duration", arg)
		}
		return faultinject.LogNormal(d, lognormalSigma), nil
	case "uniform":
		lo, hi, _ := strings.Cut(arg, "-")
		a, err1 := time.ParseDuration(lo)
		b, err2 := time.ParseDuration(hi)
		if err1 != nil || err2 != nil || a < 0 || b < a {
			return nil, fmt.Errorf("uniform range %q is not LO-HI", arg)
		}
		return faultinject.Uniform(a, b), nil
	}
	return nil, fmt.Errorf("unknown latency distribution %q (lognormal or uniform)", kind)
}
