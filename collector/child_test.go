package collector

import "os"

// Some tests re-execute the test binary as a separate process; the
// environment variable childEnv says which role it plays.
const childEnv = "STAGESCOPE_COLLECTOR_CHILD"

var childRoles = map[string]func(){}

// runChild runs the child role named in the environment, if any, and
// reports whether it did (TestMain then exits without running tests).
func runChild() bool {
	role := os.Getenv(childEnv)
	if role == "" {
		return false
	}
	f, ok := childRoles[role]
	if !ok {
		os.Stderr.WriteString("unknown child role " + role + "\n")
		os.Exit(2)
	}
	f()
	return true
}
