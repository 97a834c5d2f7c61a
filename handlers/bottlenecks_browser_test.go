package handlers_test

import (
	"context"
	"fmt"
	"math"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stagescope/stagescope/handlers"
	"github.com/stagescope/stagescope/spans"
)

// jsFixed is JavaScript's Number.prototype.toFixed: the exact value rounded
// to d decimals, halves away from zero.
func jsFixed(v float64, d int) string {
	// toFixed rounds the double's exact value; only an exact tie (which
	// FormatFloat would round to even) goes up. 4.55 is stored as
	// 4.5499…, so it is "4.5" in both.
	x := new(big.Rat).SetFloat64(math.Abs(v))
	x.Mul(x, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d)), nil)))
	frac := new(big.Rat).Sub(x, new(big.Rat).SetInt(new(big.Int).Quo(x.Num(), x.Denom())))
	if frac.Cmp(big.NewRat(1, 2)) == 0 {
		p := math.Pow(10, float64(d))
		return strconv.FormatFloat(math.Copysign((math.Floor(math.Abs(v)*p)+1)/p, v), 'f', d, 64)
	}
	return strconv.FormatFloat(v, 'f', d, 64)
}

// jsMs, jsPct and jsNum format as web/static/js/format.js's ms, pct and num
// (num for integers), so the test can say which text a number must become.
func jsMs(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 60000:
		return jsFixed(v/60000, 1) + " min"
	case a >= 10000:
		return jsFixed(v/1000, 1) + " s"
	case a >= 1000:
		return jsFixed(v/1000, 2) + " s"
	case a >= 100:
		return jsFixed(v, 0) + " ms"
	case a >= 10:
		return jsFixed(v, 1) + " ms"
	case a >= 1:
		return jsFixed(v, 2) + " ms"
	case a == 0:
		return "0 ms"
	}
	return jsFixed(v*1000, 0) + " µs"
}

func jsPct(v float64, digits int) string { return jsFixed(v*100, digits) + " %" }

func jsNum(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// hostileModel is a model name that would run script if the page parsed it
// as HTML.
const hostileModel = `<img src=x onerror=alert(3)>`

// addSlowFailingTrace ingests a 2 s request whose model call fails, made
// with hostileModel, with an orphan (its parent never arrived) and a
// fire-and-forget child that outlives the request: it is at or above the
// window's p95, so every sample holds it.
func addSlowFailingTrace(t *testing.T, s *seeded, at time.Time) spans.TraceID {
	t.Helper()
	tid := spans.NewTraceID()
	svc := spans.String(spans.KeyService, "rag-api")
	ms := func(n int) time.Time { return at.Add(time.Duration(n) * time.Millisecond) }
	mk := func(parent spans.SpanID, name string, st spans.Stage, from, to int) spans.Span {
		return spans.Span{TraceID: tid, SpanID: spans.NewSpanID(), ParentID: parent, Name: name, Stage: st,
			Start: ms(from), End: ms(to), Status: spans.StatusOK, Attrs: []spans.Attribute{svc}}
	}
	q := mk(spans.SpanID{}, "query: slow and failing", spans.StageQuery, 0, 2000)
	q.Status, q.Err = spans.StatusError, "no answer"
	llm := mk(q.SpanID, "chat completion", spans.StageLLM, 100, 1900)
	llm.Status, llm.Err = spans.StatusError, "upstream overloaded"
	llm.Attrs = append(llm.Attrs, spans.String(spans.KeyLLMModel, hostileModel),
		spans.Int64(spans.KeyLLMPromptTokens, 700), spans.Int64(spans.KeyLLMCompletionTokens, 0))
	orphan := mk(spans.NewSpanID(), "rerank passages", spans.StageRerank, 20, 90)
	audit := mk(q.SpanID, "audit write", spans.StageStorage, 1950, 2600)
	if err := s.coll.Ingest(context.Background(), []spans.Span{q, llm, orphan, audit}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.coll.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	return tid
}

// The Bottlenecks page shows the report's predicted gains, its weighting,
// its errors and the spans it read with care, with the numbers of the API
// answer the page got; an untrusted model name shows as text.
func TestBottlenecksGainsErrorsAndWeightingInBrowser(t *testing.T) {
	bin := chromium(t)
	// A budget of 20 traces for the window's 38: the report is a weighted
	// sample.
	s := newSeeded(t, handlers.WithReportSample(20))
	addSlowFailingTrace(t, s, s.base.Add(37*time.Minute+30*time.Second))
	b := startBrowser(t, bin, s)
	b.open("bottlenecks", "bottlenecks")

	// The answer the page rendered: the same request again (the window is
	// in its query; the data does not change).
	urls := b.evalStrings(`performance.getEntriesByType('resource').map(e => e.name).filter(n => n.includes('/api/report'))`)
	if len(urls) != 1 {
		t.Fatalf("the page asked for %d reports: %v", len(urls), urls)
	}
	var res handlers.ReportResponse
	s.getJSON(strings.TrimPrefix(urls[0], s.ts.URL), http.StatusOK, &res)
	r := res.Report
	if !r.Weighting.Weighted || r.Traces != res.TracesAnalysed || r.Traces >= int(r.Weighting.Represented) {
		t.Fatalf("report of %d traces, weighting %+v: want a weighted sample", r.Traces, r.Weighting)
	}
	if len(r.Gains) == 0 || r.Errors.FailedTraces == 0 || r.Anomalies.Orphans == 0 || r.Anomalies.FireAndForget == 0 {
		t.Fatalf("the sample lacks what the page must show: %d gains, %d failed, anomalies %+v", len(r.Gains), r.Errors.FailedTraces, r.Anomalies)
	}

	t.Run("weighting", func(t *testing.T) {
		w := r.Weighting
		got := b.text("#report-weighting")
		for _, want := range []string{
			fmt.Sprintf("the %s analysed traces at or above %s count once each", jsNum(w.SlowTraces), jsMs(w.SlowThresholdMs)),
			fmt.Sprintf("drawn at a rate of %s", jsPct(w.HashRate, 2)),
			fmt.Sprintf("so the %s analysed traces stand for %s traces of the window", jsNum(r.Traces), jsNum(int(math.Round(w.Represented)))),
		} {
			if !strings.Contains(got, want) {
				t.Errorf("weighting line %q lacks %q", got, want)
			}
		}
	})

	t.Run("gains", func(t *testing.T) {
		if n := b.count(".gains-table tbody tr"); n != len(r.Gains) {
			t.Errorf("%d gain rows, the report has %d", n, len(r.Gains))
		}
		roles := 0
		for i, g := range r.Gains {
			role := g.Role
			if role == "" {
				role = "–"
			} else {
				roles++
			}
			want := []string{g.Stage.String(), role,
				jsMs(g.Faster.P50GainMs), jsMs(g.Faster.P95GainMs), jsMs(g.Faster.MeanGainMs), jsMs(g.Faster.TailMeanGainMs),
				jsMs(g.Removed.P50GainMs), jsMs(g.Removed.P95GainMs), jsMs(g.Removed.TailMeanGainMs)}
			got := b.evalStrings(fmt.Sprintf(`[...document.querySelectorAll('.gains-table tbody tr:nth-child(%d) td')].map(td => td.textContent)`, i+1))
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("gain row %d: %q, want %q", i+1, got, want)
			}
			if g.Role != "" {
				sel := fmt.Sprintf(`.gain-summary[data-stage=%q]`, g.Stage)
				if got := b.text(sel); got != g.Stage.String()+" "+g.Summary {
					t.Errorf("%s summary %q, want %q", g.Stage, got, g.Summary)
				}
			}
		}
		if roles == 0 {
			t.Error("no stage sets the floor or drives the tail")
		}
		if n := b.count(".gain-summary"); n != roles {
			t.Errorf("%d role sentences, %d stages with a role", n, roles)
		}
		// Each finding with a predicted gain says it, with its role.
		k := strconv.FormatFloat(r.Gains[0].Factor, 'f', -1, 64)
		shown := 0
		for i, f := range r.Findings {
			got := b.text(fmt.Sprintf("#findings > li:nth-child(%d) .finding-gain", i+1))
			if f.TailGain == 0 && f.P95Gain == 0 {
				if got != "" {
					t.Errorf("finding %d (%s) shows a gain %q", i+1, f.Title, got)
				}
				continue
			}
			shown++
			want := fmt.Sprintf("%s× faster: the slowest 5%% of requests %s faster on average, the p95 %s faster", k, jsMs(f.TailGainMs), jsMs(f.P95GainMs))
			if f.Role != "" {
				want = f.Role + " " + want
			}
			if got != want {
				t.Errorf("finding %d gain %q, want %q", i+1, got, want)
			}
		}
		if shown == 0 {
			t.Error("no finding shows a predicted gain")
		}
	})

	t.Run("errors", func(t *testing.T) {
		e := r.Errors
		got := b.text("#errors-summary")
		// The sample is weighted: the rate is the window's, not the count's.
		want := fmt.Sprintf("%s of the %s analysed requests failed (weighted back to the window: %s of requests); %s had a failed span; %s failed through a retry that gave up.",
			jsNum(e.FailedTraces), jsNum(r.Traces), jsPct(e.FailureRate, 1), jsNum(e.TracesWithErrors), jsNum(e.GaveUp))
		if !strings.HasPrefix(got, want) {
			t.Errorf("errors summary %q, want it to start %q", got, want)
		}
		if e.Succeeded.Count > 0 && e.Failed.Count > 0 && !strings.Contains(got, "the failures shift the p95 by "+jsMs(e.P95ShiftMs)) {
			t.Errorf("errors summary %q lacks the p95 shift %s", got, jsMs(e.P95ShiftMs))
		}
		if n := b.count(".errors-table tbody tr"); n != len(e.Stages) {
			t.Errorf("%d error rows, the report has %d stages", n, len(e.Stages))
		}
		for _, st := range e.Stages {
			want := []string{st.Stage.String(), jsNum(st.Errors) + " of " + jsNum(st.Spans), jsPct(st.ErrorRate, 1), jsNum(st.Injected),
				jsNum(st.TracesWithErrors) + " of " + jsNum(st.Traces), jsNum(st.FailedRequests), jsNum(st.Absorbed)}
			got := b.evalStrings(fmt.Sprintf(`[...document.querySelectorAll('.errors-table tbody tr[data-stage=%q] td')].map(td => td.textContent)`, st.Stage))
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("error row %s: %q, want %q", st.Stage, got, want)
			}
		}
		if n := b.count("#errors a.exemplar"); n != len(e.Exemplars) {
			t.Errorf("%d failed-request links, the report has %d", n, len(e.Exemplars))
		}
	})

	t.Run("anomalies", func(t *testing.T) {
		an := r.Anomalies
		for kind, n := range map[string]int{"orphans": an.Orphans, "clock_skew": an.ClockSkew, "fire_and_forget": an.FireAndForget, "unreachable": an.Unreachable, "missing_root": an.MissingRoot} {
			if got := b.text(fmt.Sprintf(`.anomalies-table tr[data-kind=%q] td:nth-child(2)`, kind)); got != jsNum(n) {
				t.Errorf("%s: %q spans shown, the report has %d", kind, got, n)
			}
		}
		if n := b.count("#anomalies a.exemplar"); n != len(an.Exemplars) || n == 0 {
			t.Errorf("%d exemplar links, the report has %d", n, len(an.Exemplars))
		}
	})

	t.Run("hostile model name", func(t *testing.T) {
		cells := b.evalStrings(`[...document.querySelectorAll('#view td')].map(td => td.textContent)`)
		if !contains(cells, hostileModel) {
			t.Errorf("the model name is not shown as text in a table cell")
		}
		if !strings.Contains(b.text("#findings"), hostileModel) {
			t.Errorf("the findings do not quote the model name as text")
		}
		if n := b.count("#view img"); n != 0 {
			t.Errorf("%d img elements on the page", n)
		}
	})
	b.shot("bottlenecks-gains")
	b.checkClean("bottlenecks")
}
