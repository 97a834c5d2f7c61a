package analysis

import (
	"github.com/stagescope/stagescope/collector/tracetree"
	"github.com/stagescope/stagescope/spans"
)

var numStages = len(spans.AllStages())

// traceResult is what Analyze keeps of one trace after walking it.
type traceResult struct {
	id  spans.TraceID
	e2e int64
	// w is how many traces of the sampled window this one stands for (1
	// unless WithSample says the sample was drawn unevenly).
	w float64
	// attr and self are numStages-long windows into a shared backing
	// array: critical-path time by charged stage, and summed self time by
	// span stage.
	attr, self []int64
	// preWait is the queue wait of a root span that is a pool job: time the
	// request waited for a worker before its trace began.
	preWait int64
	// failed is set when the request failed (see ErrorStats).
	failed bool
}

// stageAcc gathers one stage's spans.
type stageAcc struct {
	totals, selfs []int64
	// weights holds each span's trace weight, parallel to totals and
	// selfs, when the traces are weighted (nil otherwise).
	weights []float64
	selfSum int64
	// perTrace is, per trace with the stage, the stage's self time summed
	// over the trace's spans (injected ones included): the request's cost;
	// perTraceW their weights when weighted.
	perTrace  []int64
	perTraceW []float64
	// injected counts the spans planted faults ran in (fault.injected),
	// injSelfs their self times: kept out of totals and selfs.
	injected int
	injSelfs []int64
	// busySum is, summed over traces (weighted), the time within the
	// trace's end-to-end interval during which a span of the stage ran its
	// own code (the union of the spans' self intervals).
	busySum float64
	errors  int
	traces  int
}

// accumulator folds traces one by one into the raw material of a Report.
type accumulator struct {
	cfg     *config
	tree    *tree
	walker  pathWalker
	results []traceResult
	backing []int64
	spans   int
	stages  []stageAcc
	pools   map[string]*poolAcc
	retries map[string]*retryAcc
	cost    map[costKey]*costAcc
	hints   hints
	tokens  []tokenSum // per node of the current trace
	seen    []bool     // per stage, for the current trace
	// busy holds, per stage, the self intervals of the current trace when
	// it has more than one span of the stage; firstOf and firstSelf are the
	// first span of each stage and its self time.
	busy      [][]tracetree.Interval
	firstOf   []int32
	firstSelf []int64
	// anomalies counts flagged spans; anomalous the traces with any, and
	// anomalyExemplars the first of them.
	anomalies        tracetree.Anomalies
	anomalous        int
	anomalyExemplars []spans.TraceID
	// missingW weighs the traces whose root never arrived, missingEx the
	// first of them.
	missingW  float64
	missingEx []spans.TraceID
	errs      errorAcc
	// curW is the weight of the trace being added; weighted is set once a
	// trace weighs other than 1.
	curW       float64
	weighted   bool
	stream     streamAcc
	jobTimings []jobTiming // scratch for the current pool run
}

func newAccumulator(cfg *config, sizeHint int) *accumulator {
	a := &accumulator{
		cfg:       cfg,
		tree:      newTree(),
		results:   make([]traceResult, 0, sizeHint),
		backing:   make([]int64, 0, sizeHint*2*numStages),
		stages:    make([]stageAcc, numStages),
		pools:     map[string]*poolAcc{},
		retries:   map[string]*retryAcc{},
		cost:      map[costKey]*costAcc{},
		seen:      make([]bool, numStages),
		busy:      make([][]tracetree.Interval, numStages),
		firstOf:   make([]int32, numStages),
		firstSelf: make([]int64, numStages),
	}
	a.walker.tree = a.tree
	a.walker.visit = a.visitPath
	a.errs.okE2E = make([]int64, 0, sizeHint) // most requests succeed
	return a
}

// add analyses one trace.
func (a *accumulator) add(t Trace) {
	tr := a.tree
	if !tr.build(t) {
		return
	}
	off := len(a.backing)
	a.backing = append(a.backing, make([]int64, 2*numStages)...)
	r := traceResult{id: t.ID()}
	r.attr = a.backing[off : off+numStages : off+numStages]
	r.self = a.backing[off+numStages : off+2*numStages : off+2*numStages]
	root := &tr.nodes[tr.root]
	r.e2e = root.end - root.start
	r.w = a.cfg.weight(r.e2e)
	a.curW = r.w
	if r.w != 1 {
		a.weighted = true
	}
	r.preWait = root.waitOutside

	if an := tr.tt.Anomalies; an.Any() {
		a.anomalies.Add(an)
		a.anomalous++
		if len(a.anomalyExemplars) < a.cfg.maxExemplars {
			a.anomalyExemplars = append(a.anomalyExemplars, r.id)
		}
		if an.MissingRoot > 0 {
			a.missingW += r.w
			if len(a.missingEx) < a.cfg.maxExemplars {
				a.missingEx = append(a.missingEx, r.id)
			}
		}
	}

	clear(a.seen)
	for _, v := range tr.order {
		n := &tr.nodes[v]
		if n.span == nil {
			continue
		}
		a.spans++
		st := &a.stages[n.stage]
		var self int64
		if !a.seen[n.stage] {
			a.seen[n.stage] = true
			st.traces++
			self = tr.selfTime(v)
			a.firstOf[n.stage], a.firstSelf[n.stage] = v, self
		} else {
			if len(a.busy[n.stage]) == 0 { // the stage's second span: both need a union
				a.busy[n.stage], _ = tr.tt.SelfIntervals(a.firstOf[n.stage], a.busy[n.stage])
			}
			a.busy[n.stage], self = tr.tt.SelfIntervals(v, a.busy[n.stage])
		}
		r.self[n.stage] += self
		if iv, ok := n.span.Attr(spans.KeyFaultInjected); ok && iv.Kind() == spans.KindBool && iv.AsBool() {
			// A planted fault's span: its time is the request's cost, not
			// a span of the stage's own code.
			st.injected++
			st.injSelfs = append(st.injSelfs, self)
			a.hints.observe(tr, v)
			continue
		}
		st.totals = append(st.totals, n.end-n.start)
		st.selfs = append(st.selfs, self)
		if a.cfg.sample != nil {
			st.weights = append(st.weights, r.w)
		}
		st.selfSum += self
		if n.span.Status == spans.StatusError || n.span.Status == spans.StatusDropped {
			st.errors++
		}
		a.hints.observe(tr, v)
	}
	// Busy time: the union of each stage's self intervals within the
	// request; a stage with one span inside the root is simply its self
	// time.
	for st, seen := range a.seen {
		if !seen {
			continue
		}
		acc := &a.stages[st]
		acc.perTrace = append(acc.perTrace, r.self[st])
		if a.cfg.sample != nil {
			acc.perTraceW = append(acc.perTraceW, r.w)
		}
		ivals := a.busy[st]
		if len(ivals) == 0 {
			if f := &tr.nodes[a.firstOf[st]]; f.start >= root.start && f.end <= root.end {
				a.stages[st].busySum += r.w * float64(a.firstSelf[st])
				continue
			}
			ivals, _ = tr.tt.SelfIntervals(a.firstOf[st], ivals)
		}
		for i := range ivals { // only time within the request counts
			ivals[i].Start, ivals[i].End = max(ivals[i].Start, root.start), min(ivals[i].End, root.end)
		}
		a.stages[st].busySum += r.w * float64(tracetree.UnionLength(ivals))
		a.busy[st] = ivals[:0]
	}
	a.addTokens(r.id)
	a.addPools()
	a.addRetries()
	a.addErrors(&r)

	a.walker.attr = r.attr
	a.walker.walk(tr.root, root.start, root.end, interval{}, false)
	a.addStreams(len(a.results))
	a.results = append(a.results, r)
}

// Analyze computes the bottleneck report of traces.
func Analyze(traces []Trace, opts ...Option) *Report {
	cfg := newConfig(opts)
	a := newAccumulator(cfg, len(traces))
	for _, t := range traces {
		a.add(t)
	}
	return a.report()
}
