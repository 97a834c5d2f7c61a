package handlers_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/handlers"
)

// TestPageReadyTimes measures how long each dashboard page takes, from
// navigation to rendered (body[data-state=ready], charts drawn), on a
// synthetic database of STAGESCOPE_PAGE_TIMES traces over 24 hours. It logs
// the median of three loads per page (fresh, and from another page) and
// asserts nothing about speed; Chromium's own start is taken before; it is
// skipped unless the variable is set (BENCHMARKS.md has the figures).
// STAGESCOPE_PAGE_TIMES_DB names a database to keep: generated there when
// the file does not exist, opened read-only when it does (use it within a
// day of its generation: the pages show the last 24 hours).
func TestPageReadyTimes(t *testing.T) {
	n, err := strconv.Atoi(os.Getenv("STAGESCOPE_PAGE_TIMES"))
	if err != nil || n <= 0 {
		t.Skip("STAGESCOPE_PAGE_TIMES is not set (number of synthetic traces)")
	}
	bin := chromium(t)
	ctx := context.Background()
	path := os.Getenv("STAGESCOPE_PAGE_TIMES_DB")
	if path == "" {
		path = filepath.Join(t.TempDir(), "pages.db")
	}
	if _, err := os.Stat(path); err != nil {
		began := time.Now()
		if err := generateStore(ctx, path, n); err != nil {
			t.Fatal(err)
		}
		t.Logf("generated %d traces in %v", n, time.Since(began).Round(time.Second))
	}
	store, err := collector.OpenSQLite(path, collector.WithReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	page, err := store.ListTraces(ctx, collector.TraceQuery{Limit: 2})
	if err != nil || len(page.Traces) < 2 {
		t.Fatalf("list: %v", err)
	}
	a, b := page.Traces[0].TraceID.String(), page.Traces[1].TraceID.String()
	srv := handlers.New(store, nil)
	ts := httptest.NewServer(srv.Handler())
	defer func() { srv.Close(); ts.Close() }()
	br := startBrowser(t, bin, &seeded{t: t, ts: ts})
	// Chromium's own first start (its first renderer and network
	// processes) is not a page's time: one load of the Runs page first.
	began := time.Now()
	br.open("runs", "runs")
	t.Logf("browser warm-up (first load of the dashboard, the Runs page): %v", time.Since(began).Round(time.Millisecond))
	for _, p := range []struct{ route, page, drawn string }{
		{"overview?range=24h", "overview", `document.querySelectorAll('.uplot').length === 6`},
		{"traces?range=24h", "traces", `!!document.querySelector('#duration-scatter .uplot')`},
		{"trace/" + a, "trace", `true`},
		{"bottlenecks?range=24h", "bottlenecks", `true`},
		{"compare?range=24h", "compare", `true`},
		{"runs", "runs", `true`},
		{"live", "live", `true`},
		{"diff?a=" + a + "&b=" + b, "diff", `true`},
	} {
		// Cold: a fresh load of the dashboard at this page. Warm: moving to
		// it from another page, as a user clicking the navigation does.
		var cold, warm []time.Duration
		for range 3 {
			if err := chromedp.Do(br.ctx, chromedp.Navigate("about:blank")); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			br.open(p.route, p.page)
			br.waitFor(p.route+" drawn", p.drawn)
			cold = append(cold, time.Since(start))
			br.evalInt(`(location.hash = '#/runs', 1)`)
			br.waitFor("runs", `document.body.dataset.page === 'runs' && document.body.dataset.state === 'ready'`)
			start = time.Now()
			br.evalInt(`(location.hash = '#/` + p.route + `', 1)`)
			br.waitFor(p.route, `document.body.dataset.page === '`+p.page+`' && document.body.dataset.state === 'ready' && (`+p.drawn+`)`)
			warm = append(warm, time.Since(start))
		}
		slices.Sort(cold)
		slices.Sort(warm)
		t.Logf("%-22.22s cold %v (%v–%v), warm %v (%v–%v)", p.route, cold[1].Round(time.Millisecond), cold[0].Round(time.Millisecond), cold[2].Round(time.Millisecond),
			warm[1].Round(time.Millisecond), warm[0].Round(time.Millisecond), warm[2].Round(time.Millisecond))
	}
	br.checkClean("page times")
}

// generateStore writes a synthetic store of n traces over the last 24 hours
// at path.
func generateStore(ctx context.Context, path string, n int) error {
	store, err := collector.OpenSQLite(path)
	if err != nil {
		return err
	}
	_, err = collector.GenerateSynthetic(ctx, store, n, 1)
	return errors.Join(err, store.Close())
}
