package flight_test

import (
	"context"
	"testing"
	"time"

	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/dispatcher/flight"
	"github.com/stagescope/stagescope/spans"
)

// BenchmarkSpanRecorder is the reference: start+end with the bounded
// dispatcher.Recorder attached (the same as the dispatcher's benchmark).
func BenchmarkSpanRecorder(b *testing.B) {
	d := dispatcher.Get("bench.flight.recorder")
	defer d.AddSpanHandler(dispatcher.NewRecorder(0))()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_, s := d.Start(ctx, "op", spans.StageRetrieve)
		s.End()
	}
}

// BenchmarkSpanFlight: start+end with the flight recorder attached. Target:
// ≤ 1.3× BenchmarkSpanRecorder and the same allocations.
func BenchmarkSpanFlight(b *testing.B) {
	d := dispatcher.Get("bench.flight.flight")
	defer d.AddSpanHandler(flight.New())()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_, s := d.Start(ctx, "op", spans.StageRetrieve)
		s.End()
	}
}

// BenchmarkSpanFlightTriggers: the same with the three kinds of trigger
// checked on every span.
func BenchmarkSpanFlightTriggers(b *testing.B) {
	d := dispatcher.Get("bench.flight.triggers")
	defer d.AddSpanHandler(flight.New(flight.WithTrigger(flight.SlowerThan(time.Hour)),
		flight.WithTrigger(flight.ErrorIn(spans.StageLLM)), flight.WithTrigger(flight.P95Above(spans.StageRetrieve, time.Hour))))()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_, s := d.Start(ctx, "op", spans.StageRetrieve)
		s.End()
	}
}

// BenchmarkSpanFlightSubscribed: the same while a live subscriber is
// attached and drained (what an attacher costs the pipeline).
func BenchmarkSpanFlightSubscribed(b *testing.B) {
	d := dispatcher.Get("bench.flight.subscribed")
	r := flight.New()
	defer d.AddSpanHandler(r)()
	sub, err := r.Subscribe(0)
	if err != nil {
		b.Fatal(err)
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-sub.Spans():
			case <-stop:
				return
			}
		}
	}()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_, s := d.Start(ctx, "op", spans.StageRetrieve)
		s.End()
	}
	b.StopTimer()
	sub.Detach()
	close(stop)
	<-done
	if n := sub.Dropped(); n > 0 {
		b.ReportMetric(float64(n)/float64(b.N), "dropped/span")
	}
}

// BenchmarkSpanFlightParallel and BenchmarkSpanRecorderParallel: spans
// ending on every core at once, where the recorder's mutex and the flight
// recorder's cursor are contended.
func BenchmarkSpanFlightParallel(b *testing.B) {
	d := dispatcher.Get("bench.flight.parallel")
	defer d.AddSpanHandler(flight.New())()
	benchParallel(b, d)
}

func BenchmarkSpanRecorderParallel(b *testing.B) {
	d := dispatcher.Get("bench.flight.recorder_parallel")
	defer d.AddSpanHandler(dispatcher.NewRecorder(0))()
	benchParallel(b, d)
}

func benchParallel(b *testing.B, d *dispatcher.Dispatcher) {
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, s := d.Start(ctx, "op", spans.StageRetrieve)
			s.End()
		}
	})
}

// BenchmarkSpanFlightAfterDetach: the same after a subscriber attached and
// detached — what an attachment leaves behind (target: BenchmarkSpanFlight).
func BenchmarkSpanFlightAfterDetach(b *testing.B) {
	d := dispatcher.Get("bench.flight.after")
	r := flight.New()
	defer d.AddSpanHandler(r)()
	sub, err := r.Subscribe(0)
	if err != nil {
		b.Fatal(err)
	}
	sub.Detach()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_, s := d.Start(ctx, "op", spans.StageRetrieve)
		s.End()
	}
}

// BenchmarkFlightVsRecorderInterleaved runs spans into the flight recorder
// and into dispatcher.Recorder in alternating batches of 256, so that both
// see the same machine load, and reports each one's ns/span and their ratio
// (target: flight ≤ 1.3× recorder). The sub-benchmarks measure the flight
// recorder before any attachment, while a drained subscriber is attached,
// and after it detached.
func BenchmarkFlightVsRecorderInterleaved(b *testing.B) {
	for _, phase := range []string{"before", "during", "after"} {
		b.Run(phase, func(b *testing.B) {
			df := dispatcher.Get("bench.flight.il_flight_" + phase)
			dr := dispatcher.Get("bench.flight.il_recorder_" + phase)
			r := flight.New()
			defer df.AddSpanHandler(r)()
			defer dr.AddSpanHandler(dispatcher.NewRecorder(0))()
			if phase != "before" {
				sub, err := r.Subscribe(0)
				if err != nil {
					b.Fatal(err)
				}
				stop, done := make(chan struct{}), make(chan struct{})
				go func() {
					defer close(done)
					for {
						select {
						case <-sub.Spans():
						case <-stop:
							return
						}
					}
				}()
				defer func() { close(stop); <-done }()
				if phase == "after" {
					sub.Detach()
				} else {
					defer sub.Detach()
				}
			}
			ctx := context.Background()
			const batch = 256
			var fl, rec time.Duration
			b.ReportAllocs()
			for b.Loop() {
				t0 := time.Now()
				for range batch {
					_, s := df.Start(ctx, "op", spans.StageRetrieve)
					s.End()
				}
				t1 := time.Now()
				for range batch {
					_, s := dr.Start(ctx, "op", spans.StageRetrieve)
					s.End()
				}
				t2 := time.Now()
				fl += t1.Sub(t0)
				rec += t2.Sub(t1)
			}
			n := float64(b.N * batch)
			b.ReportMetric(float64(fl.Nanoseconds())/n, "flight-ns/span")
			b.ReportMetric(float64(rec.Nanoseconds())/n, "recorder-ns/span")
			b.ReportMetric(float64(fl)/float64(rec), "ratio")
		})
	}
}
