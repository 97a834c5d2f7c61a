package dispatcher

import (
	"slices"
	"strings"
)

// All returns every dispatcher made so far: the root first, then the others
// by name, so that a parent comes before its children.
func All() []*Dispatcher {
	registryMu.Lock()
	out := make([]*Dispatcher, 0, len(registry)+1)
	for _, d := range registry {
		out = append(out, d)
	}
	registryMu.Unlock()
	slices.SortFunc(out, func(a, b *Dispatcher) int { return strings.Compare(a.name, b.name) })
	return append([]*Dispatcher{root}, out...)
}

// SpanHandlers returns the span handlers attached to d itself (not those
// of its ancestors), in the order they were attached.
func (d *Dispatcher) SpanHandlers() []SpanHandler { return slices.Clone(d.own.Load().spans) }

// EventHandlers returns the event handlers attached to d itself, in the
// order they were attached.
func (d *Dispatcher) EventHandlers() []EventHandler { return slices.Clone(d.own.Load().events) }
