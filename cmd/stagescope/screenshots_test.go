package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// screenshotDir is where the README's screenshots live.
const screenshotDir = "../../web/screenshots"

// TestReadmeScreenshots regenerates the README's screenshots from the
// README's planted-bottleneck command: it runs that demo (as
// TestReadmePlantedHeadlineIsReproduced does: the command as written, 120
// queries into a new database), serves the database with `stagescope
// serve`, and saves the Bottlenecks page of the demo's run and the Overview
// (last 15 minutes) at 1440×1000 into web/screenshots/ — after checking that the page's first
// finding names the planted stage, so the picture shows what the command
// produces. It rewrites tracked files, so it runs only with
// STAGESCOPE_SCREENSHOTS=1 (and STAGESCOPE_CHROMIUM):
//
//	STAGESCOPE_SCREENSHOTS=1 STAGESCOPE_CHROMIUM=$(command -v chromium) go test -run TestReadmeScreenshots ./cmd/stagescope/
func TestReadmeScreenshots(t *testing.T) {
	if os.Getenv("STAGESCOPE_SCREENSHOTS") != "1" {
		t.Skip("STAGESCOPE_SCREENSHOTS=1 regenerates web/screenshots/ (tracked files)")
	}
	bin := os.Getenv("STAGESCOPE_CHROMIUM")
	if bin == "" {
		t.Fatal("STAGESCOPE_SCREENSHOTS=1 needs STAGESCOPE_CHROMIUM (path of a chromium binary)")
	}
	args, planted := readmePlant(t)
	data := t.TempDir()
	runID := runReadmeDemo(t, data, args)
	srv := startServer(t, "serve", "--addr", "127.0.0.1:0", "--data", data)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1440, 1000))
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(1440, 1000)); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	// open shows a route and waits until its page has rendered and extra
	// holds.
	open := func(route, page, extra string) {
		t.Helper()
		if err := chromedp.Do(bctx, chromedp.Navigate(srv.url+"#/"+route)); err != nil {
			t.Fatalf("open %s: %v", route, err)
		}
		ready := `document.body.dataset.page === '` + page + `' && document.body.dataset.state === 'ready'`
		if extra != "" {
			ready += " && " + extra
		}
		if _, err := chromedp.Run(bctx, chromedp.Poll[bool](ready)); err != nil {
			t.Fatalf("%s did not render: %v", route, err)
		}
	}
	save := func(name string) {
		t.Helper()
		buf, err := chromedp.Run(bctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		path := filepath.Join(screenshotDir, name)
		if err := os.WriteFile(path, buf, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d bytes)", path, len(buf))
	}

	open("bottlenecks?run="+runID, "bottlenecks", "document.querySelectorAll('#findings > li').length > 0")
	first, err := chromedp.Run(bctx, chromedp.Evaluate[struct {
		Stage string `json:"stage"`
		Kind  string `json:"kind"`
	}](`({...document.querySelector('#findings > li').dataset})`))
	if err != nil {
		t.Fatal(err)
	}
	if first.Stage != planted.String() || first.Kind != "latency" {
		t.Fatalf("the page's first finding is %s/%s, want latency/%s: the screenshot would not show what the README's command produces", first.Kind, first.Stage, planted)
	}
	save("bottlenecks.png")

	// The demo ran for seconds: the last 15 minutes show it, the default
	// hour squeezes it into the charts' last pixels.
	open("overview", "overview", "document.querySelectorAll('.uplot').length === 6")
	pick := `(() => { const s = document.querySelector('#range'); s.value = '15m'; s.dispatchEvent(new Event('change', { bubbles: true })); return s.value; })()`
	if v, err := chromedp.Run(bctx, chromedp.Evaluate[string](pick)); err != nil || v != "15m" {
		t.Fatalf("pick the 15-minute window: %q, %v", v, err)
	}
	open("overview", "overview", "document.querySelector('#range').value === '15m' && document.querySelectorAll('.uplot').length === 6")
	save("overview.png")
}
