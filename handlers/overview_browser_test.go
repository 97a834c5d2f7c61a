package handlers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stagescope/stagescope/collector"
)

// A fresh server shows how to attach a pipeline, with this server's
// endpoint, instead of empty charts and zero cards.
func TestOnboardingOnAnEmptyStoreInBrowser(t *testing.T) {
	bin := chromium(t)
	s := serveIngested(t, func(context.Context, *collector.Collector) {})
	b := startBrowser(t, bin, s)
	b.open("overview", "overview")
	if n := b.count("#onboarding"); n != 1 {
		t.Fatalf("no onboarding panel: %.300s", b.viewText())
	}
	if got := b.text("#otlp-endpoint"); got != s.ts.URL+"/v1/traces" {
		t.Errorf("endpoint %q, want %q", got, s.ts.URL+"/v1/traces")
	}
	panel := b.text("#onboarding")
	for _, want := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + s.ts.URL, `OTLPSpanExporter(endpoint="` + s.ts.URL + `/v1/traces")`,
		"OTLPTraceExporter({ url: '" + s.ts.URL + "/v1/traces' })", "dispatcher.Root().AddSpanHandler(c.Handler())"} {
		if !strings.Contains(panel, want) {
			t.Errorf("the panel lacks %q", want)
		}
	}
	if n := b.count(".stat, .uplot"); n != 0 {
		t.Errorf("%d cards or charts on an empty store", n)
	}
	b.shot("overview-onboarding")
	b.checkClean("onboarding")
}

func TestOverviewWindowFitsTheDataInBrowser(t *testing.T) {
	bin := chromium(t)
	s := newSeeded(t)
	b := startBrowser(t, bin, s)
	// A window two days ago holds nothing: the page says where the data is
	// and offers the smallest window that holds the newest trace.
	to := time.Now().Add(-48 * time.Hour).UnixMilli()
	b.open(fmt.Sprintf("overview?from=%d&to=%d", to-3600_000, to), "overview")
	if got := b.text("#window-empty"); !strings.Contains(got, "No traces in this window. The newest trace started at") {
		t.Fatalf("empty window says %q", got)
	}
	if n := b.count(".stat, .uplot, #onboarding"); n != 0 {
		t.Errorf("%d cards, charts or onboarding panels in an empty window of a full store", n)
	}
	if got := b.text("#show-data"); got != "Show the last 1h" {
		t.Errorf("offer %q", got)
	}
	b.click("#show-data")
	b.waitFor("the data", fmt.Sprintf(`location.hash.includes('range=1h') && document.body.dataset.state === 'ready' && (document.querySelector('.stat[data-stat="traces"] .stat-value') || {}).textContent === '%d'`, seedTotal))
	// The last 24 hours hold 40 minutes of data: the charts start there.
	b.open("overview?range=24h", "overview")
	if got := b.text("#data-span"); !strings.Contains(got, "The charts start at") {
		t.Errorf("no note on the trimmed charts: %q", got)
	}
	if n := b.evalInt(`Number(document.querySelector('.chart-grid').dataset.points)`); n > 60 {
		t.Errorf("%d points drawn for 40 minutes of data in a 24-hour window", n)
	}
	b.waitFor("the per-stage p95 chart", `!!document.querySelector('.stage-p95 .uplot')`)
	if got := b.evalStrings(`[...document.querySelectorAll('.stage-p95 .u-legend .u-series .u-label')].map(e => e.textContent)`); !contains(got, "rerank") || !contains(got, "llm") {
		t.Errorf("per-stage p95 legend %q", got)
	}
	b.shot("overview-24h")
	b.checkClean("window fits")
}
