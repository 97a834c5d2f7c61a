package dispatchertest

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/stagescope/stagescope/dispatcher"
)

var counter atomic.Int64

// UniqueName returns prefix.N with an N no other call in this process got.
func UniqueName(prefix string) string {
	return fmt.Sprintf("%s.%d", prefix, counter.Add(1))
}

// Isolated returns a new dispatcher named prefix.N that does not propagate
// to its ancestors, and a recorder attached to its spans and events until the
// test ends.
func Isolated(t testing.TB, prefix string) (*dispatcher.Dispatcher, *dispatcher.Recorder) {
	t.Helper()
	d := dispatcher.Get(UniqueName(prefix))
	d.SetPropagate(false)
	rec := dispatcher.NewRecorder(0)
	t.Cleanup(d.AddSpanHandler(rec))
	t.Cleanup(d.AddEventHandler(rec))
	return d, rec
}
