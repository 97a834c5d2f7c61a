package faultinject

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/spans"
)

func TestErrorRateAndSeed(t *testing.T) {
	errBusy := errors.New("busy")
	run := func(seed int64) []bool {
		inj := New(WithErrorRate(0.3), WithSeed(seed), WithError(errBusy))
		out := make([]bool, 2000)
		for k := range out {
			err := inj.Apply(context.Background())
			out[k] = err != nil
			if err != nil && (!errors.Is(err, ErrInjected) || !errors.Is(err, errBusy)) {
				t.Fatalf("injected error %v must wrap ErrInjected and the configured error", err)
			}
		}
		calls, failures, _ := inj.Stats()
		if calls != 2000 {
			t.Errorf("calls = %d", calls)
		}
		n := 0
		for _, f := range out {
			if f {
				n++
			}
		}
		if int64(n) != failures {
			t.Errorf("Stats failures %d != observed %d", failures, n)
		}
		// 2000 draws at p=0.3: mean 600, stddev ≈ 20.5; 5 sigma either way.
		if n < 500 || n > 700 {
			t.Errorf("failures = %d of 2000 at rate 0.3", n)
		}
		return out
	}
	a, b, c := run(1), run(1), run(2)
	if !slices.Equal(a, b) {
		t.Error("same seed must give the same faults")
	}
	if slices.Equal(a, c) {
		t.Error("different seeds gave identical faults")
	}
	if New(WithErrorRate(0)).Apply(context.Background()) != nil {
		t.Error("rate 0 must never fail")
	}
	if err := New(WithErrorRate(1)).Apply(context.Background()); err == nil || err.Error() != "injected fault" {
		t.Errorf("rate 1 error = %v", err)
	}
}

func TestDistributions(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const n = 20000
	sample := func(d Distribution) []time.Duration {
		out := make([]time.Duration, n)
		for k := range out {
			out[k] = d.Sample(r)
			if out[k] < 0 {
				t.Fatalf("negative sample %v", out[k])
			}
		}
		slices.Sort(out)
		return out
	}
	if s := sample(Constant(7 * time.Millisecond)); s[0] != 7*time.Millisecond || s[n-1] != 7*time.Millisecond {
		t.Error("Constant is not constant")
	}
	u := sample(Uniform(10*time.Millisecond, 20*time.Millisecond))
	if u[0] < 10*time.Millisecond || u[n-1] > 20*time.Millisecond {
		t.Errorf("Uniform out of range: %v..%v", u[0], u[n-1])
	}
	if med := u[n/2]; med < 14500*time.Microsecond || med > 15500*time.Microsecond {
		t.Errorf("Uniform median %v, want ≈15ms", med)
	}
	nm := sample(Normal(50*time.Millisecond, 5*time.Millisecond))
	if med := nm[n/2]; med < 49*time.Millisecond || med > 51*time.Millisecond {
		t.Errorf("Normal median %v", med)
	}
	// p84 of a normal is mean + 1 sigma.
	if p84 := nm[n*8413/10000]; p84 < 54*time.Millisecond || p84 > 56*time.Millisecond {
		t.Errorf("Normal p84 %v, want ≈55ms", p84)
	}
	if s := sample(Normal(time.Millisecond, 10*time.Millisecond)); s[0] != 0 {
		t.Errorf("Normal must clamp at zero, got %v", s[0])
	}
	ln := sample(LogNormal(10*time.Millisecond, 0.5))
	if med := ln[n/2]; med < 9500*time.Microsecond || med > 10500*time.Microsecond {
		t.Errorf("LogNormal median %v", med)
	}
	wantP99 := 10 * math.Exp(0.5*2.326) // ms
	if p99 := float64(ln[n*99/100]) / 1e6; p99 < wantP99*0.9 || p99 > wantP99*1.1 {
		t.Errorf("LogNormal p99 %.2fms, want ≈%.2fms", p99, wantP99)
	}
}

func TestLatencyMarksSpanAndHonoursContext(t *testing.T) {
	d := dispatcher.Get("test.faultinject")
	d.SetPropagate(false)
	rec := dispatcher.NewRecorder(0)
	defer d.AddSpanHandler(rec)()

	inj := New(WithLatency(Constant(3 * time.Millisecond)))
	ctx, s := d.Start(context.Background(), "slow stage", spans.StageRetrieve)
	start := time.Now()
	if err := inj.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 3*time.Millisecond {
		t.Errorf("Apply returned after %v, before the planted 3ms", el)
	}
	s.End()
	got := rec.Spans()[0]
	if v, _ := got.Attr(spans.KeyFaultLatencyNanos); v.AsInt64() != int64(3*time.Millisecond) {
		t.Errorf("fault.latency_ns = %d", v.AsInt64())
	}
	if v, ok := got.Attr(spans.KeyFaultError); !ok || v.AsBool() {
		t.Error("fault.error must be recorded as false")
	}

	// An hour of latency ends as soon as the context is cancelled.
	long := New(WithLatency(Constant(time.Hour)))
	cctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	var err error
	go func() {
		defer wg.Done()
		err = long.Apply(cctx)
	}()
	cancel()
	wg.Wait()
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
}

func TestWrapAndNil(t *testing.T) {
	var none *Injector
	if none.Apply(context.Background()) != nil {
		t.Error("nil injector must be a no-op")
	}
	fn := func(context.Context) (int, error) { return 42, nil }
	if v, err := Wrap(none, fn)(context.Background()); v != 42 || err != nil {
		t.Errorf("Wrap(nil) = %d, %v", v, err)
	}
	v, err := Wrap(New(WithErrorRate(1)), fn)(context.Background())
	if v != 0 || !errors.Is(err, ErrInjected) {
		t.Errorf("Wrap(always fail) = %d, %v", v, err)
	}
	v, err = Wrap(New(), fn)(context.Background())
	if v != 42 || err != nil {
		t.Errorf("Wrap(no faults) = %d, %v", v, err)
	}
}

func TestConcurrentApply(t *testing.T) {
	inj := New(WithErrorRate(0.5), WithLatency(Uniform(0, 10*time.Microsecond)), WithSeed(9))
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 100; k++ {
				_ = inj.Apply(context.Background())
			}
		}()
	}
	wg.Wait()
	calls, failures, _ := inj.Stats()
	if calls != 800 || failures < 300 || failures > 500 {
		t.Errorf("calls=%d failures=%d", calls, failures)
	}
}
