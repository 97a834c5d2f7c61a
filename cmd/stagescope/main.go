package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

const mainUsage = `stagescope — where does the time (and the money) of a RAG pipeline go?

Usage:
  stagescope <command> [flags]

Commands:
  serve          collector, OTLP/HTTP ingest and dashboard on an embedded SQLite database
  demo           serve, plus the built-in RAG pipeline over the Go standard library answering questions
  bench          sweep top_k × top_n × response mode × workers; latency, throughput, tokens, hit rate, MRR
  report         the bottleneck report in the terminal, from the local database or from Jaeger
  export jaeger  replay stored traces to Jaeger over OTLP (or Thrift for old collectors)
  attach         stream from a running program's debug endpoint into the database, detach cleanly
  version        the version of this binary (also --version)

Run "stagescope help <command>" or "stagescope <command> --help" for the flags of a command.
`

// command is one subcommand: it parses its own flags from args.
type command func(ctx context.Context, args []string, stdout, stderr io.Writer) error

var commands = map[string]command{
	"serve":  runServe,
	"demo":   runDemo,
	"bench":  runBench,
	"report": runReport,
	"export": runExport,
	"attach": runAttach,
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the command line args and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, mainUsage)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help":
		fmt.Fprint(stdout, mainUsage)
		return exitOK
	case "help":
		if len(args) == 1 {
			fmt.Fprint(stdout, mainUsage)
			return exitOK
		}
		if _, ok := commands[args[1]]; !ok {
			fmt.Fprintf(stderr, "stagescope help: unknown command %q\n\n%s", args[1], mainUsage)
			return exitUsage
		}
		return run(ctx, append(args[1:len(args):len(args)], "--help"), stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, versionLine())
		return exitOK
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "stagescope: unknown command %q\n\n%s", args[0], mainUsage)
		return exitUsage
	}
	err := cmd(ctx, args[1:], stdout, stderr)
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "stagescope %s: %v\nRun \"stagescope %s --help\" for usage.\n", ue.cmd, ue.err, ue.cmd)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "stagescope %s: %v\n", args[0], err)
		return exitError
	}
}
