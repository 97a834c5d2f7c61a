package prom_test

import (
	"context"
	"fmt"
	"time"

	"github.com/stagescope/stagescope/collector/prom"
)

// A reader of the Prometheus that scrapes the reference deployment's
// collectors (tools/deploy): the last hour's stages, and end-to-end latency
// per minute.
func Example() {
	r, err := prom.New("http://127.0.0.1:9090", prom.WithTimeout(5*time.Second))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	ctx := context.Background()
	if err := r.Health(ctx); err != nil {
		fmt.Println(err) // names what is missing: Prometheus, or the spanmetrics series
		return
	}
	to := time.Now()
	stages, err := r.StageBreakdown(ctx, to.Add(-time.Hour), to, "")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range stages {
		fmt.Printf("%-8s %6d spans %4d failed  p50 %v  p95 %v\n", s.Stage, s.Count, s.Errors, s.P50, s.P95)
	}
	points, err := r.Timeseries(ctx, to.Add(-time.Hour), to, time.Minute)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range points {
		fmt.Printf("%s %5.1f traces/s p95 %v\n", p.Start.Format(time.TimeOnly), p.Throughput, p.P95)
	}
}
