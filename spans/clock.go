package spans

import (
	"sync/atomic"
	"time"
)

// reanchorEvery bounds how far Now can lag a wall-clock step: the anchor is
// refreshed from time.Now at least this often.
const reanchorEvery = time.Second

var anchor atomic.Pointer[time.Time]

func init() {
	t := time.Now()
	anchor.Store(&t)
}

// Now returns the current time with a monotonic reading, for span and event
// timestamps. It costs one monotonic clock read instead of time.Now's two
// (wall and monotonic): the wall time is an anchor taken with time.Now at
// most a second ago plus the monotonic time elapsed since, so durations are
// exact and a wall-clock step shows up within a second.
func Now() time.Time {
	a := anchor.Load()
	d := time.Since(*a)
	if d >= reanchorEvery || d < 0 {
		t := time.Now()
		anchor.Store(&t)
		return t
	}
	return a.Add(d)
}
