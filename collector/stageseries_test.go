package collector

import (
	"context"
	"reflect"
	"testing"
	"time"
)

// StageSeries gives, for each point of the time series of the same window
// and step, the stage breakdown of that point's minutes.
func TestStageSeriesIsTheBreakdownOfEachStep(t *testing.T) {
	s := sampleStore(t, 3000)
	ctx := context.Background()
	to := time.Now().Truncate(time.Minute).Add(-time.Nanosecond)
	from := to.Add(-24 * time.Hour).Add(time.Nanosecond)
	for _, step := range []time.Duration{time.Minute, 7 * time.Minute, time.Hour} {
		pts, err := s.Timeseries(ctx, from, to, step)
		if err != nil {
			t.Fatal(err)
		}
		series, err := s.StageSeries(ctx, from, to, step)
		if err != nil {
			t.Fatal(err)
		}
		if len(series) != len(pts) {
			t.Fatalf("step %v: %d steps for %d points", step, len(series), len(pts))
		}
		var withStages int
		for i, pt := range pts {
			end := pt.Start.Add(step - time.Nanosecond)
			if end.After(to) {
				end = to
			}
			want, err := s.StageBreakdown(ctx, pt.Start, end, "")
			if err != nil {
				t.Fatal(err)
			}
			if len(want) == 0 && len(series[i]) == 0 {
				continue
			}
			withStages++
			if !reflect.DeepEqual(series[i], want) {
				t.Fatalf("step %v, point %d (%v): series %+v, breakdown %+v", step, i, pt.Start, series[i], want)
			}
		}
		if withStages < len(pts)/2 {
			t.Fatalf("step %v: only %d of %d points have spans", step, withStages, len(pts))
		}
	}
	if _, err := s.StageSeries(ctx, to, from, time.Minute); err == nil {
		t.Fatal("a window that ends before it starts was accepted")
	}
}
