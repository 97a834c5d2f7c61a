package handlers

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/collector/analysis"
	"github.com/stagescope/stagescope/collector/tracetree"
	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/spans"
	"github.com/stagescope/stagescope/spans/semconv"
)

// TraceDetail is the answer of GET /api/traces/:id.
type TraceDetail struct {
	TraceRow
	// JaegerURL opens the same trace in Jaeger's UI (when configured).
	JaegerURL    string        `json:"jaeger_url,omitempty"`
	CriticalPath []PathSegment `json:"critical_path"`
	// Spans are in depth-first order (children by start), as a waterfall
	// shows them.
	Spans []SpanDetail `json:"spans"`
}

// PathSegment is a stretch of the critical path, placed on the trace.
type PathSegment struct {
	SpanID     string  `json:"span_id"`
	Name       string  `json:"name"`
	Stage      string  `json:"stage"`
	ChargedTo  string  `json:"charged_to"`
	OffsetMs   float64 `json:"offset_ms"`
	DurationMs float64 `json:"duration_ms"`
}

// SpanDetail is one span of a trace.
type SpanDetail struct {
	SpanID     string  `json:"span_id"`
	ParentID   string  `json:"parent_id,omitempty"`
	Name       string  `json:"name"`
	Stage      string  `json:"stage"`
	Scope      string  `json:"scope,omitempty"`
	Status     string  `json:"status"`
	Error      string  `json:"error,omitempty"`
	Depth      int     `json:"depth"`
	OffsetMs   float64 `json:"offset_ms"`
	DurationMs float64 `json:"duration_ms"`
	SelfMs     float64 `json:"self_ms"`
	// Critical is set when the span or one of its descendants is on the
	// critical path; CriticalMs is the path time spent in the span itself.
	Critical   bool    `json:"critical"`
	CriticalMs float64 `json:"critical_ms"`
	// Flags say how the span sits in its trace: "orphan" (its parent is
	// missing; shown under the root), "clock_skew", "fire_and_forget",
	// "unreachable" (in a parent cycle).
	Flags  []string          `json:"flags,omitempty"`
	Attrs  []spans.Attribute `json:"attrs"`
	Tags   []spans.Tag       `json:"tags"`
	Links  []spans.Link      `json:"links,omitempty"`
	Events []EventDetail     `json:"events"`
	Tokens *Tokens           `json:"tokens,omitempty"`
	// FirstToken is set on a model call whose answer was streamed
	// (semconv.StreamedFirstToken).
	FirstToken *FirstToken `json:"first_token,omitempty"`
}

// FirstToken is when a streamed answer began: TTFTMs after the span
// started, and StreamMs from then to the span's end.
type FirstToken struct {
	TTFTMs   float64 `json:"ttft_ms"`
	StreamMs float64 `json:"stream_ms"`
}

// EventDetail is one event of a span.
type EventDetail struct {
	Name     string            `json:"name"`
	Stage    string            `json:"stage"`
	OffsetMs float64           `json:"offset_ms"`
	Attrs    []spans.Attribute `json:"attrs"`
}

// Tokens is what a model call or an embedding used.
type Tokens struct {
	Model      string `json:"model,omitempty"`
	Prompt     int64  `json:"prompt"`
	Completion int64  `json:"completion"`
	Embedding  int64  `json:"embedding,omitempty"`
	// CostUSD is what the tokens cost at the server's price table
	// (WithPriceTable, else analysis.DefaultPrices); absent when the model
	// has no price.
	CostUSD *float64 `json:"cost_usd,omitempty"`
}

// getTrace handles GET /api/traces/:id; with service, a trace that has no
// span of that service is not found.
func (s *Server) getTrace(c echo.Context) error {
	p, err := parseParams(c, "service")
	if err != nil {
		return err
	}
	service, err := p.service("service")
	if err != nil {
		return err
	}
	id, err := traceIDParam(c.Param("id"))
	if err != nil {
		return err
	}
	t, err := s.src.GetTrace(c.Request().Context(), id)
	if err != nil {
		return storeError("trace "+id.String(), err)
	}
	if service != "" && !inService(t, service) {
		return &apiError{status: http.StatusNotFound, msg: "trace " + id.String() + " has no span of service " + strconv.Quote(truncate(service, 64))}
	}
	d := buildTraceDetail(t, s.priceTable())
	if s.cfg.jaegerUI != "" {
		d.JaegerURL = strings.TrimRight(s.cfg.jaegerUI, "/") + "/trace/" + id.String()
	}
	return c.JSON(http.StatusOK, d)
}

// inService reports whether a trace belongs to service: its summary's
// service, or any span's.
func inService(t *collector.Trace, service string) bool {
	if t.Summary.Service == service {
		return true
	}
	for i := range t.Spans {
		if t.Spans[i].Service() == service {
			return true
		}
	}
	return false
}

// buildTraceDetail arranges a stored trace for the waterfall, pricing token
// use with prices.
func buildTraceDetail(t *collector.Trace, prices map[string]analysis.Price) TraceDetail {
	d := TraceDetail{TraceRow: toRow(t.Summary), CriticalPath: []PathSegment{}, Spans: make([]SpanDetail, 0, len(t.Spans))}
	ptrs := t.Spans
	base := t.Summary.Start
	for _, sp := range ptrs {
		if base.IsZero() || (!sp.Start.IsZero() && sp.Start.Before(base)) {
			base = sp.Start
		}
	}
	offset := func(at time.Time) float64 { return millis(at.Sub(base)) }

	// The one trace tree (package tracetree): children by start, a span
	// whose parent is missing adopted by the root and flagged, as the
	// report and the self times see the trace. ptrs has no nil, so node i
	// is span i (a virtual root, when there is one, comes after them).
	tr := tracetree.New()
	tr.Build(tracetree.Trace{Spans: ptrs})

	// Critical path, and per-span time on it.
	onPath := map[spans.SpanID]time.Duration{}
	for _, seg := range analysis.CriticalPath(analysis.Trace{Spans: ptrs}) {
		d.CriticalPath = append(d.CriticalPath, PathSegment{
			SpanID: seg.SpanID.String(), Name: seg.Name, Stage: seg.Stage.String(), ChargedTo: seg.ChargedTo.String(),
			OffsetMs: offset(seg.Start), DurationMs: millis(seg.Duration),
		})
		if !seg.SpanID.IsZero() {
			onPath[seg.SpanID] += seg.Duration
		}
	}

	// A span's events in time order, whatever order the source kept them
	// in (the store reads them by time; Jaeger's query service does not).
	byTime := make([]*event.Record, 0, len(t.Events))
	for i := range t.Events {
		byTime = append(byTime, &t.Events[i])
	}
	slices.SortStableFunc(byTime, func(a, b *event.Record) int { return a.Time.Compare(b.Time) })
	events := map[spans.SpanID][]EventDetail{}
	for _, e := range byTime {
		events[e.SpanID] = append(events[e.SpanID], eventDetail(e, offset))
	}

	// A span is on the critical path when it or a descendant is what the
	// trace waited for at some moment.
	onChain := make([]bool, len(tr.Nodes))
	for i, sp := range ptrs {
		if _, ok := onPath[sp.SpanID]; !ok {
			continue
		}
		for j := int32(i); j >= 0 && !onChain[j]; j = tr.Nodes[j].Parent {
			onChain[j] = true
		}
	}

	emit := func(v int32, depth int) {
		sp := tr.Nodes[v].Span
		sd := SpanDetail{
			SpanID: sp.SpanID.String(), Name: sp.Name, Stage: sp.Stage.String(), Scope: sp.Scope,
			Status: sp.Status.String(), Error: sp.Err, Depth: depth,
			OffsetMs: offset(sp.Start), DurationMs: millis(sp.Duration()),
			SelfMs: millis(time.Duration(tr.SelfTime(v))), Critical: onChain[v], CriticalMs: millis(onPath[sp.SpanID]),
			Flags: flagNames(tr.Nodes[v].Flags),
			Attrs: nonNil(sp.Attrs), Tags: nonNil(sp.Tags), Links: sp.Links,
			Events: nonNil(events[sp.SpanID]), Tokens: tokensOf(sp, prices), FirstToken: firstTokenOf(sp),
		}
		if !sp.ParentID.IsZero() {
			sd.ParentID = sp.ParentID.String()
		}
		d.Spans = append(d.Spans, sd)
	}
	var walk func(v int32, depth int)
	walk = func(v int32, depth int) {
		if tr.Nodes[v].Span == nil { // a virtual root: its children are the top level
			depth--
		} else {
			emit(v, depth)
		}
		for _, k := range tr.Children(v) {
			walk(k, depth+1)
		}
	}
	walk(tr.Root, 0)
	// Spans caught in a parent cycle are not reachable from the root; they
	// are listed last, flagged.
	for v := range ptrs {
		if tr.Nodes[v].Flags&tracetree.Unreachable != 0 {
			emit(int32(v), 0)
		}
	}
	return d
}

// flagNames spells out how a span sits in its trace (tracetree.Flags).
func flagNames(f tracetree.Flags) []string {
	var out []string
	for _, n := range []struct {
		flag tracetree.Flags
		name string
	}{
		{tracetree.Orphan, "orphan"}, {tracetree.ClockSkew, "clock_skew"},
		{tracetree.FireAndForget, "fire_and_forget"}, {tracetree.Unreachable, "unreachable"},
	} {
		if f&n.flag != 0 {
			out = append(out, n.name)
		}
	}
	return out
}

func eventDetail(e *event.Record, offset func(time.Time) float64) EventDetail {
	return EventDetail{Name: e.Name, Stage: e.Stage.String(), OffsetMs: offset(e.Time), Attrs: nonNil(e.Attrs)}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// firstTokenOf reads when a streamed answer began; nil for other spans.
func firstTokenOf(sp *spans.Span) *FirstToken {
	ttft, ok := semconv.StreamedFirstToken(sp)
	if !ok {
		return nil
	}
	return &FirstToken{TTFTMs: millis(ttft), StreamMs: millis(max(sp.Duration()-ttft, 0))}
}

// tokensOf reads a span's token use, in whichever convention it was
// written (semconv), and its cost at prices; nil when it reports none.
func tokensOf(sp *spans.Span, prices map[string]analysis.Price) *Tokens {
	u := semconv.UsageOf(sp)
	if u.Zero() {
		return nil
	}
	tk := &Tokens{Prompt: u.Prompt, Completion: u.Completion, Embedding: u.Embedding, Model: semconv.Model(sp)}
	if tk.Model != "" {
		if p, ok := analysis.PriceOf(prices, tk.Model); ok {
			tk.CostUSD = ptr(p.Cost(u.Prompt, u.Completion, u.Embedding))
		}
	}
	return tk
}
