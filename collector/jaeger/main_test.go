package jaeger_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/stagescope/stagescope/collector/jaeger/jaegertest"
	"go.uber.org/goleak"
)

// backend is the one Jaeger v2 the package's tests share, started by
// TestMain on free loopback ports with an in-memory store.
var (
	backend    *jaegertest.Instance
	backendErr error // why Jaeger is not available
)

func TestMain(m *testing.M) {
	backend, backendErr = jaegertest.StartFromEnv()
	code := m.Run()
	if backend != nil {
		backend.Stop()
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// needJaeger skips the test when no Jaeger runs, or fails it when
// STAGESCOPE_REQUIRE_ALL=1.
func needJaeger(t *testing.T) *jaegertest.Instance { return jaegertest.Need(t, backend, backendErr) }
