package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// usageError is a bad command line: exit code 2.
type usageError struct {
	cmd string
	err error
}

func (e *usageError) Error() string { return e.err.Error() }

func usagef(cmd, format string, a ...any) error {
	return &usageError{cmd: cmd, err: fmt.Errorf(format, a...)}
}

// newFlagSet returns a flag set that prints its help to stdout on --help
// and reports bad flags as usage errors.
func newFlagSet(name, synopsis string, stdout io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are printed once, by run
	fs.Usage = func() {}     // help is printed by parse, only when asked for
	helpText[fs] = func() {
		fmt.Fprintf(stdout, "Usage: stagescope %s [flags]\n\n%s\nFlags (environment variable fallbacks in brackets):\n", name, synopsis)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// helpText prints a flag set's help; one binary runs one command, so the
// map is written before any goroutine starts.
var helpText = map[*flag.FlagSet]func(){}

// parse parses args, turning every failure but --help into a usage error.
func parse(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		helpText[fs]()
		return err
	default:
		return &usageError{cmd: fs.Name(), err: err}
	}
	if fs.NArg() > 0 {
		return usagef(fs.Name(), "unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// env returns the first non-empty of the environment variables names, or
// def.
func env(def string, names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return def
}

// envDuration is env for durations; a malformed value is reported when the
// flag set is parsed (it becomes the flag's default, which flag re-parses).
func envDuration(def time.Duration, names ...string) time.Duration {
	if v := env("", names...); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return def
}

// envInt is env for integers.
func envInt(def int64, names ...string) int64 {
	if v := env("", names...); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n
		}
	}
	return def
}

// intList parses "3,5,10".
func intList(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive integer", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// stringList parses "a,b".
func stringList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// otlpHeaders parses OTEL_EXPORTER_OTLP_HEADERS ("k=v,k2=v2", values
// percent-decoded as the specification says).
func otlpHeaders(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	h := map[string]string{}
	for _, kv := range stringList(s) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("header %q is not key=value", kv)
		}
		if dv, err := urlUnescape(strings.TrimSpace(v)); err == nil {
			v = dv
		}
		h[strings.TrimSpace(k)] = v
	}
	return h, nil
}
