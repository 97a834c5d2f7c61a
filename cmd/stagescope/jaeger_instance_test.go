package main

import (
	"testing"

	"github.com/stagescope/stagescope/collector/jaeger/jaegertest"
)

// backend is the one real Jaeger v2 of this package's tests, started by
// TestMain on free loopback ports with in-memory storage.
var (
	backend    *jaegertest.Instance
	backendErr error // why no Jaeger runs
)

// needJaeger skips without Jaeger, or fails when STAGESCOPE_REQUIRE_ALL=1.
func needJaeger(t *testing.T) *jaegertest.Instance { return jaegertest.Need(t, backend, backendErr) }
