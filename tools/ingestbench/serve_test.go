package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestAgainstStagescopeServe runs the whole measurement, small, against a
// real `stagescope serve` built from this checkout: every span is
// acknowledged and counted written by the server, none as a duplicate (the
// ids are unique), both ends of the run can be read back, and the child
// and its temporary directory are gone afterwards.
func TestAgainstStagescopeServe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs stagescope serve")
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "stagescope")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	root, err := moduleRoot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/stagescope")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		if os.Getenv("STAGESCOPE_REQUIRE_ALL") == "1" {
			t.Fatalf("cannot build stagescope: %v\n%s", err, out)
		}
		t.Skipf("cannot build stagescope from this checkout (mid-edit?): %v\n%s", err, out)
	}
	dataRoot := filepath.Join(tmp, "targets")
	if err := os.Mkdir(dataRoot, 0o750); err != nil {
		t.Fatal(err)
	}
	const spans = 20_000
	o := &options{
		load:        loadOptions{clients: 8, spans: spans, interval: 10_000, requestTimeout: time.Minute},
		fixture:     fixtureOptions{spansPerRequest: 1000, errorRate: 0.05, seed: 3},
		templates:   4,
		target:      targetConfig{stagescopeBin: bin, tmpRoot: dataRoot, stopTimeout: time.Minute, progress: io.Discard},
		queryRepeat: 1, queryTimeout: time.Minute, visibleTimeout: time.Minute,
	}
	r := benchTarget(ctx, targetStagescope, o, func(string, ...any) {})
	if r.Error != "" {
		t.Fatal(r.Error)
	}
	if r.Load.Spans != spans || r.Load.Requests != spans/1000 || r.Load.Rejected != 0 {
		t.Fatalf("acked %d spans in %d requests (%d rejected), want %d in %d", r.Load.Spans, r.Load.Requests, r.Load.Rejected, spans, spans/1000)
	}
	if len(r.Load.Intervals) != 2 || r.Load.Intervals[1].UpTo != spans {
		t.Fatalf("intervals %+v, want two, the last at %d spans", r.Load.Intervals, spans)
	}
	for _, iv := range r.Load.Intervals {
		if iv.CPUPerM <= 0 || iv.RSSBytes <= 0 {
			t.Fatalf("interval %+v has no target CPU or RSS", iv)
		}
	}
	if got := r.Counters["spans_written_total"]; got != spans {
		t.Fatalf("stagescope says it wrote %v spans, want %d (counters %v)", got, spans, r.Counters)
	}
	if d := r.Counters["spans_duplicate_total"]; d != 0 {
		t.Fatalf("stagescope saw %v duplicate spans: ids repeat", d)
	}
	want := map[string]bool{qStages: true, qList: true, qErrors: true, qMinDuration: true, qTraceLast: true, qTraceFirst: true, qReport: true}
	for _, q := range r.Queries {
		if q.Status != http.StatusOK || q.Bytes == 0 {
			t.Errorf("%s (%s): status %d, %d bytes, error %q", q.Name, q.URL, q.Status, q.Bytes, q.Error)
		}
		delete(want, q.Name)
	}
	if len(want) > 0 {
		t.Errorf("queries not asked: %v", want)
	}
	if r.RSSPeak <= 0 || r.DiskAfterStop.Allocated <= 0 || r.BytesPerSpan <= 0 || r.Killed {
		t.Errorf("RSS peak %d, disk %d, %v B/span, killed %v", r.RSSPeak, r.DiskAfterStop.Allocated, r.BytesPerSpan, r.Killed)
	}
	left, err := os.ReadDir(dataRoot)
	if err != nil || len(left) != 0 {
		t.Errorf("temporary directories left behind: %v (%v)", left, err)
	}
}
