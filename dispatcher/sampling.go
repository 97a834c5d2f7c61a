package dispatcher

import (
	"encoding/binary"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stagescope/stagescope/spans"
)

// Sampling: a dispatcher may deliver only a fraction of traces to its
// handlers. The decision is made once per trace, where the trace starts in
// this process (a span without a live parent): it is a pure function of the
// trace ID, so every process that uses the same rule agrees, and every
// later span of the trace in this process follows its parent's decision,
// whatever dispatcher it starts in. An unsampled span still carries its IDs
// to its children (it costs its allocation), but no handler sees it or its
// events.

// samplingRule is a dispatcher's own setting; immutable once published.
type samplingRule struct {
	base     float64 // < 0: none of its own (inherit the parent's)
	override float64 // < 0: none
	until    time.Time
	id       uint64 // of the override, so an old timer cannot end a newer one
}

var (
	// samplingUsed turns on the check in Emit; it is never turned off.
	samplingUsed atomic.Bool
	samplingMu   sync.Mutex // serialises rule updates
	overrideIDs  atomic.Uint64
	// unsampledSet is the handler set of unsampled spans: nobody.
	unsampledSet = &handlerSet{}
)

func (d *Dispatcher) rule() samplingRule {
	if r := d.sampling.Load(); r != nil {
		return *r
	}
	return samplingRule{base: -1, override: -1}
}

func (d *Dispatcher) setRule(r samplingRule) {
	d.sampling.Store(&r)
	if r.base >= 0 && r.base < 1 || r.override >= 0 && r.override < 1 {
		samplingUsed.Store(true)
	}
	generation.Add(1)
}

// SetSampling sets the fraction (0…1) of traces starting in d, or in a
// descendant with no setting of its own, whose spans reach the handlers.
// The default is 1: everything. A negative fraction removes d's own
// setting, so d follows its parent again.
func (d *Dispatcher) SetSampling(fraction float64) {
	samplingMu.Lock()
	defer samplingMu.Unlock()
	r := d.rule()
	r.base = clampFraction(fraction)
	d.setRule(r)
}

// SampleFor sets d's fraction to fraction for at most dur; then d returns
// to its own setting. restore ends it early. A later SampleFor on d
// replaces this one (and this restore then does nothing).
func (d *Dispatcher) SampleFor(fraction float64, dur time.Duration) (restore func()) {
	samplingMu.Lock()
	defer samplingMu.Unlock()
	r := d.rule()
	r.override = max(clampFraction(fraction), 0)
	r.until = time.Now().Add(dur)
	r.id = overrideIDs.Add(1)
	id := r.id
	d.setRule(r)
	end := func() {
		samplingMu.Lock()
		defer samplingMu.Unlock()
		if cur := d.rule(); cur.id == id && cur.override >= 0 {
			cur.override, cur.until = -1, time.Time{}
			d.setRule(cur)
		}
	}
	t := time.AfterFunc(dur, end)
	return func() {
		t.Stop()
		end()
	}
}

// Sampling returns the fraction of traces that start in d and reach its
// handlers, and, when a temporary fraction (SampleFor) is in force on d or
// the ancestor it comes from, when that ends.
func (d *Dispatcher) Sampling() (fraction float64, until time.Time) {
	for n := d; n != nil; n = n.parent {
		r := n.rule()
		if r.override >= 0 {
			return r.override, r.until
		}
		if r.base >= 0 {
			return r.base, time.Time{}
		}
	}
	return 1, time.Time{}
}

func clampFraction(f float64) float64 {
	if f < 0 || math.IsNaN(f) {
		return -1
	}
	return min(f, 1)
}

// samplingThreshold is the effective set's rule: all, or trace IDs whose low
// 56 bits fall below the threshold.
func (d *Dispatcher) samplingThreshold() (all bool, below uint64) {
	f, _ := d.Sampling()
	if f >= 1 {
		return true, 0
	}
	return false, uint64(f * (1 << 56))
}

// traceSampled applies the rule to a trace ID: the low 56 bits, which W3C
// trace context requires to be random.
func traceSampled(id spans.TraceID, below uint64) bool {
	return binary.BigEndian.Uint64(id[8:])&(1<<56-1) < below
}

// unsampledParent reports whether ctx's current span is a live span that
// was not sampled.
func unsampledParent(p spans.Parent) bool {
	s, ok := p.(*Span)
	return ok && s != nil && s.unsampled
}
