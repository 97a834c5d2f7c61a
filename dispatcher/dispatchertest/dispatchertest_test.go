package dispatchertest_test

import (
	"context"
	"testing"

	"go.uber.org/goleak"

	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/dispatcher/dispatchertest"
	"github.com/stagescope/stagescope/spans"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestIsolatedDispatchersDoNotShareSpans(t *testing.T) {
	outer := dispatcher.NewRecorder(0)
	defer dispatcher.Root().AddSpanHandler(outer)()
	a, recA := dispatchertest.Isolated(t, "dt")
	b, recB := dispatchertest.Isolated(t, "dt")
	if a == b || a.Name() == b.Name() {
		t.Fatalf("two calls gave the same dispatcher %q", a.Name())
	}
	_, s := a.Start(context.Background(), "only-a", spans.StageOther)
	s.End()
	if len(recA.Spans()) != 1 || len(recB.Spans()) != 0 || len(outer.Spans()) != 0 {
		t.Fatalf("a=%d b=%d root=%d spans; want 1, 0, 0", len(recA.Spans()), len(recB.Spans()), len(outer.Spans()))
	}
}
