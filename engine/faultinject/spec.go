package faultinject

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stagescope/stagescope/spans"
)

// SpecSyntax is the grammar of a plant, as ParsePlant reads it:
//
//	STAGE=ITEM[,ITEM]
//	ITEM  latency:DIST[@P]   add a latency to a fraction P of calls (default 1)
//	      errors:RATE        fail a fraction RATE of calls
//	DIST  DUR | lognormal:MEDIAN | uniform:LO-HI
//
// DUR, MEDIAN, LO and HI are Go durations (500ms, 1.5s); P and RATE are
// probabilities in [0, 1], drawn per call and independently of each other.
// Each kind appears at most once. A log-normal latency has sigma
// LogNormalSigma.
const SpecSyntax = "STAGE=ITEM[,ITEM] with ITEM latency:DIST[@P] or errors:RATE, DIST DUR, lognormal:MEDIAN or uniform:LO-HI"

// LogNormalSigma is the spread of planted log-normal latencies: p95 is
// about 2.3× the median, a realistic tail.
const LogNormalSigma = 0.5

// ParsePlant parses one plant, e.g. "rerank=latency:500ms@0.05" or
// "llm=latency:lognormal:40ms,errors:0.1", into its stage and an injector
// seeded with seed. The stage must be one of Stages.
func ParsePlant(s string, seed int64) (spans.Stage, *Injector, error) {
	name, spec, ok := strings.Cut(s, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return spans.StageOther, nil, fmt.Errorf("plant %q is not STAGE=SPEC (%s)", s, SpecSyntax)
	}
	stage, err := spans.ParseStage(name)
	if err != nil || !slices.Contains(Stages, stage) {
		return spans.StageOther, nil, fmt.Errorf("plant %q: cannot plant faults in stage %q (%s)", s, name, stageNames())
	}
	opts, err := parseSpec(spec)
	if err != nil {
		return spans.StageOther, nil, fmt.Errorf("plant %q: %w", s, err)
	}
	return stage, New(append(opts, WithSeed(seed))...), nil
}

func stageNames() string {
	names := make([]string, len(Stages))
	for i, s := range Stages {
		names[i] = s.String()
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

func parseSpec(spec string) ([]Option, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, errors.New("empty fault spec (want latency:DIST[@P] or errors:RATE)")
	}
	var opts []Option
	seen := map[string]bool{}
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		kind, arg, _ := strings.Cut(item, ":")
		if seen[kind] {
			return nil, fmt.Errorf("%s given twice", kind)
		}
		seen[kind] = true
		switch kind {
		case "latency":
			dist, p, hasP := strings.Cut(arg, "@")
			d, err := parseDistribution(dist)
			if err != nil {
				return nil, err
			}
			opts = append(opts, WithLatency(d))
			if hasP {
				r, err := parseProbability(p)
				if err != nil {
					return nil, fmt.Errorf("latency: %w", err)
				}
				opts = append(opts, WithLatencyRate(r))
			}
		case "errors":
			if _, _, ok := strings.Cut(arg, "@"); ok {
				return nil, fmt.Errorf("errors:%s: the rate is the probability already (errors:RATE, no @P)", arg)
			}
			r, err := parseProbability(arg)
			if err != nil {
				return nil, fmt.Errorf("error rate: %w", err)
			}
			opts = append(opts, WithErrorRate(r))
		case "":
			return nil, fmt.Errorf("empty item in %q", spec)
		default:
			return nil, fmt.Errorf("unknown fault %q (latency:DIST[@P] or errors:RATE)", kind)
		}
	}
	return opts, nil
}

func parseProbability(s string) (float64, error) {
	p, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || !(p >= 0 && p <= 1) { // also rejects NaN
		return 0, fmt.Errorf("probability %q is not a number between 0 and 1", s)
	}
	return p, nil
}

func parseDistribution(s string) (Distribution, error) {
	kind, arg, ok := strings.Cut(s, ":")
	if !ok {
		d, err := parseDuration(s)
		if err != nil {
			return nil, fmt.Errorf("latency: %w", err)
		}
		return Constant(d), nil
	}
	switch kind {
	case "lognormal":
		d, err := parseDuration(arg)
		if err != nil || d == 0 {
			return nil, fmt.Errorf("lognormal median %q is not a positive duration", arg)
		}
		return LogNormal(d, LogNormalSigma), nil
	case "uniform":
		lo, hi, ok := strings.Cut(arg, "-")
		a, err1 := parseDuration(lo)
		b, err2 := parseDuration(hi)
		if !ok || err1 != nil || err2 != nil || b < a {
			return nil, fmt.Errorf("uniform range %q is not LO-HI with LO ≤ HI", arg)
		}
		return Uniform(a, b), nil
	}
	return nil, fmt.Errorf("unknown latency distribution %q (DUR, lognormal:MEDIAN or uniform:LO-HI)", kind)
}

func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration (e.g. 500ms)", s)
	}
	return d, nil
}
