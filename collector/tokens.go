package collector

import (
	"cmp"
	"context"
	"database/sql/driver"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/stagescope/stagescope/spans"
	"github.com/stagescope/stagescope/spans/semconv"
)

// UnknownModel names the token use of spans that name no model, as the
// bottleneck report does.
const UnknownModel = "unknown"

// Model names come from span attributes, which any client sends: a rollup
// row keeps at most maxRowModels of them (the others' tokens go under
// OtherModels) and names of at most maxModelName bytes, so that a client
// naming a new model on every span cannot grow the rollups without bound.
const (
	maxRowModels = 64
	maxModelName = 200
	// OtherModels names the tokens of a minute's models past the first
	// maxRowModels of one stage and run.
	OtherModels = "other models"
)

// tokenCount is the token use of one model's calls within one rollup row.
type tokenCount struct {
	calls, prompt, completion, embedding int64
}

func (c *tokenCount) add(o tokenCount) {
	c.calls += o.calls
	c.prompt += o.prompt
	c.completion += o.completion
	c.embedding += o.embedding
}

// spanTokens is what the token rollups need of one span: its token use and
// the model it names (UnknownModel for none).
type spanTokens struct {
	model string
	use   tokenCount // calls is 1 when the span reports tokens
}

// tokensOf reads a span's token use, in whichever convention it was written
// (semconv.UsageOf, as the report and the trace view read it).
func tokensOf(sp *spans.Span) spanTokens {
	u := semconv.UsageOf(sp)
	if u.Zero() {
		return spanTokens{}
	}
	model := semconv.Model(sp)
	if model == "" {
		model = UnknownModel
	}
	if len(model) > maxModelName {
		model = strings.ToValidUTF8(model[:maxModelName], "")
	}
	return spanTokens{model: model, use: tokenCount{calls: 1, prompt: u.Prompt, completion: u.Completion, embedding: u.Embedding}}
}

// tokenOwners decides which spans of one trace count their own tokens: those
// that report some and have no span below them that does — the report's rule
// (analysis), so that a parent repeating its children's totals (the engine's
// synthesize and query spans) is not counted twice. The spans are given by
// ids, parents and has (reports tokens); they may be part of a trace only,
// as the writer sees it: below says whether a span is known, from spans seen
// before, to have one with tokens under it, and up is called with each
// parent outside the group that has. The answer is nil when no span counts;
// it is built in sc, whose buffers are reused.
//
// A span whose tokens were counted before a descendant with tokens arrived
// (a child after its parent) stays counted: the rollups do not take back.
func tokenOwners(ids, parents []spans.SpanID, has []bool, below func(spans.SpanID) bool, up func(spans.SpanID), sc *ownerScratch) []bool {
	n := len(ids)
	// covered: a span below reports tokens — known before (fromBelow) or
	// found in the group (fromGroup).
	const fromBelow, fromGroup = 1, 2
	covered := slices.Grow(sc.covered[:0], n)[:n]
	clear(covered)
	sc.covered = covered
	some := false
	for i := range n {
		if below != nil && below(ids[i]) {
			covered[i] = fromBelow
			some = true
		}
		some = some || has[i]
	}
	if !some {
		return nil // the common case of a group without tokens
	}
	// Parents are found by a scan in small groups, by a map in large ones.
	indexOf := func(id spans.SpanID) (int, bool) {
		for j, x := range ids {
			if x == id {
				return j, true
			}
		}
		return 0, false
	}
	if n > 32 {
		if sc.idx == nil {
			sc.idx = map[spans.SpanID]int{}
		}
		clear(sc.idx)
		for i, id := range ids {
			sc.idx[id] = i
		}
		indexOf = func(id spans.SpanID) (int, bool) { j, ok := sc.idx[id]; return j, ok }
	}
	for i := range n {
		if !has[i] && covered[i] != fromBelow {
			continue
		}
		// Mark the ancestors; stop at one already marked (which also ends
		// a cycle of parents in hostile data).
		for p := parents[i]; !p.IsZero(); {
			j, ok := indexOf(p)
			if !ok {
				if up != nil {
					up(p)
				}
				break
			}
			if covered[j] != 0 {
				break
			}
			covered[j] = fromGroup
			p = parents[j]
		}
	}
	out := slices.Grow(sc.out[:0], n)[:n]
	sc.out = out
	for i := range n {
		out[i] = has[i] && covered[i] == 0
	}
	return out
}

// ownerScratch holds tokenOwners' buffers.
type ownerScratch struct {
	covered []uint8
	out     []bool
	idx     map[spans.SpanID]int
	ids     []spans.SpanID
	parents []spans.SpanID
	has     []bool
}

// tokenSet remembers spans known to have a span with tokens below them until
// they arrive: two generations, the older forgotten when the newer fills,
// like childIndex.
type tokenSet struct {
	cur, old map[spanKey]struct{}
	limit    int
}

func newTokenSet(limit int) *tokenSet {
	return &tokenSet{cur: map[spanKey]struct{}{}, old: map[spanKey]struct{}{}, limit: limit}
}

func (ts *tokenSet) add(k spanKey) {
	if len(ts.cur) >= ts.limit/2 {
		ts.old, ts.cur = ts.cur, make(map[spanKey]struct{}, len(ts.cur))
	}
	ts.cur[k] = struct{}{}
}

// take reports whether k was in the set and removes it.
func (ts *tokenSet) take(k spanKey) bool {
	_, a := ts.cur[k]
	_, b := ts.old[k]
	delete(ts.cur, k)
	delete(ts.old, k)
	return a || b
}

// addTokens adds one span's counted tokens to the row.
func (r *rollupRow) addTokens(t spanTokens) {
	if r.tokens == nil {
		r.tokens = map[string]*tokenCount{}
	}
	c := r.tokens[t.model]
	if c == nil {
		if len(r.tokens) >= maxRowModels {
			t.model = OtherModels
			if c = r.tokens[t.model]; c != nil {
				c.add(t.use)
				r.tokensDirty = true
				return
			}
		}
		c = &tokenCount{}
		r.tokens[t.model] = c
	}
	c.add(t.use)
	r.tokensDirty = true
}

// readTokens loads the token rows of rollup row k. Called with the write
// lock held, inside the batch transaction.
func (r *rollupRow) readTokens(st *writeStmts, k rollupKey, args []driver.NamedValue) error {
	args = append(args[:0], driver.NamedValue{Ordinal: 1, Value: k.minute}, driver.NamedValue{Ordinal: 2, Value: k.run}, driver.NamedValue{Ordinal: 3, Value: int64(k.stage)})
	rows, err := st.selectTokenRollup.(driver.StmtQueryContext).QueryContext(bg, args)
	if err != nil {
		return err
	}
	defer rows.Close()
	vals := make([]driver.Value, 5)
	for {
		switch err := rows.Next(vals); err {
		case nil:
			model, _ := vals[0].(string)
			if b, ok := vals[0].([]byte); ok {
				model = string(b)
			}
			r.addTokens(spanTokens{model: model, use: tokenCount{vals[1].(int64), vals[2].(int64), vals[3].(int64), vals[4].(int64)}})
		case io.EOF:
			r.tokensDirty = false
			return nil
		default:
			return err
		}
	}
}

// writeTokens writes the token rows of rollup row k when they changed.
func (r *rollupRow) writeTokens(st *writeStmts, k rollupKey, args []driver.NamedValue) error {
	if !r.tokensDirty {
		return nil
	}
	for model, c := range r.tokens {
		if err := execStmt(st.upsertTokenRollup, nv(args, k.minute, k.run, int64(k.stage), model, c.calls, c.prompt, c.completion, c.embedding)); err != nil {
			return err
		}
	}
	r.tokensDirty = false
	return nil
}

// TokenUse is the tokens one stage's calls of one model used in a step.
type TokenUse struct {
	Stage      spans.Stage `json:"stage"`
	Model      string      `json:"model"` // UnknownModel for spans that name none
	Calls      int64       `json:"calls"` // spans whose tokens were counted
	Prompt     int64       `json:"prompt"`
	Completion int64       `json:"completion"`
	Embedding  int64       `json:"embedding"`
}

// TokenPoint is one step of a token series.
type TokenPoint struct {
	Start time.Time  `json:"start"`
	Use   []TokenUse `json:"use"` // by stage (pipeline order), then model
}

// tokenSeries gathers token rows into the steps of a series, as Timeseries
// places trace rows: a row counts in the step of its minute.
type tokenSeries struct {
	lo, hi, stepMin int64
	pts             []TokenPoint
	acc             []map[tokenKey]*tokenCount
}

type tokenKey struct {
	stage spans.Stage
	model string
}

func newTokenSeries(from, to time.Time, step time.Duration) (*tokenSeries, error) {
	lo, hi, stepMin, n, err := seriesSteps("token series", from, to, step)
	if err != nil {
		return nil, err
	}
	ts := &tokenSeries{lo: lo, hi: hi, stepMin: stepMin, pts: make([]TokenPoint, n), acc: make([]map[tokenKey]*tokenCount, n)}
	for i := range ts.pts {
		ts.pts[i].Start = time.Unix((lo+int64(i)*stepMin)*60, 0).UTC()
	}
	return ts, nil
}

func (ts *tokenSeries) add(minute int64, stage uint8, model string, c tokenCount) {
	if minute < ts.lo || minute > ts.hi || stage == StageTrace {
		return
	}
	i := (minute - ts.lo) / ts.stepMin
	if ts.acc[i] == nil {
		ts.acc[i] = map[tokenKey]*tokenCount{}
	}
	k := tokenKey{spans.Stage(stage), model}
	a := ts.acc[i][k]
	if a == nil {
		a = &tokenCount{}
		ts.acc[i][k] = a
	}
	a.add(c)
}

func (ts *tokenSeries) points() []TokenPoint {
	for i, m := range ts.acc {
		use := make([]TokenUse, 0, len(m))
		for k, c := range m {
			use = append(use, TokenUse{Stage: k.stage, Model: k.model, Calls: c.calls, Prompt: c.prompt, Completion: c.completion, Embedding: c.embedding})
		}
		slices.SortFunc(use, func(a, b TokenUse) int {
			return cmp.Or(cmp.Compare(stageRank(a.Stage), stageRank(b.Stage)), strings.Compare(a.Model, b.Model))
		})
		ts.pts[i].Use = use
	}
	return ts.pts
}

// stageRank is a stage's place in pipeline order (spans.AllStages).
func stageRank(st spans.Stage) int {
	if i := slices.Index(spans.AllStages(), st); i >= 0 {
		return i
	}
	return int(st) + 256
}

// TokenSeries returns the tokens used per step over [from, to], by stage and
// model, for one run or, with runID "", all: the spans that started in each
// step, counted as the report counts them (tokenOwners). Steps are whole
// minutes, as in Timeseries; empty steps are included. Tokens, not dollars,
// are stored: price them with the table in force (analysis.PriceOf).
func (s *SQLiteStore) TokenSeries(ctx context.Context, from, to time.Time, step time.Duration, runID string) ([]TokenPoint, error) {
	ts, err := newTokenSeries(from, to, step)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, sqlTokenRollups, ts.lo, ts.hi, runID)
	if err != nil {
		return nil, fmt.Errorf("cannot read token rollups: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var minute, stage int64
		var model string
		var c tokenCount
		if err := rows.Scan(&minute, &stage, &model, &c.calls, &c.prompt, &c.completion, &c.embedding); err != nil {
			return nil, fmt.Errorf("cannot read token rollups: %w", err)
		}
		ts.add(minute, uint8(stage), model, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read token rollups: %w", err)
	}
	return ts.points(), nil
}

// TokenSeries is SQLiteStore.TokenSeries over the traces read.
func (r *TraceRollup) TokenSeries(from, to time.Time, step time.Duration) ([]TokenPoint, error) {
	ts, err := newTokenSeries(from, to, step)
	if err != nil {
		return nil, err
	}
	for k, row := range r.rows {
		for model, c := range row.tokens {
			ts.add(k.minute, k.stage, model, *c)
		}
	}
	return ts.points(), nil
}

var sqlTokenRollups = mustSQL("token_rollups.sql")

// tokenOwners reads the token use of one trace's spans of a batch into
// w.toks and returns which of them count (tokenOwners), nil for none.
func (w *batchWriter) tokenOwners(gs []*spans.Span) []bool {
	w.toks = w.toks[:0]
	if len(gs) == 0 { // a part of events only
		return nil
	}
	some := false
	for _, sp := range gs {
		t := tokensOf(sp)
		w.toks = append(w.toks, t)
		some = some || t.use.calls > 0
	}
	if !some && w.tokenKids.len() == 0 {
		return nil
	}
	sc := &w.owners
	sc.ids, sc.parents, sc.has = sc.ids[:0], sc.parents[:0], sc.has[:0]
	for i, sp := range gs {
		sc.ids, sc.parents, sc.has = append(sc.ids, sp.SpanID), append(sc.parents, sp.ParentID), append(sc.has, w.toks[i].use.calls > 0)
	}
	tid := gs[0].TraceID
	return tokenOwners(sc.ids, sc.parents, sc.has,
		func(id spans.SpanID) bool { return w.tokenKids.take(spanKey{tid, id}) },
		func(id spans.SpanID) { w.tokenKids.add(spanKey{tid, id}) }, sc)
}

func (ts *tokenSet) len() int { return len(ts.cur) + len(ts.old) }
