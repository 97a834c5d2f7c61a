package handlers_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/handlers"
	"github.com/stagescope/stagescope/spans"
)

// agentTrace is a 300 ms trace with nesting, sub-millisecond spans, a
// hostile span name and model calls in three conventions:
//
//	agent run 0–300
//	  plan <img…>        0–0.2 (200 µs)
//	  retrieve           1–40
//	    embed            1–5
//	    search           5–40
//	      cache lookup   5–5.05 (50 µs)
//	  chat               40–300 (OpenInference messages, gpt-4o, streamed)
//	  gen_ai chat        100–120 (OTel GenAI events, an unpriced model)
//	  ai.generateText    120–130 (Vercel AI SDK attributes)
type agentTrace struct {
	id                                       spans.TraceID
	root, plan, retrieve, embed, search      spans.SpanID
	cache, chat, genai, vercel               spans.SpanID
	userPrompt, assistantAnswer, vercelInput string
}

func newAgentTrace(t *testing.T) (*seeded, agentTrace) {
	t.Helper()
	a := agentTrace{id: spans.NewTraceID(),
		root: spans.NewSpanID(), plan: spans.NewSpanID(), retrieve: spans.NewSpanID(), embed: spans.NewSpanID(),
		search: spans.NewSpanID(), cache: spans.NewSpanID(), chat: spans.NewSpanID(), genai: spans.NewSpanID(), vercel: spans.NewSpanID(),
		userPrompt: nameHostile, assistantAnswer: attrHostile + " answer", vercelInput: "hello <b>there</b>"}
	at := time.Now().Add(-5 * time.Minute).Truncate(time.Millisecond)
	us := func(n int) time.Time { return at.Add(time.Duration(n) * time.Microsecond) }
	mk := func(id, parent spans.SpanID, name string, st spans.Stage, from, to int, attrs ...spans.Attribute) spans.Span {
		return spans.Span{TraceID: a.id, SpanID: id, ParentID: parent, Name: name, Stage: st, Start: us(from), End: us(to),
			Status: spans.StatusOK, Attrs: append([]spans.Attribute{spans.String(spans.KeyService, "agent")}, attrs...)}
	}
	ss := []spans.Span{
		mk(a.root, spans.SpanID{}, "agent run", spans.StageAgent, 0, 300_000),
		mk(a.plan, a.root, "plan "+nameHostile, spans.StageTool, 0, 200),
		mk(a.retrieve, a.root, "retrieve", spans.StageRetrieve, 1000, 40_000),
		mk(a.embed, a.retrieve, "embed", spans.StageEmbed, 1000, 5000),
		mk(a.search, a.retrieve, "search", spans.StageRetrieve, 5000, 40_000),
		mk(a.cache, a.search, "cache lookup", spans.StageStorage, 5000, 5050),
		mk(a.chat, a.root, "chat", spans.StageLLM, 40_000, 300_000,
			spans.String(spans.KeyLLMModel, "gpt-4o"),
			spans.Int64(spans.KeyLLMPromptTokens, 1000), spans.Int64(spans.KeyLLMCompletionTokens, 200),
			spans.Bool(spans.KeyLLMStream, true), spans.Int64(spans.KeyLLMTTFTNanos, int64(50*time.Millisecond)),
			spans.String("llm.input_messages.0.message.role", "system"),
			spans.String("llm.input_messages.0.message.content", "You answer from the passages."),
			spans.String("llm.input_messages.1.message.role", "user"),
			spans.String("llm.input_messages.1.message.content", a.userPrompt),
			spans.String("llm.output_messages.0.message.role", "assistant"),
			spans.String("llm.output_messages.0.message.content", a.assistantAnswer)),
		mk(a.genai, a.root, "gen_ai chat", spans.StageLLM, 100_000, 120_000,
			spans.String(spans.KeyLLMModel, "house-model-7"), spans.Int64(spans.KeyLLMPromptTokens, 50), spans.Int64(spans.KeyLLMCompletionTokens, 5)),
		mk(a.vercel, a.root, "ai.generateText", spans.StageOther, 120_000, 130_000,
			spans.String("ai.prompt", `{"system":"be brief","prompt":"`+strings.ReplaceAll(a.vercelInput, `"`, `\"`)+`"}`),
			spans.String("ai.response.text", "hi")),
	}
	evs := []event.Record{
		{Header: event.Header{Time: us(100_000), TraceID: a.id, SpanID: a.genai}, Name: "gen_ai.user.message", Stage: spans.StageLLM,
			Attrs: []spans.Attribute{spans.String("content", "What is RAG?")}},
		{Header: event.Header{Time: us(120_000), TraceID: a.id, SpanID: a.genai}, Name: "gen_ai.choice", Stage: spans.StageLLM,
			Attrs: []spans.Attribute{spans.String("message", `{"role":"assistant","content":"Retrieval, then generation."}`)}},
	}
	s := serveIngested(t, func(ctx context.Context, coll *collector.Collector) {
		if err := coll.Ingest(ctx, ss, evs); err != nil {
			t.Fatal(err)
		}
	})
	return s, a
}

// A model call's tokens are priced by the server's table: gpt-4o at the
// built-in $2.50 / $10 per million, a model without a price left unpriced.
func TestTraceDetailPricesModelCalls(t *testing.T) {
	s, a := newAgentTrace(t)
	var d handlers.TraceDetail
	s.getJSON("/api/traces/"+a.id.String(), http.StatusOK, &d)
	costs := map[string]*float64{}
	for _, sp := range d.Spans {
		if sp.Tokens != nil {
			costs[sp.Name] = sp.Tokens.CostUSD
		}
	}
	if c := costs["chat"]; c == nil || math.Abs(*c-0.0045) > 1e-12 {
		t.Errorf("chat cost %v, want 1000×2.5/1e6 + 200×10/1e6 = 0.0045", c)
	}
	if c, ok := costs["gen_ai chat"]; !ok || c != nil {
		t.Errorf("unpriced model: tokens present %v, cost %v; want tokens without a cost", ok, c)
	}
}

func (b *browser) rect(sel string) (left, top, width, height float64) {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]float64](fmt.Sprintf(`(() => { const r = document.querySelector(%q).getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()`, sel)))
	if err != nil || len(v) != 4 {
		b.t.Fatalf("rect of %s: %v", sel, err)
	}
	return v[0], v[1], v[2], v[3]
}

// drag presses the left button at (x0, y), moves to x1 in steps and releases.
func (b *browser) drag(x0, x1, y float64) {
	b.t.Helper()
	acts := []chromedp.Action[chromedp.Void]{chromedp.MouseEvent(chromedp.MousePressed, x0, y, chromedp.ButtonLeft)}
	for k := 1; k <= 5; k++ {
		acts = append(acts, chromedp.MouseEvent(chromedp.MouseMoved, x0+(x1-x0)*float64(k)/5, y, chromedp.ButtonLeft))
	}
	acts = append(acts, chromedp.MouseEvent(chromedp.MouseReleased, x1, y, chromedp.ButtonLeft))
	if err := chromedp.Do(b.ctx, acts...); err != nil {
		b.t.Fatalf("drag: %v", err)
	}
}

func (b *browser) key(k string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.KeyEvent(k)); err != nil {
		b.t.Fatalf("key %q: %v", k, err)
	}
}

func (b *browser) evalFloats(expr string) []float64 {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]float64](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

const selectedName = `(document.querySelector('.wf-row.selected .span-name') || {}).textContent`

func TestWaterfallInBrowser(t *testing.T) {
	bin := chromium(t)
	s, a := newAgentTrace(t)
	b0 := startBrowser(t, bin, s)
	row := func(id spans.SpanID) string { return fmt.Sprintf(`.wf-row[data-span-id=%q]`, id.String()) }
	visibleRows := `[...document.querySelectorAll('.wf-row.span-row')].filter(r => !r.hidden).map(r => r.querySelector('.span-name').textContent)`

	t.Run("sub-millisecond spans are readable", func(t *testing.T) {
		b := b0.with(t)
		b.open("trace/"+a.id.String(), "trace")
		for _, c := range []struct {
			id    spans.SpanID
			label string
		}{{a.plan, "200 µs"}, {a.cache, "50 µs"}} {
			if _, _, w, _ := b.rect(row(c.id) + " .wf-bar"); w < 3 {
				t.Errorf("%s bar is %.1f px wide, want at least 3", c.label, w)
			}
			if got := b.text(row(c.id) + " .wf-bar-label"); got != c.label {
				t.Errorf("bar label %q, want %q", got, c.label)
			}
		}
		b.checkClean("sub-millisecond")
	})

	t.Run("collapse and keyboard", func(t *testing.T) {
		b := b0.with(t)
		b.open("trace/"+a.id.String(), "trace")
		all := b.evalStrings(visibleRows)
		if len(all) != 9 {
			t.Fatalf("%d rows shown, want 9: %q", len(all), all)
		}
		b.click(row(a.retrieve) + " .wf-toggle")
		if got := b.evalStrings(visibleRows); len(got) != 6 || contains(got, "embed") || contains(got, "cache lookup") {
			t.Errorf("after folding retrieve: %q", got)
		}
		if got := b.text(row(a.retrieve) + " .wf-hidden-count"); got != "+3" {
			t.Errorf("folded row says %q, want +3", got)
		}
		// The critical path still runs, through the folded row.
		b.waitFor("the path", `document.querySelector('#wf-critical').getAttribute('d').startsWith('M')`)
		b.click(row(a.retrieve) + " .wf-toggle")
		if got := b.evalStrings(visibleRows); len(got) != 9 {
			t.Errorf("after unfolding: %q", got)
		}
		// Keyboard: from the root, down twice to retrieve, left folds it,
		// right unfolds it, right again enters its first child, left goes
		// back to the parent, up goes to the plan.
		b.click(row(a.root) + " .span-name")
		b.waitFor("root selected", selectedName+` === 'agent run'`)
		steps := []struct{ key, want string }{
			{kb.ArrowDown, "plan " + nameHostile}, {kb.ArrowDown, "retrieve"},
			{kb.ArrowLeft, "retrieve"}, {kb.ArrowRight, "retrieve"}, {kb.ArrowRight, "embed"},
			{kb.ArrowDown, "search"}, {kb.ArrowLeft, "search"}, {kb.ArrowDown, "chat"}, {kb.ArrowUp, "search"},
			{kb.ArrowLeft, "retrieve"}, {kb.ArrowUp, "plan " + nameHostile},
		}
		for i, st := range steps {
			b.key(st.key)
			b.waitFor(fmt.Sprintf("step %d (%q) to select %q", i, st.key, st.want), fmt.Sprintf(`%s === %q && document.activeElement === document.querySelector('.wf-row.selected')`, selectedName, st.want))
			if i == 2 { // the left arrow folded retrieve
				if got := b.evalStrings(visibleRows); len(got) != 6 {
					t.Errorf("left arrow on retrieve shows %d rows, want 6 (folded)", len(got))
				}
			}
			if i == 6 { // left on search folded it: cache lookup hidden
				if got := b.evalStrings(visibleRows); contains(got, "cache lookup") {
					t.Errorf("left arrow on search left cache lookup shown")
				}
			}
		}
		if got := b.text("#span-details .detail-name"); got != "plan "+nameHostile {
			t.Errorf("details of %q, want the plan span's", got)
		}
		b.checkClean("keyboard")
	})

	t.Run("search highlights", func(t *testing.T) {
		b := b0.with(t)
		b.open("trace/"+a.id.String(), "trace")
		b.click(row(a.retrieve) + " .wf-toggle") // folded: the search unfolds it
		if err := chromedp.Do(b.ctx, chromedp.SendKeys("#span-search", "CACHE")); err != nil {
			t.Fatal(err)
		}
		b.waitFor("the match", `document.querySelectorAll('.wf-row.match').length === 1`)
		if got := b.text(".wf-row.match .span-name mark"); got != "cache" {
			t.Errorf("highlighted %q, want cache", got)
		}
		if got := b.evalStrings(visibleRows); !contains(got, "cache lookup") {
			t.Errorf("the match is folded away: %q", got)
		}
		if got := b.text("#span-search-count"); got != "1 of 9 spans match" {
			t.Errorf("count %q", got)
		}
		b.key(kb.Enter)
		b.waitFor("the match selected", selectedName+` === 'cache lookup'`)
		// Hostile text matches as text: a mark, never an element from it.
		b.evalInt(`(() => { const i = document.querySelector('#span-search'); i.value = ''; i.dispatchEvent(new Event('input')); return 1; })()`)
		if err := chromedp.Do(b.ctx, chromedp.SendKeys("#span-search", "onerror")); err != nil {
			t.Fatal(err)
		}
		// The plan's name and the chat's user message hold it.
		b.waitFor("the hostile matches", `document.querySelectorAll('.wf-row.match').length === 2`)
		if got := b.evalStrings(`[...document.querySelectorAll('.wf-row.match .span-name')].map(e => e.textContent)`); fmt.Sprint(got) != fmt.Sprint([]string{"plan " + nameHostile, "chat"}) {
			t.Errorf("hostile matches %q", got)
		}
		if got := b.text(row(a.plan) + " mark"); got != "onerror" {
			t.Errorf("hostile mark %q", got)
		}
		if n := b.count("#view img, #view script"); n != 0 {
			t.Errorf("%d img/script elements made from span text", n)
		}
		if n := b.count(".wf-row.nomatch"); n != 7 {
			t.Errorf("%d rows dimmed, want 7", n)
		}
		b.checkClean("search")
	})

	t.Run("zoom by drag, minimap, reset", func(t *testing.T) {
		b := b0.with(t)
		b.open("trace/"+a.id.String(), "trace")
		left, _, width, _ := b.rect(".wf-axis")
		_, top, _, h := b.rect(row(a.chat) + " .wf-track")
		// Drag over a quarter to a half of the 300 ms trace: 75–150 ms.
		b.drag(left+0.25*width, left+0.5*width, top+h/2)
		b.waitFor("the zoom", `document.querySelector('#waterfall').dataset.zoom !== ''`)
		z := b.evalFloats(`document.querySelector('#waterfall').dataset.zoom.split(',').map(Number)`)
		if len(z) != 2 || math.Abs(z[0]-75) > 2 || math.Abs(z[1]-150) > 2 {
			t.Fatalf("zoomed to %v ms, want about [75 150]", z)
		}
		if !strings.Contains(b.evalStrings(`[location.hash]`)[0], "zoom=") {
			t.Error("the zoom is not in the URL")
		}
		// retrieve (1–40 ms) is outside; chat (40–300) fills the track.
		if b.evalInt(`document.querySelector('`+row(a.retrieve)+` .wf-bar').hidden ? 1 : 0`) != 1 {
			t.Error("retrieve's bar is shown outside the zoomed range")
		}
		if got := b.evalStrings(`[document.querySelector('` + row(a.chat) + ` .wf-bar').style.left, document.querySelector('` + row(a.chat) + ` .wf-bar').style.width]`); got[0] != "0%" || got[1] != "100%" {
			t.Errorf("chat bar at %v, want 0%% 100%%", got)
		}
		mm := b.evalFloats(`[parseFloat(document.querySelector('#wf-mm-window').style.left), parseFloat(document.querySelector('#wf-mm-window').style.width)]`)
		if math.Abs(mm[0]-25) > 1 || math.Abs(mm[1]-25) > 1 {
			t.Errorf("minimap window at %v %%, want about [25 25]", mm)
		}
		if got := b.text("#wf-zoom-range"); !strings.Contains(got, "of 300 ms") {
			t.Errorf("zoom note %q", got)
		}
		// The drag selected no row.
		if got := b.evalStrings(`[` + selectedName + ` || '']`)[0]; got != "agent run" {
			t.Errorf("the drag changed the selection to %q", got)
		}
		b.click("#wf-reset-zoom")
		b.waitFor("the reset", `document.querySelector('#waterfall').dataset.zoom === '' && !location.hash.includes('zoom=')`)
		if b.evalInt(`document.querySelector('`+row(a.retrieve)+` .wf-bar').hidden ? 1 : 0`) != 0 {
			t.Error("retrieve's bar still hidden after the reset")
		}
		// The minimap: drag over its first tenth, 0–30 ms.
		ml, mt, mw, mh := b.rect("#wf-minimap")
		b.drag(ml+1, ml+0.1*mw, mt+mh/2)
		b.waitFor("the minimap zoom", `document.querySelector('#waterfall').dataset.zoom !== ''`)
		z = b.evalFloats(`document.querySelector('#waterfall').dataset.zoom.split(',').map(Number)`)
		if len(z) != 2 || z[0] > 2 || math.Abs(z[1]-30) > 2 {
			t.Errorf("minimap zoomed to %v ms, want about [0 30]", z)
		}
		// Reloading the URL keeps the zoom.
		hash := b.evalStrings(`[location.hash]`)[0]
		b.open(strings.TrimPrefix(hash, "#/"), "trace")
		if got := b.evalStrings(`[document.querySelector('#waterfall').dataset.zoom]`)[0]; got == "" {
			t.Error("the zoom was lost on reload")
		}
		b.checkClean("zoom")
	})

	t.Run("deep link to a span and JSON download", func(t *testing.T) {
		b := b0.with(t)
		b.open("trace/"+a.id.String()+"?span="+a.cache.String(), "trace")
		if got := b.text("#span-details .detail-name"); got != "cache lookup" {
			t.Errorf("the link opened %q, want cache lookup", got)
		}
		if b.evalInt(`(() => { const r = document.querySelector('.wf-row.selected').getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight ? 1 : 0; })()`) != 1 {
			t.Error("the linked span is not scrolled into view")
		}
		// Selecting another span puts it in the URL, and the details link to it.
		b.click(row(a.embed) + " .span-name")
		b.waitFor("the URL", fmt.Sprintf(`location.hash.includes('span=%s')`, a.embed))
		if href := b.evalStrings(`[document.querySelector('#span-link').getAttribute('href')]`)[0]; !strings.Contains(href, "span="+a.embed.String()) || !strings.Contains(href, a.id.String()) {
			t.Errorf("span link %q", href)
		}
		if got := b.evalStrings(`[document.querySelector('#download-json').getAttribute('href'), document.querySelector('#download-json').getAttribute('download')]`); got[0] != "/api/traces/"+a.id.String() || got[1] != "trace-"+a.id.String()+".json" {
			t.Errorf("download link %v", got)
		}
		got, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`fetch(document.querySelector('#download-json').href).then(r => r.json()).then(j => j.trace_id + ' ' + j.spans.length)`, chromedp.EvalAwaitPromise))
		if err != nil || got != a.id.String()+" 9" {
			t.Errorf("downloaded %q (%v), want the trace with 9 spans", got, err)
		}
		// An unknown span says so and shows the trace.
		b.open("trace/"+a.id.String()+"?span=0000000000000001", "trace")
		if got := b.text("#span-details"); !strings.Contains(got, "Span 0000000000000001 is not in this trace") {
			t.Errorf("unknown span: %.200s", got)
		}
		b.checkClean("deep link")
	})

	t.Run("model calls as text", func(t *testing.T) {
		b := b0.with(t)
		b.open("trace/"+a.id.String()+"?span="+a.chat.String(), "trace")
		roles := b.evalStrings(`[...document.querySelectorAll('#llm-view .chat-input .chat-msg')].map(m => m.dataset.role + ': ' + m.querySelector('.chat-text').textContent)`)
		if want := []string{"system: You answer from the passages.", "user: " + a.userPrompt}; fmt.Sprint(roles) != fmt.Sprint(want) {
			t.Errorf("input messages %q, want %q", roles, want)
		}
		if got := b.text("#llm-view .chat-output .chat-text"); got != a.assistantAnswer {
			t.Errorf("output %q, want %q", got, a.assistantAnswer)
		}
		for fact, want := range map[string]string{"model": "gpt-4o", "prompt": "1,000", "completion": "200", "cost": "$0.0045", "ttft": "50.0 ms"} {
			if got := b.text(`#llm-view [data-fact="` + fact + `"]`); !strings.HasSuffix(got, want) {
				t.Errorf("%s shows %q, want it to end in %q", fact, got, want)
			}
		}
		if n := b.count("#view img, #view script"); n != 0 {
			t.Errorf("%d img/script elements made from messages", n)
		}
		b.shot("trace-llm")
		b.open("trace/"+a.id.String()+"?span="+a.genai.String(), "trace")
		if got := b.evalStrings(`[...document.querySelectorAll('#llm-view .chat-msg')].map(m => m.dataset.role + ': ' + m.querySelector('.chat-text').textContent)`); fmt.Sprint(got) != fmt.Sprint([]string{"user: What is RAG?", "assistant: Retrieval, then generation."}) {
			t.Errorf("GenAI event messages %q", got)
		}
		if got := b.text(`#llm-view [data-fact="cost"]`); !strings.Contains(got, "no price") {
			t.Errorf("unpriced model's cost shows %q", got)
		}
		b.open("trace/"+a.id.String()+"?span="+a.vercel.String(), "trace")
		if got := b.evalStrings(`[...document.querySelectorAll('#llm-view .chat-msg')].map(m => m.dataset.role + ': ' + m.querySelector('.chat-text').textContent)`); fmt.Sprint(got) != fmt.Sprint([]string{"system: be brief", "user: " + a.vercelInput, "response: hi"}) {
			t.Errorf("Vercel AI SDK messages %q", got)
		}
		if n := b.count("#view b"); n != 0 {
			t.Errorf("markup from a prompt became %d elements", n)
		}
		b.checkClean("model calls")
	})

	for _, d := range b0.dialogs.take() {
		t.Errorf("a script ran: %s", d)
	}
}
