package collector

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/stagescope/stagescope/spans"
	"github.com/stagescope/stagescope/spans/quantile"
)

// The sampling policy of every analysis (the dashboard's report and compare,
// and `stagescope report` on the local database) lives here, so the CLI and
// the dashboard read the same traces for the same window.
const (
	// DefaultSampleBudget is how many traces a sample draws by hash when the
	// caller gives no budget.
	DefaultSampleBudget = 2000
	// SampleFrameBudget bounds how many traces one sample examines (index
	// entries read, with one row lookup each for the duration). A window
	// holding more is examined in SampleSlices evenly spaced chunks of
	// SampleFrameBudget/SampleSlices traces each, so a sample costs the same
	// on a window of a million traces as on one of fifty thousand.
	SampleFrameBudget = 20_000
	// SampleSlices is how many equal sub-windows a large window is cut into.
	SampleSlices = 40
	// MaxSlowTraces bounds the slow traces a sample adds; beyond it the
	// slowest are kept and SampleInfo.SlowCapped is set.
	MaxSlowTraces = MaxTraceLimit
	// SlowQuantile is the end-to-end quantile at or above which every
	// examined trace joins the sample.
	SlowQuantile = 0.95
)

// sampleFrameLimit is SampleFrameBudget, lowered by tests to reach the
// sliced frame on a small store.
var sampleFrameLimit = SampleFrameBudget

// SampleInfo says exactly which traces SampleTraces chose and how. Its JSON
// form is the `sample` object of the API.
type SampleInfo struct {
	// Sampled is false when every trace of the selection was analysed.
	Sampled bool `json:"sampled"`
	// Method says in words what was done.
	Method string `json:"method"`
	// Budget is the number of traces drawn by hash.
	Budget int `json:"budget"`
	// From and To are the aligned window: whole minutes, To exclusive.
	From time.Time `json:"from,omitzero"`
	To   time.Time `json:"to,omitzero"`
	// TracesMatched is how many traces the selection holds, when known
	// (absent otherwise); Examined how many of them the frame held (the
	// traces the sample was drawn from).
	TracesMatched *int64 `json:"traces_matched,omitempty"`
	Examined      int64  `json:"traces_examined"`
	// TracesAnalysed is how many traces were returned: HashSampled drawn
	// by hash plus SlowAdded slow traces the hash did not draw.
	TracesAnalysed int `json:"traces_analysed"`
	HashSampled    int `json:"hash_sampled"`
	SlowAdded      int `json:"slow_added"`
	// SlowTraces is how many examined traces lasted at least
	// SlowThreshold (all of them are in the sample unless SlowCapped).
	SlowTraces    int           `json:"slow_traces"`
	SlowThreshold time.Duration `json:"slow_threshold_ns"`
	SlowCapped    bool          `json:"slow_capped,omitempty"`
	// HashRate is the fraction of the examined traces the hash drew: a
	// trace below SlowThreshold stands for 1/HashRate examined traces, a
	// slow one for itself.
	HashRate float64 `json:"hash_rate"`
	// Window summarises the end-to-end latency of the whole selection.
	Window *WindowLatency `json:"window,omitempty"`
	// Partial is set when the sample did not examine every trace of the
	// selection: a sub-window held more than its share of the frame, or an
	// attribute filter stopped at its budget.
	Partial bool `json:"partial,omitempty"`
	// AttrPartial is set when the attribute filter stopped opening traces.
	AttrPartial bool   `json:"attr_partial,omitempty"`
	Run         string `json:"run,omitempty"`
	Service     string `json:"service,omitempty"`
}

// WindowLatency is the end-to-end latency of a selection, nearest-rank
// quantiles (the value at rank ⌈q·n⌉), from the rollups' histograms (±2.2%)
// or from the examined traces' exact durations.
type WindowLatency struct {
	Source string        `json:"source"` // "rollups" or "examined traces"
	Traces int64         `json:"traces"`
	P50    time.Duration `json:"p50_ns"`
	P95    time.Duration `json:"p95_ns"`
	P99    time.Duration `json:"p99_ns"`
	P50Ms  float64       `json:"p50_ms"`
	P95Ms  float64       `json:"p95_ms"`
	P99Ms  float64       `json:"p99_ms"`
}

func newWindowLatency(source string, n int64, p50, p95, p99 time.Duration) *WindowLatency {
	// Truncated to the microsecond, as the Overview's /api/stages does, so
	// the same histogram prints the same figure on both pages.
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }
	return &WindowLatency{Source: source, Traces: n, P50: p50, P95: p95, P99: p99, P50Ms: ms(p50), P95Ms: ms(p95), P99Ms: ms(p99)}
}

// LeaveMinuteUnderWay applies AlignWindow's rule for the minute under way
// to traces a source read in memory (a remote source's window includes that
// minute): when to reaches past the start of now's minute, the traces that
// started in it are left out and the window ends at that minute — unless
// none started before it, when they are all kept. It returns the traces
// kept and the window's end.
func LeaveMinuteUnderWay(ts []*Trace, to, now time.Time) ([]*Trace, time.Time) {
	live := now.UTC().Truncate(time.Minute)
	if !to.After(live) {
		return ts, to
	}
	kept := make([]*Trace, 0, len(ts))
	for _, t := range ts {
		if t.Summary.Start.Before(live) {
			kept = append(kept, t)
		}
	}
	if len(kept) == 0 {
		return ts, to
	}
	return kept, live
}

// AlignWindow returns the window a sample reads for q: whole minutes (the
// rollups' grain), To exclusive. From is rounded down and To up, but never
// past the start of the minute under way, so "the last hour" asked twice
// within a minute is the same window, and a window ending at 10:09:59.999
// keeps its last minute — unless the window holds no trace before the
// minute under way and some in it: then that minute is included. An open To is now, an open From the first stored
// trace. A run without a window spans the run, rounded out.
func (s *SQLiteStore) AlignWindow(ctx context.Context, q TraceQuery, now time.Time) (from, to time.Time, err error) {
	from, to = q.From, q.To
	runBounds := false
	if q.RunID != "" && from.IsZero() && to.IsZero() {
		run, err := s.Run(ctx, q.RunID)
		if err != nil {
			return from, to, err
		}
		from, to, runBounds = run.Started.Add(-time.Minute), run.Finished, true
		if to.IsZero() || to.Before(run.Started) {
			to = now
		}
	}
	if to.IsZero() {
		to = now
	}
	if from.IsZero() {
		var first *int64
		if err := s.db.QueryRowContext(ctx, "SELECT min(start_ns) FROM traces").Scan(&first); err != nil {
			return from, to, fmt.Errorf("cannot find the first trace: %w", err)
		}
		from = to
		if first != nil {
			from = fromNanos(*first)
		}
	}
	from = from.UTC().Truncate(time.Minute)
	to = to.UTC().Add(time.Minute - 1).Truncate(time.Minute)
	if live := now.UTC().Truncate(time.Minute); !runBounds && to.After(live) {
		// The minute under way is left out: it still grows, and reloads
		// within a minute must read the same traces. A finished run does
		// not grow. But when every trace of the window started in that
		// minute (a pipeline attached seconds ago), an empty report would
		// be no answer: then the minute is read as it stands.
		to = live
		if from.Before(live) {
			before, err := s.anyTraceStarted(ctx, from, live)
			if err != nil {
				return from, to, err
			}
			if !before {
				if during, err := s.anyTraceStarted(ctx, live, live.Add(time.Minute)); err != nil {
					return from, to, err
				} else if during {
					to = live.Add(time.Minute)
				}
			}
		}
	}
	if !to.After(from) {
		to = from.Add(time.Minute)
	}
	return from, to, nil
}

// anyTraceStarted reports whether a trace started in [from, to).
func (s *SQLiteStore) anyTraceStarted(ctx context.Context, from, to time.Time) (bool, error) {
	var one int
	err := s.db.QueryRowContext(ctx, "SELECT 1 FROM traces WHERE start_ns >= ? AND start_ns < ? LIMIT 1", from.UnixNano(), to.UnixNano()).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("cannot look for traces: %w", err)
	}
	return true, nil
}

// sampleCandidate is one examined trace.
type sampleCandidate struct {
	id    spans.TraceID
	row   int64 // in traces
	start int64
	dur   time.Duration
	hash  uint64
}

// traceHash mixes all sixteen bytes of a trace id (a splitmix64 finaliser
// over both halves), so ids that are sequential or share a prefix still
// spread evenly.
func traceHash(id spans.TraceID) uint64 {
	mix := func(z uint64) uint64 {
		z ^= z >> 30
		z *= 0xbf58476d1ce4e5b9
		z ^= z >> 27
		z *= 0x94d049bb133111eb
		return z ^ z>>31
	}
	return mix(binary.BigEndian.Uint64(id[:8]) ^ mix(binary.BigEndian.Uint64(id[8:])+0x9e3779b97f4a7c15))
}

// SampleTraces reads the traces an analysis of q should see, at most budget
// of them drawn by hash (DefaultSampleBudget when budget ≤ 0) plus the slow
// ones. The policy:
//
//   - The window is aligned to whole minutes (AlignWindow).
//   - The frame is every trace of the window when it holds at most
//     SampleFrameBudget; otherwise the oldest SampleFrameBudget/SampleSlices
//     traces of each of SampleSlices equal sub-windows (read along the start
//     index, so the cost is bounded whatever the window holds).
//   - When the frame is the whole selection and holds at most budget traces,
//     every trace is returned.
//   - Otherwise the budget traces of the frame with the smallest hash of
//     their id (deterministic: the same traces on every reload of the same
//     window, and a trace arriving later only displaces one trace), plus
//     every frame trace lasting at least the window's p95 (from the rollups
//     when only time filters the selection, else from the frame's
//     durations), so the tail is never sampled away.
//
// Filters other than time, run and service are tested on the frame's rows;
// an attribute filter opens candidates in hash order, at most attrScanLimit.
// Traces are returned oldest first.
func (s *SQLiteStore) SampleTraces(ctx context.Context, q TraceQuery, budget int) ([]*Trace, SampleInfo, error) {
	if budget <= 0 {
		budget = DefaultSampleBudget
	}
	budget = min(budget, MaxTraceLimit)
	info := SampleInfo{Budget: budget, Run: q.RunID, Service: q.Service}
	from, to, err := s.AlignWindow(ctx, q, time.Now())
	if err != nil {
		return nil, info, err
	}
	info.From, info.To = from, to
	q.From, q.To = from, to.Add(-1)
	q.Cursor, q.Limit, q.ScanBudget = "", 0, 0

	// The frame adds its own start_ns bounds: with two pairs SQLite would
	// bound the index range by one and filter by the other.
	untimed := q
	untimed.From, untimed.To = time.Time{}, time.Time{}
	f, err := s.traceFilter(ctx, untimed)
	if err != nil {
		return nil, info, err
	}
	frame, complete, byCounts, err := s.sampleFrame(ctx, f, from.UnixNano(), to.UnixNano()-1, simpleQuery(q))
	if err != nil {
		return nil, info, err
	}
	info.Examined = int64(len(frame))
	info.Partial = !complete
	if complete {
		n := int64(len(frame))
		if f.attrKey == "" {
			info.TracesMatched = &n
		}
	} else if simpleQuery(q) {
		if n, err := s.windowCount(ctx, from, to); err == nil {
			info.TracesMatched = &n
		}
	} else if q.Service != "" && onlyServiceQuery(q) {
		if n, atLeast, ok, err := s.CountServiceTraces(ctx, q.Service, from, to.Add(-1)); err == nil && ok && !atLeast {
			info.TracesMatched = &n
		}
	}

	// Every trace: the whole selection was examined and fits the budget.
	if complete && len(frame) <= budget {
		info.Method = fmt.Sprintf("every trace of the window (%d, no more than the budget of %d)", len(frame), budget)
		chosen := frame
		if f.attrKey != "" {
			if chosen, info.AttrPartial, err = s.withAttr(ctx, f, frame, len(frame)); err != nil {
				return nil, info, err
			}
			info.Partial = info.Partial || info.AttrPartial
		}
		info.HashSampled, info.HashRate = len(chosen), 1
		info.Window = frameLatency(chosen)
		if simpleQuery(q) {
			if w, err := s.rollupLatency(ctx, from, to); err == nil && w.Traces > 0 {
				info.Window = w
			}
		}
		if len(chosen) > 0 {
			info.SlowThreshold = info.Window.P95
			for _, c := range chosen {
				if c.dur >= info.SlowThreshold {
					info.SlowTraces++
				}
			}
		}
		out, err := s.loadCandidates(ctx, chosen)
		info.TracesAnalysed = len(out)
		return out, info, err
	}

	info.Sampled = true
	// The slow threshold: the window's p95 from the rollups when they
	// describe exactly this selection, else the frame's own.
	info.Window = frameLatency(frame)
	if simpleQuery(q) {
		if w, err := s.rollupLatency(ctx, from, to); err == nil && w.Traces > 0 {
			info.Window = w
		}
	}
	info.SlowThreshold = info.Window.P95

	byHash := sortByHash(frame)
	var slow []sampleCandidate
	for _, c := range frame {
		if c.dur >= info.SlowThreshold {
			slow = append(slow, c)
		}
	}
	if f.attrKey != "" {
		// Candidates in hash order, then the slow ones, each list opening
		// at most attrScanLimit traces.
		if byHash, info.AttrPartial, err = s.withAttr(ctx, f, byHash, budget); err != nil {
			return nil, info, err
		}
		if slow, _, err = s.withAttr(ctx, f, slow, len(slow)); err != nil {
			return nil, info, err
		}
		info.Partial = info.Partial || info.AttrPartial
	}
	list := pickSample(byHash, slow, len(frame), budget, &info)
	info.Method = sampleMethod(info, complete, byCounts, f.attrKey != "")
	out, err := s.loadCandidates(ctx, list)
	info.TracesAnalysed = len(out)
	return out, info, err
}

// sortByHash returns the frame ordered by trace-id hash: the order in
// which the policy draws.
func sortByHash(frame []sampleCandidate) []sampleCandidate {
	byHash := slices.Clone(frame)
	slices.SortFunc(byHash, func(a, b sampleCandidate) int {
		return cmp.Or(cmp.Compare(a.hash, b.hash), slices.Compare(a.id[:], b.id[:]))
	})
	return byHash
}

// pickSample is the policy's draw: the first budget candidates of byHash
// plus every slow one (the slowest MaxSlowTraces when there are more). It
// fills info's counts and hash rate and returns the chosen candidates by
// start.
func pickSample(byHash, slow []sampleCandidate, frameLen, budget int, info *SampleInfo) []sampleCandidate {
	hashed := byHash[:min(budget, len(byHash))]
	info.SlowTraces = len(slow)
	if len(slow) > MaxSlowTraces {
		slow = slices.Clone(slow)
		slices.SortFunc(slow, func(a, b sampleCandidate) int { return cmp.Compare(b.dur, a.dur) })
		slow, info.SlowCapped = slow[:MaxSlowTraces], true
	}
	chosen := make(map[spans.TraceID]sampleCandidate, len(hashed)+len(slow))
	for _, c := range hashed {
		chosen[c.id] = c
	}
	info.HashSampled = len(hashed)
	for _, c := range slow {
		if _, ok := chosen[c.id]; !ok {
			chosen[c.id] = c
			info.SlowAdded++
		}
	}
	if frameLen > 0 {
		info.HashRate = float64(len(hashed)) / float64(frameLen)
	}
	list := make([]sampleCandidate, 0, len(chosen))
	for _, c := range chosen {
		list = append(list, c)
	}
	slices.SortFunc(list, compareStart)
	return list
}

// SampleOf applies the sampling policy to traces a source has read whole
// (a Jaeger source's frame): all of them when they are at most budget,
// else the budget with the smallest trace-id hash plus every one lasting
// at least their p95, the same draw SampleTraces makes on the store's
// frame. frame says in words which traces were read, and complete whether
// they are the whole selection. The chosen traces are returned by start;
// info gets the window latency (of the traces read), the counts and the
// method, and the caller sets the window, service and partial flags.
func SampleOf(ts []*Trace, budget int, complete bool, frame string) ([]*Trace, SampleInfo) {
	if budget <= 0 {
		budget = DefaultSampleBudget
	}
	budget = min(budget, MaxTraceLimit)
	info := SampleInfo{Budget: budget, Examined: int64(len(ts)), Partial: !complete}
	if complete {
		n := int64(len(ts))
		info.TracesMatched = &n
	}
	cands := make([]sampleCandidate, len(ts))
	byID := make(map[spans.TraceID]*Trace, len(ts))
	for i, t := range ts {
		cands[i] = sampleCandidate{id: t.Summary.TraceID, row: -1, start: nanos(t.Summary.Start), dur: t.Summary.Duration, hash: traceHash(t.Summary.TraceID)}
		byID[t.Summary.TraceID] = t
	}
	info.Window = frameLatency(cands)
	info.SlowThreshold = info.Window.P95
	var chosen []sampleCandidate
	if len(cands) <= budget {
		chosen = slices.Clone(cands)
		slices.SortFunc(chosen, compareStart)
		info.HashSampled, info.HashRate = len(chosen), 1
		for _, c := range chosen {
			if c.dur >= info.SlowThreshold {
				info.SlowTraces++
			}
		}
		info.Method = fmt.Sprintf("every trace read (%d, no more than the budget of %d): %s", len(chosen), budget, frame)
	} else {
		info.Sampled = true
		var slow []sampleCandidate
		for _, c := range cands {
			if c.dur >= info.SlowThreshold {
				slow = append(slow, c)
			}
		}
		chosen = pickSample(sortByHash(cands), slow, len(cands), budget, &info)
		info.Method = fmt.Sprintf("the %d traces with the smallest trace-id hash among the %d read (%s), plus every one lasting at least their p95 (%s): %d slow, %d not drawn by the hash",
			info.HashSampled, len(cands), frame, info.SlowThreshold.Round(time.Microsecond), info.SlowTraces, info.SlowAdded)
		if info.SlowCapped {
			info.Method += fmt.Sprintf(" (only the slowest %d kept)", MaxSlowTraces)
		}
	}
	out := make([]*Trace, len(chosen))
	for i, c := range chosen {
		out[i] = byID[c.id]
	}
	info.TracesAnalysed = len(out)
	return out, info
}

func compareStart(a, b sampleCandidate) int {
	return cmp.Or(cmp.Compare(a.start, b.start), slices.Compare(a.id[:], b.id[:]))
}

// sampleMethod says in words what SampleTraces did.
func sampleMethod(info SampleInfo, complete, byCounts, attr bool) string {
	var b strings.Builder
	if complete {
		fmt.Fprintf(&b, "the %d traces of the window with the smallest trace-id hash", info.HashSampled)
	} else {
		if byCounts {
			fmt.Fprintf(&b, "the %d traces with the smallest trace-id hash among the %d examined (the oldest of each of %d equal sub-windows, each in proportion to its traces)",
				info.HashSampled, info.Examined, SampleSlices)
		} else {
			fmt.Fprintf(&b, "the %d traces with the smallest trace-id hash among the %d examined (the oldest %d of each of %d equal sub-windows)",
				info.HashSampled, info.Examined, sampleFrameLimit/SampleSlices, SampleSlices)
		}
	}
	if attr {
		b.WriteString(" that have the attribute")
	}
	src := "the rollups"
	if info.Window != nil && info.Window.Source != "rollups" {
		src = "the examined traces"
	}
	which := "trace of the window"
	if !complete {
		which = "examined trace"
	}
	fmt.Fprintf(&b, ", plus every %s lasting at least the p95 of %s (%s): %d slow, %d not drawn by the hash",
		which, src, info.SlowThreshold.Round(time.Microsecond), info.SlowTraces, info.SlowAdded)
	if info.SlowCapped {
		fmt.Fprintf(&b, " (only the slowest %d kept)", MaxSlowTraces)
	}
	return b.String()
}

// sampleFrame reads the traces a sample chooses from: every trace of
// [lo, hi] when there are at most SampleFrameBudget, else the oldest of
// each of SampleSlices equal sub-windows, SampleFrameBudget in all. With
// byRollups (only time selects the traces) each sub-window's share is its
// share of the window's traces by the rollups' counts, so a burst weighs
// in the frame what it weighs in the window; otherwise, or without
// counts, the shares are equal (byCounts says which). complete reports
// whether the frame is the whole selection.
func (s *SQLiteStore) sampleFrame(ctx context.Context, f *traceFilter, lo, hi int64, byRollups bool) (frame []sampleCandidate, complete, byCounts bool, err error) {
	var entries int
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM (SELECT 1 FROM traces"+whereClause(append(slices.Clip(f.drive), "start_ns >= ?", "start_ns <= ?"))+" LIMIT ?)",
		append(slices.Clip(f.driveArgs), lo, hi, sampleFrameLimit+1)...).Scan(&entries); err != nil {
		return nil, false, false, fmt.Errorf("cannot count the sample frame: %w", err)
	}
	if entries <= sampleFrameLimit {
		frame, complete, err := s.readFrame(ctx, f, lo, hi, sampleFrameLimit)
		return frame, complete, false, err
	}
	// Slice the part of the window that holds traces, so a window reaching
	// far before the first trace does not spend its slices on nothing.
	var first, last int64
	if err := s.db.QueryRowContext(ctx, "SELECT (SELECT min(start_ns) FROM traces"+whereClause(append(slices.Clip(f.drive), "start_ns >= ?", "start_ns <= ?"))+
		"), (SELECT max(start_ns) FROM traces"+whereClause(append(slices.Clip(f.drive), "start_ns >= ?", "start_ns <= ?"))+")",
		append(append(slices.Clip(f.driveArgs), lo, hi), append(slices.Clip(f.driveArgs), lo, hi)...)...).Scan(&first, &last); err != nil {
		return nil, false, false, fmt.Errorf("cannot bound the sample frame: %w", err)
	}
	lo, hi = first, last
	width := (hi - lo + 1) / SampleSlices
	bounds := func(i int64) (int64, int64) {
		a := lo + i*width
		if i == SampleSlices-1 {
			return a, hi
		}
		return a, a + width - 1
	}
	quotas := equalQuotas()
	if byRollups {
		q, ok, err := s.rollupQuotas(ctx, lo, hi, bounds)
		if err != nil {
			return nil, false, false, err
		}
		if ok {
			quotas, byCounts = q, true
		}
	}
	complete = true
	for i := range int64(SampleSlices) {
		a, b := bounds(i)
		if quotas[i] == 0 {
			// No trace started there by the rollups' count; still
			// examined, so a trace they missed is not dropped unseen.
			quotas[i] = 1
		}
		part, full, err := s.readFrame(ctx, f, a, b, quotas[i])
		if err != nil {
			return nil, false, false, err
		}
		frame = append(frame, part...)
		complete = complete && full
	}
	return frame, complete, byCounts, nil
}

// equalQuotas gives every sub-window of a sliced frame the same share.
func equalQuotas() []int {
	q := make([]int, SampleSlices)
	for i := range q {
		q[i] = sampleFrameLimit / SampleSlices
	}
	return q
}

// rollupQuotas shares sampleFrameLimit among the SampleSlices sub-windows
// of [lo, hi] (bounds gives each one's ends) in proportion to the traces
// the rollups count in them (a minute counts in the sub-window where it
// starts; largest remainders get the rounding). ok is false when the
// rollups count no trace there.
func (s *SQLiteStore) rollupQuotas(ctx context.Context, lo, hi int64, bounds func(int64) (int64, int64)) (quotas []int, ok bool, err error) {
	rows, err := s.db.QueryContext(ctx, sqlTraceRollups, rollupMinute(lo), rollupMinute(hi))
	if err != nil {
		return nil, false, fmt.Errorf("cannot read trace rollups: %w", err)
	}
	defer rows.Close()
	counts := make([]int64, SampleSlices)
	var total int64
	for rows.Next() {
		var minute, count, errs int64
		var dh []byte
		if err := rows.Scan(&minute, &count, &errs, &dh); err != nil {
			return nil, false, fmt.Errorf("cannot read trace rollups: %w", err)
		}
		at := max(minute*int64(time.Minute), lo)
		i := sort.Search(SampleSlices, func(i int) bool { _, b := bounds(int64(i)); return b >= at })
		if i == SampleSlices || count <= 0 {
			continue
		}
		counts[i] += count
		total += count
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("cannot read trace rollups: %w", err)
	}
	if total == 0 {
		return nil, false, nil
	}
	quotas = make([]int, SampleSlices)
	type rest struct {
		i    int
		frac float64
	}
	rests := make([]rest, SampleSlices)
	given := 0
	for i, c := range counts {
		share := float64(sampleFrameLimit) * float64(c) / float64(total)
		quotas[i] = int(share)
		given += quotas[i]
		rests[i] = rest{i, share - float64(quotas[i])}
	}
	slices.SortStableFunc(rests, func(a, b rest) int { return cmp.Compare(b.frac, a.frac) })
	for k := 0; given < sampleFrameLimit && k < len(rests); k++ {
		quotas[rests[k].i]++
		given++
	}
	return quotas, true, nil
}

// readFrame reads the oldest limit traces of [lo, hi] that the index terms
// select (at most limit index entries, counted first on the index alone),
// keeps those the row filters pass, and reports whether the range held no
// more than limit.
func (s *SQLiteStore) readFrame(ctx context.Context, f *traceFilter, lo, hi int64, limit int) ([]sampleCandidate, bool, error) {
	inner := append(slices.Clip(f.drive), "start_ns >= ?", "start_ns <= ?")
	innerArgs := append(slices.Clip(f.driveArgs), lo, hi)
	var entries int
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM (SELECT 1 FROM traces"+whereClause(inner)+" LIMIT ?)", append(slices.Clip(innerArgs), limit+1)...).Scan(&entries); err != nil {
		return nil, false, fmt.Errorf("cannot count the sample frame: %w", err)
	}
	if entries == 0 {
		return nil, true, nil
	}
	// The row filters name columns without a table prefix: in the outer
	// query only t has them.
	query := "SELECT t.trace_id, t.id, t.start_ns, t.end_ns FROM (SELECT id FROM traces" + whereClause(inner) +
		" ORDER BY start_ns, trace_id LIMIT ?) AS c JOIN traces AS t ON t.id = c.id"
	args := append(slices.Clip(innerArgs), limit)
	if len(f.rest) > 0 {
		query += " WHERE " + strings.Join(f.rest, " AND ")
		args = append(args, f.restArgs...)
	}
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, false, fmt.Errorf("cannot read the sample frame: %w", err)
	}
	defer rows.Close()
	out := make([]sampleCandidate, 0, min(entries, limit))
	for rows.Next() {
		var id []byte
		var c sampleCandidate
		var end int64
		if err := rows.Scan(&id, &c.row, &c.start, &end); err != nil {
			return nil, false, fmt.Errorf("cannot read the sample frame: %w", err)
		}
		copy(c.id[:], id)
		c.dur = time.Duration(end - c.start)
		c.hash = traceHash(c.id)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("cannot read the sample frame: %w", err)
	}
	return out, entries <= limit, nil
}

// withAttr keeps, in order, the candidates that have the attribute filter's
// key=value, stopping at want kept or attrScanLimit opened (then partial).
func (s *SQLiteStore) withAttr(ctx context.Context, f *traceFilter, cands []sampleCandidate, want int) ([]sampleCandidate, bool, error) {
	var out []sampleCandidate
	for i, c := range cands {
		if len(out) == want {
			break
		}
		if i == attrScanLimit {
			return out, true, nil
		}
		ok, err := s.traceHasAttr(ctx, c.row, c.id, f.attrKey, f.attrVal)
		if err != nil {
			return nil, false, err
		}
		if ok {
			out = append(out, c)
		}
	}
	return out, false, nil
}

// loadCandidates reads the chosen traces whole, skipping those retention
// deleted meanwhile.
func (s *SQLiteStore) loadCandidates(ctx context.Context, cands []sampleCandidate) ([]*Trace, error) {
	refs := make([]traceRef, len(cands))
	for i, c := range cands {
		refs[i] = traceRef{c.row, c.id}
	}
	return s.tracesAt(ctx, refs)
}

// frameLatency is the nearest-rank latency of the candidates.
func frameLatency(cands []sampleCandidate) *WindowLatency {
	d := make([]time.Duration, len(cands))
	for i, c := range cands {
		d[i] = c.dur
	}
	slices.Sort(d)
	return newWindowLatency("examined traces", int64(len(d)), quantile.Of(d, 0.50), quantile.Of(d, SlowQuantile), quantile.Of(d, 0.99))
}

// rollupLatency is the end-to-end latency of the whole minutes [from, to)
// from the rollups, as the Overview computes it.
func (s *SQLiteStore) rollupLatency(ctx context.Context, from, to time.Time) (*WindowLatency, error) {
	last := to.Add(-time.Minute)
	pts, err := s.Timeseries(ctx, from, last, last.Sub(from)+time.Minute)
	if err != nil {
		return nil, err
	}
	if len(pts) != 1 {
		return nil, fmt.Errorf("rollup latency: %d steps", len(pts))
	}
	p := pts[0]
	return newWindowLatency("rollups", p.Traces, p.P50, p.P95, p.P99), nil
}

// windowCount is how many traces the rollups count in the whole minutes
// [from, to).
func (s *SQLiteStore) windowCount(ctx context.Context, from, to time.Time) (int64, error) {
	w, err := s.rollupLatency(ctx, from, to)
	if err != nil {
		return 0, err
	}
	return w.Traces, nil
}

// simpleQuery reports whether only time filters q, so that the rollups
// describe its traces.
func simpleQuery(q TraceQuery) bool {
	q.From, q.To, q.Limit, q.Cursor, q.ScanBudget = time.Time{}, time.Time{}, 0, "", 0
	return q == TraceQuery{}
}

// onlyServiceQuery reports whether q filters on time and service only.
func onlyServiceQuery(q TraceQuery) bool {
	q.Service = ""
	return simpleQuery(q)
}
