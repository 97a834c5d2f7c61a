package analysis

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/stagescope/stagescope/spans"
	quantiles "github.com/stagescope/stagescope/spans/quantile"
)

// Role thresholds: what makes a stage the floor or the tail.
const (
	// floorShare: a stage sets the floor when its critical-path time in
	// the median request is at least this share of the median latency.
	floorShare = 0.2
	// tailShare: a stage drives the tail when it explains at least this
	// share of the growth between the slow cohort and the rest.
	tailShare = 0.3
	// tailMaterial: and only when that growth is material — the stage's own
	// part of it at least this share of the median latency. A window
	// whose slowest requests are slower only by the jitter of a busy
	// machine has no stage driving a tail.
	tailMaterial = 0.1
)

// Prediction is the end-to-end latency predicted after a change, and what
// it gains against now (positive: faster).
type Prediction struct {
	P50        time.Duration `json:"p50_ns"`
	P50Ms      float64       `json:"p50_ms"`
	P95        time.Duration `json:"p95_ns"`
	P95Ms      float64       `json:"p95_ms"`
	Mean       time.Duration `json:"mean_ns"`
	MeanMs     float64       `json:"mean_ms"`
	P50Gain    time.Duration `json:"p50_gain_ns"`
	P50GainMs  float64       `json:"p50_gain_ms"`
	P95Gain    time.Duration `json:"p95_gain_ns"`
	P95GainMs  float64       `json:"p95_gain_ms"`
	MeanGain   time.Duration `json:"mean_gain_ns"`
	MeanGainMs float64       `json:"mean_gain_ms"`
	// TailMean is the mean latency of the requests at or above the slow
	// quantile (the p95 and beyond). The p95 alone cannot see a delay that
	// hits fewer requests than the 5% above it; the tail mean can, so
	// stages are ranked by TailMeanGain.
	TailMean       time.Duration `json:"tail_mean_ns"`
	TailMeanMs     float64       `json:"tail_mean_ms"`
	TailMeanGain   time.Duration `json:"tail_mean_gain_ns"`
	TailMeanGainMs float64       `json:"tail_mean_gain_ms"`
}

// StageGain is what the user would gain by changing one stage, predicted by
// replaying every trace's critical path with the time charged to the stage
// divided by Factor (Faster) or taken out (Removed). The replay keeps each
// path's shape, so it is an upper bound: a concurrent branch may become
// critical once the stage shrinks.
//
// It also says what kind of cost the stage is. The floor is time the stage
// adds to every request: FloorPerTrace is its path time in the median
// request (weighted median over all requests, those without the stage
// counting 0) and FloorShare that over the median latency. The tail is
// variance: TailDelta is how much more path time the stage takes in the
// slow cohort than in the rest and TailShare its share of the cohorts'
// growth (TailStage.ShareOfGap). Role names what the stage is: "floor",
// "tail", "floor and tail" or "" (neither).
type StageGain struct {
	Stage         spans.Stage   `json:"stage"`
	Factor        float64       `json:"factor"`
	Faster        Prediction    `json:"faster"`
	Removed       Prediction    `json:"removed"`
	FloorPerTrace time.Duration `json:"floor_per_trace_ns"`
	FloorMs       float64       `json:"floor_per_trace_ms"`
	FloorShare    float64       `json:"floor_share"`
	TailDelta     time.Duration `json:"tail_delta_ns"`
	TailDeltaMs   float64       `json:"tail_delta_ms"`
	TailShare     float64       `json:"tail_share"`
	Role          string        `json:"role"`
	// Summary says it in a sentence, with the numbers.
	Summary string `json:"summary"`
}

// replayer replays the critical paths of all traces with one stage's
// charged time scaled. A request's latency is its end-to-end time plus, for
// a pool job that is a trace root, the wait before its trace began (charged
// to the pool), as the findings' shares count it.
type replayer struct {
	a   *accumulator
	q   float64 // the slow quantile
	lat []int64
	w   []float64
	now Prediction // the latency as it is (gains 0)
}

func newReplayer(a *accumulator, c *cohort) *replayer {
	r := &replayer{a: a, q: a.cfg.slowQuantile, lat: make([]int64, len(a.results))}
	if c.e2eW != nil {
		r.w = make([]float64, len(a.results))
	}
	r.now = r.replay(spans.StageOther, 1, Prediction{})
	return r
}

// predict replays every trace with stage st's charged path time divided by
// factor (+Inf: removed) and compares with now.
func (r *replayer) predict(st spans.Stage, factor float64) Prediction {
	return r.replay(st, factor, r.now)
}

func (r *replayer) replay(st spans.Stage, factor float64, now Prediction) Prediction {
	cut := 1.0
	if !math.IsInf(factor, 1) {
		cut = 1 - 1/factor
	}
	var sum, total float64
	for i, res := range r.a.results {
		d := res.attr[st]
		if st == spans.StagePool {
			d += res.preWait
		}
		r.lat[i] = res.e2e + res.preWait - int64(float64(d)*cut)
		if r.w != nil {
			r.w[i] = res.w
		}
		sum += res.w * float64(r.lat[i])
		total += res.w
	}
	sortWeighted(r.lat, r.w)
	p50, p95 := wquantile(r.lat, r.w, 0.50), wquantile(r.lat, r.w, 0.95)
	// The tail mean: the mean of the requests at or above the slow
	// quantile (the slow cohort of the replayed latencies).
	var tsum, tw float64
	from := quantiles.Rank(len(r.lat), r.q) - 1
	if r.w != nil {
		from = quantiles.Index(r.w, r.q)
	}
	for i := max(from, 0); i < len(r.lat); i++ {
		wi := 1.0
		if r.w != nil {
			wi = r.w[i]
		}
		tsum += wi * float64(r.lat[i])
		tw += wi
	}
	p := Prediction{P50: time.Duration(p50), P95: time.Duration(p95), Mean: time.Duration(ratio(sum, total)), TailMean: time.Duration(ratio(tsum, tw))}
	p.P50Gain, p.P95Gain, p.MeanGain, p.TailMeanGain = now.P50-p.P50, now.P95-p.P95, now.Mean-p.Mean, now.TailMean-p.TailMean
	if now == (Prediction{}) {
		p.P50Gain, p.P95Gain, p.MeanGain, p.TailMeanGain = 0, 0, 0, 0
	}
	p.P50Ms, p.P95Ms, p.MeanMs, p.TailMeanMs = ms(p.P50), ms(p.P95), ms(p.Mean), ms(p.TailMean)
	p.P50GainMs, p.P95GainMs, p.MeanGainMs, p.TailMeanGainMs = ms(p.P50Gain), ms(p.P95Gain), ms(p.MeanGain), ms(p.TailMeanGain)
	return p
}

// gains predicts, for every stage on the critical path, the gain of making
// it DefaultWhatIfFactor× faster and of removing it, and names the floor
// and the tail; the stage whose speed-up gains the p95 most comes first.
func (a *accumulator) gains(c *cohort, tail TailAttribution) []StageGain {
	out := []StageGain{}
	if len(a.results) == 0 {
		return out
	}
	rp := newReplayer(a, c)
	p50Now := rp.now.P50
	sums := make([]float64, numStages)
	for _, r := range a.results {
		for st, d := range r.attr {
			sums[st] += r.w * float64(d)
		}
	}
	tailOf := map[spans.Stage]TailStage{}
	for _, t := range tail.Stages {
		tailOf[t.Stage] = t
	}
	path := make([]int64, len(a.results))
	var pw []float64
	if c.e2eW != nil {
		pw = make([]float64, len(a.results))
	}
	for _, r := range a.results {
		sums[spans.StagePool] += r.w * float64(r.preWait)
	}
	for st, sum := range sums {
		if sum <= 0 {
			continue
		}
		stage := spans.Stage(st)
		g := StageGain{Stage: stage, Factor: DefaultWhatIfFactor,
			Faster: rp.predict(stage, DefaultWhatIfFactor), Removed: rp.predict(stage, math.Inf(1))}
		for i, r := range a.results {
			path[i] = r.attr[st]
			if pw != nil {
				pw[i] = r.w
			}
		}
		sortWeighted(path, pw)
		floor := wquantile(path, pw, 0.50)
		g.FloorPerTrace, g.FloorMs = time.Duration(floor), ms(floor)
		g.FloorShare = round4(min(ratio(float64(floor), float64(p50Now)), 1))
		if t, ok := tailOf[stage]; ok {
			g.TailDelta, g.TailDeltaMs, g.TailShare = t.Delta, t.DeltaMs, t.ShareOfGap
		}
		isFloor := g.FloorShare >= floorShare
		isTail := g.TailDelta > 0 && g.TailShare >= tailShare && float64(g.TailDelta) >= tailMaterial*float64(p50Now)
		switch {
		case isFloor && isTail:
			g.Role = "floor and tail"
		case isFloor:
			g.Role = "floor"
		case isTail:
			g.Role = "tail"
		}
		g.Summary = gainSummary(g, rp.now, tail.Gap, a.cfg.slowQuantile)
		out = append(out, g)
	}
	slices.SortStableFunc(out, func(x, y StageGain) int {
		switch {
		case x.Faster.TailMeanGain != y.Faster.TailMeanGain:
			if x.Faster.TailMeanGain > y.Faster.TailMeanGain {
				return -1
			}
			return 1
		case x.Faster.P95Gain != y.Faster.P95Gain:
			if x.Faster.P95Gain > y.Faster.P95Gain {
				return -1
			}
			return 1
		}
		return int(x.Stage) - int(y.Stage)
	})
	return out
}

// gainSummary says in a sentence what a stage costs and what changing it
// would gain.
func gainSummary(g StageGain, now Prediction, gap time.Duration, q float64) string {
	p50 := now.P50
	var role string
	switch g.Role {
	case "floor and tail":
		role = fmt.Sprintf("%s sets the floor and drives the tail: %s on the median request's critical path (%.0f%% of the %s p50), and %s more in slow requests than in the rest (%.0f%% of the growth behind the %s gap). ",
			g.Stage, dur(g.FloorPerTrace), 100*g.FloorShare, dur(p50), dur(g.TailDelta), 100*g.TailShare, dur(gap))
	case "floor":
		role = fmt.Sprintf("%s sets the floor: it costs %s on the median request's critical path (%.0f%% of the %s p50). ",
			g.Stage, dur(g.FloorPerTrace), 100*g.FloorShare, dur(p50))
	case "tail":
		role = fmt.Sprintf("%s drives the tail: it takes %s more in slow requests than in the rest (%.0f%% of the growth behind the %s gap). ",
			g.Stage, dur(g.TailDelta), 100*g.TailShare, dur(gap))
	}
	return role + fmt.Sprintf("%g× faster: p95 %s → %s, the slowest %.0f%% %s → %s on average, p50 %s → %s; without it: p95 %s.",
		g.Factor, dur(now.P95), dur(g.Faster.P95), 100*(1-q), dur(now.TailMean), dur(g.Faster.TailMean),
		dur(p50), dur(g.Faster.P50), dur(g.Removed.P95))
}
