package collector

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stagescope/stagescope/spans"
)

// A window whose traffic comes in a burst: 600 quick traces over 100
// minutes, then 2,400 slower ones in 18 minutes. A frame that took the
// same number of traces from every sub-window held five quiet traces for
// every burst one; weighted back to the window, the sample then put the
// median request among the quick ones, where four in five requests of the
// window were slow. With the sub-windows' shares taken from the rollups,
// the sample's weighted median is the window's.
func TestSampleFrameFollowsBursts(t *testing.T) {
	defer func(v int) { sampleFrameLimit = v }(sampleFrameLimit)
	sampleFrameLimit = 800 // sliced: 3,000 traces
	s := openStore(t)
	c := newCollector(t, s)
	ctx := context.Background()
	now := time.Now().Truncate(time.Minute)
	var batch []spans.Span
	var durs []time.Duration
	add := func(start time.Time, d time.Duration) {
		batch = append(batch, spans.Span{TraceID: spans.NewTraceID(), SpanID: spans.NewSpanID(), Name: "query", Stage: spans.StageQuery,
			Start: start, End: start.Add(d), Status: spans.StatusOK})
		durs = append(durs, d)
	}
	for i := range 600 { // quiet: one every 10 s, 5–15 ms
		add(now.Add(-130*time.Minute+time.Duration(i)*10*time.Second), time.Duration(5+i%11)*time.Millisecond)
	}
	for i := range 2400 { // burst: one every 450 ms, 50–150 ms
		add(now.Add(-30*time.Minute+time.Duration(i)*450*time.Millisecond), time.Duration(50+i%101)*time.Millisecond)
	}
	if err := c.Ingest(ctx, batch, nil); err != nil {
		t.Fatal(err)
	}
	slices.Sort(durs)
	windowMedian := durs[len(durs)/2]

	ts, info, err := s.SampleTraces(ctx, TraceQuery{From: now.Add(-135 * time.Minute), To: now.Add(-10 * time.Minute)}, 300)
	if err != nil {
		t.Fatal(err)
	}
	if !info.Sampled || !info.Partial || info.Examined > int64(sampleFrameLimit)+SampleSlices {
		t.Fatalf("not a sliced frame: %+v", info)
	}
	if !strings.Contains(info.Method, "in proportion to its traces") {
		t.Errorf("method %q does not say how the frame was shared", info.Method)
	}
	type wd struct {
		d time.Duration
		w float64
	}
	var burst int
	var ws []wd
	var total float64
	for _, tr := range ts {
		w := 1.0
		if tr.Summary.Duration < info.SlowThreshold {
			w = 1 / info.HashRate
		}
		ws = append(ws, wd{tr.Summary.Duration, w})
		total += w
		if !tr.Summary.Start.Before(now.Add(-30 * time.Minute)) {
			burst++
		}
	}
	slices.SortFunc(ws, func(a, b wd) int { return int(a.d - b.d) })
	var cum float64
	var median time.Duration
	for _, x := range ws {
		if cum += x.w; cum >= total/2 {
			median = x.d
			break
		}
	}
	// The window's median is a burst trace (≈ 70 ms); the quiet ones are
	// all under 16 ms.
	if median < 50*time.Millisecond || windowMedian < 50*time.Millisecond {
		t.Fatalf("weighted sample median %v, window median %v (%d of %d sampled traces from the burst; examined %d)",
			median, windowMedian, burst, len(ts), info.Examined)
	}
	if d := median - windowMedian; d < -10*time.Millisecond || d > 10*time.Millisecond {
		t.Fatalf("weighted sample median %v, window median %v", median, windowMedian)
	}
}
