package handlers_test

import (
	"fmt"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/stagescope/stagescope/handlers"
)

// On a phone (390×844) no page scrolls sideways: wide tables and the
// waterfall scroll inside their cards, the header stays short, and table
// rows stay one line high.
func TestPhoneLayoutInBrowser(t *testing.T) {
	bin := chromium(t)
	s := newSeeded(t, handlers.WithJaegerUI("http://127.0.0.1:16686"))
	b := startBrowser(t, bin, s)
	if err := chromedp.Do(b.ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2))); err != nil {
		t.Fatal(err)
	}
	pages := []struct{ route, page, wait string }{
		{"overview", "overview", `document.querySelectorAll('.uplot').length === 6`},
		{"traces", "traces", `!!document.querySelector('#duration-scatter .uplot')`},
		{"trace/" + s.ids["slow"][0].String(), "trace", `document.querySelector('#wf-critical').getAttribute('d') !== ''`},
		{"trace/" + s.ids["hostile"][0].String(), "trace", `true`},
		{"bottlenecks", "bottlenecks", `true`},
		{"compare", "compare", `true`},
		{"compare?mode=runs&base_run=" + runBase + "&cand_run=" + runCand, "compare", `true`},
		{"live", "live", `true`},
		{"runs", "runs", `document.querySelectorAll('.uplot').length >= 1`},
		{"diff?a=" + s.ids["normal"][0].String() + "&b=" + s.ids["slow"][0].String(), "diff", `true`},
	}
	for _, p := range pages {
		b.open(p.route, p.page)
		b.waitFor(p.route+" drawn", p.wait)
		if w := b.evalInt(`innerWidth`); w != 390 {
			t.Fatalf("viewport %d px wide, want 390", w)
		}
		if sw := b.evalInt(`document.scrollingElement.scrollWidth`); sw > 390 {
			wide := b.evalStrings(`[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > innerWidth + 1 && !e.closest('.card, .wf-scroll, .table-scroll, .chart, #nav')).slice(0, 5).map(e => e.tagName + '.' + e.className)`)
			t.Errorf("%s scrolls sideways: %d px wide in a 390 px viewport; too wide: %v", p.route, sw, wide)
		}
		if h := b.evalInt(`Math.round(document.querySelector('header.top').getBoundingClientRect().height)`); h > 100 {
			t.Errorf("%s: the header takes %d px, want at most 100", p.route, h)
		}
		if h := b.evalInt(`Math.max(0, ...[...document.querySelectorAll('.traces-table tbody tr, .stages-table tbody tr, .runs-table tbody tr')].map(r => Math.round(r.getBoundingClientRect().height)))`); h > 44 {
			t.Errorf("%s: a table row is %d px tall, want at most 44", p.route, h)
		}
		b.shot("phone-" + p.page + fmt.Sprint(len(p.route)))
	}
	b.checkClean("phone")
}

// The theme follows the system: dark by default and when asked, light
// when the system prefers light.
func TestThemeFollowsTheSystemInBrowser(t *testing.T) {
	bin := chromium(t)
	s := newSeeded(t)
	b := startBrowser(t, bin, s)
	for _, c := range []struct{ scheme, bg string }{{"dark", "rgb(15, 23, 42)"}, {"light", "rgb(248, 250, 252)"}} {
		if _, err := chromedp.Call(b.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: c.scheme}}}); err != nil {
			t.Fatal(err)
		}
		b.open("trace/"+s.ids["slow"][0].String(), "trace")
		if got := b.evalStrings(`[getComputedStyle(document.body).backgroundColor]`)[0]; got != c.bg {
			t.Errorf("%s: background %s, want %s", c.scheme, got, c.bg)
		}
		b.shot("theme-" + c.scheme)
	}
	b.checkClean("themes")
}
