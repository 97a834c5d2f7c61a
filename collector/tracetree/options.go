package tracetree

import "time"

// Defaults of the clock-tolerance rules (see the package comment).
const (
	// DefaultMaxTolerance caps the overlap that is taken for clock
	// rounding: one tick of a millisecond clock.
	DefaultMaxTolerance = time.Millisecond
	// DefaultSkewBound is how far a child of another service may run past
	// its parent's end and still be taken for clock skew rather than
	// fire-and-forget work.
	DefaultSkewBound = 10 * time.Millisecond
)

// Option configures a Tree.
type Option func(*Tree)

// WithMaxTolerance sets the largest overlap taken for clock rounding
// (DefaultMaxTolerance); 0 turns the tolerance off.
func WithMaxTolerance(d time.Duration) Option {
	return func(t *Tree) { t.maxTol = max(int64(d), 0) }
}

// WithSkewBound sets how far a child of another service may outlive its
// parent and still count as clock skew (DefaultSkewBound).
func WithSkewBound(d time.Duration) Option {
	return func(t *Tree) { t.skewBound = max(int64(d), 0) }
}
