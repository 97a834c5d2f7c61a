package analysis

import (
	"slices"
	"strings"
	"time"

	"github.com/stagescope/stagescope/spans"
)

type retryAcc struct {
	stage                        spans.Stage
	calls, attempts, maxAttempts int
	failed, gaveUp               int
	failedTime, backoff          int64
	tokensLost                   int64
	costLost                     float64
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
		if gaveUp {
			acc.gaveUp++
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
func (a *accumulator) retryStats() []RetryStats {
	out := make([]RetryStats, 0, len(a.retries))
	for op, r := range a.retries {
		lost := r.failedTime + r.backoff
		s := RetryStats{
			Op: op, Stage: r.stage, Calls: r.calls, Attempts: r.attempts,
			AttemptsPerCall: round4(ratio(float64(r.attempts), float64(r.calls))),
			MaxAttempts:     r.maxAttempts, FailedAttempts: r.failed, GaveUp: r.gaveUp,
			FailedTime: time.Duration(r.failedTime), FailedTimeMs: ms(r.failedTime),
			Backoff: time.Duration(r.backoff), BackoffMs: ms(r.backoff),
			Lost: time.Duration(lost), LostMs: ms(lost),
			TokensLost: r.tokensLost, CostLostUSD: roundUSD(r.costLost),
		}
		if r.calls > 0 {
			s.LostPerCall = time.Duration(lost / int64(r.calls))
			s.LostPerCallMs = ms(s.LostPerCall)
		}
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
