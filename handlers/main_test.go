package handlers_test

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks for leaked goroutines once every test and benchmark has
// run and the shared benchmark database is closed.
func TestMain(m *testing.M) {
	code := m.Run()
	closeBenchDB()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}
