package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/stagescope/stagescope/engine/faultinject"
	"github.com/stagescope/stagescope/spans"
)

// plantFlag collects --plant flags into a fault plan (grammar:
// faultinject.SpecSyntax). The n-th plant is seeded with n, so a command
// line plants the same faults on every run.
type plantFlag struct {
	faults faultinject.Plan
	specs  map[spans.Stage]string
	seed   int64
}

const plantHelp = "plant a fault: `stage=spec`, repeatable, one per stage.\n" +
	"stage: embed, retrieve, rerank, synth, llm, storage or pool (pool: every job of a worker pool inside a query\n" +
	"holds its worker for the latency; storage: every vector-store query).\n" +
	"spec: comma-separated items latency:DIST[@P] (a fraction P of calls, default 1, get the latency) and\n" +
	"errors:RATE (a fraction RATE of calls fail; model calls are retried); DIST is DUR, lognormal:MEDIAN or\n" +
	"uniform:LO-HI. Planted spans carry fault.latency_ns and fault.error; the fault itself is a \"fault\" child\n" +
	"span with fault.injected=true.\n" +
	"e.g. --plant rerank=latency:500ms@0.05 --plant llm=latency:lognormal:40ms,errors:0.1"

func (p *plantFlag) String() string {
	if p == nil || len(p.specs) == 0 {
		return ""
	}
	stages := make([]spans.Stage, 0, len(p.specs))
	for s := range p.specs {
		stages = append(stages, s)
	}
	slices.Sort(stages)
	out := make([]string, len(stages))
	for i, s := range stages {
		out[i] = s.String() + "=" + p.specs[s]
	}
	return strings.Join(out, " ")
}

func (p *plantFlag) Set(v string) error {
	stage, inj, err := faultinject.ParsePlant(v, p.seed+1)
	if err != nil {
		return err
	}
	if prev, ok := p.specs[stage]; ok {
		return fmt.Errorf("plant %q: %s is planted already (%s); put both items in one plant, comma-separated", v, stage, prev)
	}
	p.seed++
	if p.faults == nil {
		p.faults, p.specs = faultinject.Plan{}, map[spans.Stage]string{}
	}
	p.faults[stage] = inj
	_, spec, _ := strings.Cut(v, "=")
	p.specs[stage] = strings.TrimSpace(spec)
	return nil
}
