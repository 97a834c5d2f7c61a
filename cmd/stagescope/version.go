package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// versionLine says which build this is: the module version (a tagged
// release, or "(devel)" for a build from a checkout), the source revision
// and whether the tree had uncommitted changes, and the Go toolchain.
func versionLine() string {
	version, revision, modified, when := "(devel)", "", false, ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; v != "" {
			version = v
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			case "vcs.time":
				when = s.Value
			}
		}
	}
	out := "stagescope " + version
	if revision != "" {
		out += " " + revision[:min(12, len(revision))]
		if modified {
			out += "+modified"
		}
		if when != "" {
			out += " (" + when + ")"
		}
	}
	return fmt.Sprintf("%s %s %s/%s", out, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
