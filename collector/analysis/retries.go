package analysis

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stagescope/stagescope/spans"
)

// retryAcc gathers one operation. Counts and totals are of the analysed
// traces; the rates and means per call are weighted by the trace weights
// (WithSample), as the give-up curve is.
type retryAcc struct {
	stage                        spans.Stage
	calls, attempts, maxAttempts int
	failed, gaveUp               int
	failedTime, backoff          int64
	tokensLost                   int64
	costLost                     float64
	// the weighted calls, attempts, failed attempts and time lost
	callsW, attemptsW, failedW, lostW float64
	// needs holds, per trace with calls of the op, the most attempts one
	// of them needed to succeed, or 0 when one gave up; needW the trace's
	// weight.
	needs []int
	needW []float64
	// need is the current trace's, seen whether the op appeared in it.
	need int
	seen bool
}

func isAttempt(s *spans.Span) bool {
	_, ok := s.Attr(spans.KeyRetryAttempt)
	return ok
}

// isRetryCall reports whether node v is a logical call with retries.
func (a *accumulator) isRetryCall(v int32) bool {
	s := a.tree.nodes[v].span
	if s == nil || isAttempt(s) {
		return false
	}
	if _, ok := s.Attr(spans.KeyRetryOp); ok {
		return true
	}
	if _, ok := s.Attr(spans.KeyRetryAttempts); ok {
		return true
	}
	if s.Stage != spans.StageRetry {
		return false
	}
	for _, c := range a.tree.children(v) {
		if cs := a.tree.nodes[c].span; cs != nil && isAttempt(cs) {
			return true
		}
	}
	return false
}

// addRetries gathers the retried calls of the current trace; addTokens must
// have run.
func (a *accumulator) addRetries() {
	tr := a.tree
	defer func() {
		for _, acc := range a.retries {
			if acc.seen {
				acc.needs = append(acc.needs, acc.need)
				acc.needW = append(acc.needW, a.curW)
				acc.seen, acc.need = false, 0
			}
		}
	}()
	for _, v := range tr.order {
		if !a.isRetryCall(v) {
			continue
		}
		n := &tr.nodes[v]
		s := n.span
		op := s.Name
		if o, ok := s.Attr(spans.KeyRetryOp); ok && o.AsString() != "" {
			op = o.AsString()
		}
		acc := a.retries[op]
		if acc == nil {
			acc = &retryAcc{stage: spans.StageRetry}
			a.retries[op] = acc
		}
		var attempts, failed int
		var failedTime int64
		allFailed := true
		for _, c := range tr.children(v) {
			cn := &tr.nodes[c]
			if cn.span == nil || !isAttempt(cn.span) {
				continue
			}
			if attempts == 0 {
				acc.stage = a.workStage(c, acc.stage)
			}
			attempts++
			if cn.failed {
				failed++
				failedTime += cn.end - cn.start
				acc.tokensLost += a.tokens[c].tokens
				acc.costLost += a.tokens[c].usd
			} else {
				allFailed = false
			}
		}
		gaveUp := false
		if g, ok := s.Attr(spans.KeyRetryGaveUp); ok {
			gaveUp = g.AsBool()
		} else {
			gaveUp = attempts > 0 && allFailed
		}
		if attempts == 0 {
			// No attempt spans: trust the logical span's counters.
			attempts = max(int(intAttr(s, spans.KeyRetryAttempts)), 1)
			failed = attempts - 1
			if gaveUp {
				failed++
			}
		}
		backoff := intAttr(s, spans.KeyRetryBackoffNanos)
		if _, ok := s.Attr(spans.KeyRetryBackoffNanos); !ok && attempts > 1 {
			backoff = tr.selfTime(v)
		}
		acc.calls++
		acc.attempts += attempts
		acc.maxAttempts = max(acc.maxAttempts, attempts)
		acc.failed += failed
		acc.failedTime += failedTime
		acc.backoff += max(backoff, 0)
		w := a.curW
		acc.callsW += w
		acc.attemptsW += w * float64(attempts)
		acc.failedW += w * float64(failed)
		acc.lostW += w * float64(failedTime+max(backoff, 0))
		if gaveUp {
			acc.gaveUp++
		}
		switch {
		case !acc.seen:
			acc.seen, acc.need = true, attempts
			if gaveUp {
				acc.need = 0
			}
		case gaveUp:
			acc.need = 0
		case acc.need > 0:
			acc.need = max(acc.need, attempts)
		}
	}
}

// workStage is the stage of the work an attempt span performs: its own
// stage unless that is retry, else its first child's.
func (a *accumulator) workStage(attempt int32, fallback spans.Stage) spans.Stage {
	n := &a.tree.nodes[attempt]
	if n.stage != spans.StageRetry {
		return n.stage
	}
	for _, c := range a.tree.children(attempt) {
		if st := a.tree.nodes[c].stage; st != spans.StageRetry {
			return st
		}
	}
	return fallback
}

// retryStats finishes the retry table, most time lost first.
func (a *accumulator) retryStats(totalW float64) []RetryStats {
	out := make([]RetryStats, 0, len(a.retries))
	for op, r := range a.retries {
		lost := r.failedTime + r.backoff
		s := RetryStats{
			Op: op, Stage: r.stage, Calls: r.calls, Attempts: r.attempts,
			AttemptsPerCall:    round4(ratio(r.attemptsW, r.callsW)),
			FailedAttemptShare: round4(ratio(r.failedW, r.attemptsW)),
			MaxAttempts:        r.maxAttempts, FailedAttempts: r.failed, GaveUp: r.gaveUp,
			FailedTime: time.Duration(r.failedTime), FailedTimeMs: ms(r.failedTime),
			Backoff: time.Duration(r.backoff), BackoffMs: ms(r.backoff),
			Lost: time.Duration(lost), LostMs: ms(lost),
			TokensLost: r.tokensLost, CostLostUSD: roundUSD(r.costLost),
		}
		if r.calls > 0 {
			s.LostPerCall = time.Duration(ratio(r.lostW, r.callsW))
			s.LostPerCallMs = ms(s.LostPerCall)
		}
		s.Caps = giveUpCurve(r.needs, r.needW, totalW, r.maxAttempts)
		s.GiveUpRate = s.Caps[len(s.Caps)-1].GiveUpRate
		s.RecommendedCap, s.Recommendation = recommendRetries(s)
		out = append(out, s)
	}
	slices.SortFunc(out, func(x, y RetryStats) int {
		if x.Lost != y.Lost {
			if x.Lost > y.Lost {
				return -1
			}
			return 1
		}
		return strings.Compare(x.Op, y.Op)
	})
	return out
}

// giveUpTolerance is how much the share of requests giving up may grow
// (in absolute terms) for a lower attempt cap to be recommended.
const giveUpTolerance = 0.005

// RetryCap is the predicted effect of capping an operation's attempts.
type RetryCap struct {
	Cap int `json:"cap"`
	// GiveUpRate is the share of all analysed requests in which a call of
	// the operation would give up under the cap: a call that needed more
	// attempts than the cap to succeed, or that gave up anyway.
	GiveUpRate float64 `json:"give_up_rate"`
}

// giveUpCurve predicts the give-up rate for caps 1 … maxAttempts from the
// attempts each request's calls needed (at least one entry), each request
// weighing its weight, out of the traces' total weight.
func giveUpCurve(needs []int, weights []float64, totalW float64, maxAttempts int) []RetryCap {
	out := make([]RetryCap, 0, max(maxAttempts, 1))
	for c := 1; c <= max(maxAttempts, 1); c++ {
		var n float64
		for i, k := range needs {
			if k == 0 || k > c {
				n += weights[i]
			}
		}
		out = append(out, RetryCap{Cap: c, GiveUpRate: round4(ratio(n, totalW))})
	}
	return out
}

// recommendRetries picks the lowest attempt cap whose predicted give-up rate
// is within giveUpTolerance of today's, and says what it does to give-ups.
// Today's cap is not on the spans: the most attempts seen in one call
// stands for it.
func recommendRetries(s RetryStats) (int, string) {
	now := s.GiveUpRate
	cap := s.MaxAttempts
	for _, c := range s.Caps {
		if c.GiveUpRate <= now+giveUpTolerance {
			cap = c.Cap
			break
		}
	}
	failRate := s.FailedAttemptShare
	src := fmt.Sprintf("now up to %d: the most attempts seen in one call, from the retry.attempt spans", s.MaxAttempts)
	lead := fmt.Sprintf("%.0f%% of %s attempts fail, costing %s per call; fix the failing %s dependency or route to a fallback", 100*failRate, quote(s.Op), dur(s.LostPerCall), s.Stage)
	if s.GaveUp*2 >= s.Calls {
		lead = fmt.Sprintf("%s fails for good in %d of %d calls, so retrying does not help: fix or replace the failing %s dependency", quote(s.Op), s.GaveUp, s.Calls, s.Stage)
	}
	if cap < s.MaxAttempts {
		return cap, fmt.Sprintf("%s, and cap attempts at %d (%s): requests that give up would go from %.1f%% to %.1f%% (predicted from the attempts each call needed).",
			lead, cap, src, 100*now, 100*s.Caps[cap-1].GiveUpRate)
	}
	if s.MaxAttempts > 1 {
		return s.MaxAttempts, fmt.Sprintf("%s; keep the cap at %d (%s): at %d, requests that give up would go from %.1f%% to %.1f%%.",
			lead, s.MaxAttempts, src, s.MaxAttempts-1, 100*now, 100*s.Caps[s.MaxAttempts-2].GiveUpRate)
	}
	return s.MaxAttempts, lead + "."
}
