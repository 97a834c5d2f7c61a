package dispatcher

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/spans"
)

// Dispatcher is a named node in the dispatcher tree. Get one with Root or
// Get; the zero value is not usable.
type Dispatcher struct {
	name      string
	parent    *Dispatcher
	propagate atomic.Bool

	mu  sync.Mutex // serialises writers of own
	own atomic.Pointer[handlerSet]
	eff atomic.Pointer[handlerSet] // own plus propagated ancestors', tagged with gen

	sampling atomic.Pointer[samplingRule] // nil: none of its own (sampling.go)
}

// handlerSet is immutable once published.
type handlerSet struct {
	gen    uint64
	spans  []SpanHandler
	events []EventHandler
	// spanIDs and eventIDs number a dispatcher's own attachments, parallel
	// to spans and events (unused in effective sets).
	spanIDs, eventIDs []uint64
	// starters are the span handlers that want SpanStarted: those that do
	// not implement EndOnly (or return false) — computed with the
	// effective set so that Start skips the others without a check.
	starters []SpanHandler
	// sampleAll, else sampleBelow: the sampling rule of traces starting
	// here (sampling.go), in effective sets.
	sampleAll   bool
	sampleBelow uint64
}

var (
	// generation changes whenever any dispatcher's handlers or propagate
	// switch change, which invalidates every cached effective set.
	generation atomic.Uint64

	registryMu sync.Mutex
	registry   = map[string]*Dispatcher{}
	root       = newDispatcher("", nil)
)

func newDispatcher(name string, parent *Dispatcher) *Dispatcher {
	d := &Dispatcher{name: name, parent: parent}
	d.propagate.Store(true)
	d.own.Store(&handlerSet{})
	return d
}

// Root returns the root dispatcher, the ancestor of all others. Attach
// handlers here to see everything.
func Root() *Dispatcher { return root }

// Get returns the dispatcher with the dotted name, creating it and its
// ancestors on first use. The same name always returns the same dispatcher;
// "" is the root.
func Get(name string) *Dispatcher {
	name = strings.Trim(name, ".")
	if name == "" {
		return root
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	return getLocked(name)
}

func getLocked(name string) *Dispatcher {
	if d, ok := registry[name]; ok {
		return d
	}
	parent := root
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		parent = getLocked(name[:i])
	}
	d := newDispatcher(name, parent)
	registry[name] = d
	generation.Add(1)
	return d
}

// Name returns the dotted name ("" for the root).
func (d *Dispatcher) Name() string { return d.name }

// Parent returns the parent dispatcher, or nil for the root.
func (d *Dispatcher) Parent() *Dispatcher { return d.parent }

// Propagate reports whether spans and events also go to the ancestors'
// handlers.
func (d *Dispatcher) Propagate() bool { return d.propagate.Load() }

// SetPropagate switches propagation to the ancestors on or off.
func (d *Dispatcher) SetPropagate(on bool) {
	d.propagate.Store(on)
	generation.Add(1)
}

func (d *Dispatcher) update(f func(old *handlerSet) *handlerSet) {
	d.mu.Lock()
	d.own.Store(f(d.own.Load()))
	d.mu.Unlock()
	generation.Add(1)
}

// registrations numbers every attachment, so that the function Add…Handler
// returns removes exactly that attachment, whatever the handler's type.
var registrations atomic.Uint64

// AddSpanHandler attaches h; it sees every span started from now on in this
// dispatcher and its propagating descendants. It returns a function that
// detaches this attachment again (any handler type, comparable or not).
func (d *Dispatcher) AddSpanHandler(h SpanHandler) (remove func()) {
	id := registrations.Add(1)
	d.update(func(old *handlerSet) *handlerSet {
		n := *old
		n.spans, n.spanIDs = append(slices.Clip(old.spans), h), append(slices.Clip(old.spanIDs), id)
		return &n
	})
	var once sync.Once
	return func() {
		once.Do(func() {
			d.update(func(old *handlerSet) *handlerSet {
				return old.withoutSpan(slices.Index(old.spanIDs, id))
			})
		})
	}
}

// RemoveSpanHandler detaches the first attachment of h, compared with ==
// (so use pointer handlers; a handler whose value cannot be compared can
// only be removed with the function AddSpanHandler returned). Spans already
// started still end in h.
func (d *Dispatcher) RemoveSpanHandler(h SpanHandler) {
	d.update(func(old *handlerSet) *handlerSet { return old.withoutSpan(indexOf(old.spans, h)) })
}

// AddEventHandler attaches h to the events of this dispatcher and its
// propagating descendants, and returns a function that detaches this
// attachment.
func (d *Dispatcher) AddEventHandler(h EventHandler) (remove func()) {
	id := registrations.Add(1)
	d.update(func(old *handlerSet) *handlerSet {
		n := *old
		n.events, n.eventIDs = append(slices.Clip(old.events), h), append(slices.Clip(old.eventIDs), id)
		return &n
	})
	var once sync.Once
	return func() {
		once.Do(func() {
			d.update(func(old *handlerSet) *handlerSet {
				return old.withoutEvent(slices.Index(old.eventIDs, id))
			})
		})
	}
}

// RemoveEventHandler detaches the first attachment of h (see
// RemoveSpanHandler).
func (d *Dispatcher) RemoveEventHandler(h EventHandler) {
	d.update(func(old *handlerSet) *handlerSet { return old.withoutEvent(indexOf(old.events, h)) })
}

// indexOf is slices.Index that skips values == would panic on.
func indexOf[H comparable](list []H, h H) int {
	if !reflect.ValueOf(h).Comparable() {
		return -1
	}
	for i, x := range list {
		if reflect.ValueOf(x).Comparable() && x == h {
			return i
		}
	}
	return -1
}

func (hs *handlerSet) withoutSpan(i int) *handlerSet {
	if i < 0 {
		return hs
	}
	n := *hs
	n.spans, n.spanIDs = slices.Delete(slices.Clone(hs.spans), i, i+1), slices.Delete(slices.Clone(hs.spanIDs), i, i+1)
	return &n
}

func (hs *handlerSet) withoutEvent(i int) *handlerSet {
	if i < 0 {
		return hs
	}
	n := *hs
	n.events, n.eventIDs = slices.Delete(slices.Clone(hs.events), i, i+1), slices.Delete(slices.Clone(hs.eventIDs), i, i+1)
	return &n
}

// effective returns the handlers that see this dispatcher's spans and
// events. The fast path is two atomic loads.
func (d *Dispatcher) effective() *handlerSet {
	g := generation.Load()
	if e := d.eff.Load(); e != nil && e.gen == g {
		return e
	}
	e := &handlerSet{gen: g}
	e.sampleAll, e.sampleBelow = d.samplingThreshold()
	for n := d; n != nil; n = n.parent {
		own := n.own.Load()
		e.spans = append(e.spans, own.spans...)
		for _, h := range own.spans {
			if eo, ok := h.(EndOnly); !ok || !eo.EndOnly() {
				e.starters = append(e.starters, h)
			}
		}
		e.events = append(e.events, own.events...)
		if !n.propagate.Load() {
			break
		}
	}
	d.eff.Store(e)
	return e
}

// Enabled reports whether any span handler would see a span started here.
func (d *Dispatcher) Enabled() bool { return len(d.effective().spans) > 0 }

// EventsEnabled reports whether any event handler would see an event emitted
// here. Check it before building an event on a hot path.
func (d *Dispatcher) EventsEnabled() bool { return len(d.effective().events) > 0 }

// Emit fills e's header (time if unset, the current span of ctx, the tags of
// ctx) and hands it to the event handlers. Emit never blocks on its own.
func (d *Dispatcher) Emit(ctx context.Context, e event.Event) {
	hs := d.effective().events
	if len(hs) == 0 {
		return
	}
	if samplingUsed.Load() && unsampledParent(spans.ParentFromContext(ctx)) {
		return
	}
	h := e.EventHeader()
	if h.Time.IsZero() {
		h.Time = spans.Now()
	}
	if h.SpanID.IsZero() {
		sc := spans.SpanContextFromContext(ctx)
		h.TraceID, h.SpanID = sc.TraceID, sc.SpanID
	}
	if h.Tags == nil {
		h.Tags = spans.TagsFromContext(ctx)
	}
	for _, eh := range hs {
		safeEvent(eh, e)
	}
}
