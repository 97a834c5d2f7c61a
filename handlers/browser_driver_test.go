package handlers_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// browser drives one headless Chromium tab against a seeded server and
// records what must not happen in the page.
type browser struct {
	t        *testing.T
	ctx      context.Context
	base     string
	dir      string
	problems *browserProblems
	dialogs  *browserProblems
}

// startBrowser starts Chromium (stopped at the end of the test) and watches
// the console — API calls, exceptions and the browser log, where CSP
// violations and failed loads land — and dialogs: an alert would mean
// injected script ran.
func startBrowser(t *testing.T, bin string, s *seeded) *browser {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	var watchers sync.WaitGroup
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
		cancel()
		watchers.Wait()
	})
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[int](`1`)); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	b := &browser{t: t, ctx: bctx, base: s.ts.URL, dir: artifacts(t), problems: &browserProblems{}, dialogs: &browserProblems{}}
	console := chromedp.Console(bctx)
	dialogEvents := chromedp.Events(bctx, page.JavascriptDialogOpening)
	watchers.Add(2)
	go func() {
		defer watchers.Done()
		for m, err := range console {
			if err != nil {
				return
			}
			switch m.Type {
			case chromedp.ConsoleError, chromedp.ConsoleWarning, chromedp.ConsoleException:
				b.problems.add("console %s: %s (%s)", m.Type, m.Text, m.URL)
			}
		}
	}()
	go func() {
		defer watchers.Done()
		for ev, err := range dialogEvents {
			if err != nil {
				return
			}
			b.dialogs.add("%s dialog: %q", ev.Type, ev.Message)
			_, _ = chromedp.Call(bctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	return b
}

// with returns b reporting to t (a subtest).
func (b *browser) with(t *testing.T) *browser {
	c := *b
	c.t = t
	return &c
}

func (b *browser) shot(name string) {
	buf, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(b.dir, name+".png"), buf, 0o644); err != nil {
		b.t.Error(err)
	}
}

func (b *browser) viewText() string {
	v, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`(document.querySelector('#view') || document.body).textContent`))
	return v
}

// open navigates to a hash route and waits until the page has rendered.
func (b *browser) open(route, pageName string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Navigate(b.base+"/#/"+route)); err != nil {
		b.t.Fatalf("open %s: %v", route, err)
	}
	b.ready(route, pageName)
}

// ready waits until pageName has rendered and checks that it succeeded.
func (b *browser) ready(route, pageName string) {
	b.t.Helper()
	state, err := chromedp.Run(b.ctx, chromedp.Poll[string](fmt.Sprintf(
		`document.body.dataset.page === %q && document.body.dataset.state !== 'loading' && document.body.dataset.state`, pageName)))
	if err != nil {
		b.t.Fatalf("open %s: %v; page shows %.300s", route, err, b.viewText())
	}
	if state != "ready" {
		b.t.Fatalf("page %s ended in state %q: %.500s", route, state, b.viewText())
	}
}

func (b *browser) evalInt(expr string) int {
	b.t.Helper()
	n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return n
}

func (b *browser) evalStrings(expr string) []string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitFor polls a condition until it holds (the test deadline guards it).
func (b *browser) waitFor(what, expr string) {
	b.t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](expr)); err != nil {
		b.t.Fatalf("waiting for %s: %v; page shows: %.500s", what, err, b.viewText())
	}
}

func (b *browser) click(sel string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		b.t.Fatalf("click %s: %v", sel, err)
	}
}

func (b *browser) setValue(sel, v string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.SetValue(chromedp.CSS(sel), v)); err != nil {
		b.t.Fatalf("set %s: %v", sel, err)
	}
}

// checkClean fails the test for every console problem and dialog since the
// last call, except messages accepted by allow.
func (b *browser) checkClean(pageName string, allow ...func(string) bool) {
	b.t.Helper()
next:
	for _, p := range b.problems.take() {
		for _, ok := range allow {
			if ok(p) {
				continue next
			}
		}
		b.t.Errorf("%s: %s", pageName, p)
	}
	for _, d := range b.dialogs.take() {
		b.t.Errorf("%s: a script ran: %s", pageName, d)
	}
}

// pick chooses value in a select element as a user would: the value
// changes and a change event fires.
func (b *browser) pick(sel, value string) {
	b.t.Helper()
	js := fmt.Sprintf(`(() => { const s = document.querySelector(%q); s.value = %q; s.dispatchEvent(new Event('change', { bubbles: true })); return s.value; })()`, sel, value)
	got, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](js))
	if err != nil {
		b.t.Fatalf("pick %q in %s: %v", value, sel, err)
	}
	if got != value {
		b.t.Fatalf("pick %q in %s: the select has no such option (value %q)", value, sel, got)
	}
}

func (b *browser) count(sel string) int {
	b.t.Helper()
	return b.evalInt(fmt.Sprintf(`document.querySelectorAll(%q).length`, sel))
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ''`, sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return v
}
