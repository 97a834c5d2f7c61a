package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/handlers/debug"
)

// defaultAttachEvery is how often the live breakdown is printed.
const defaultAttachEvery = 2 * time.Second

const attachSynopsis = `Attaches to a running program that mounts stagescope's debug endpoint (as it would
net/http/pprof: import _ "github.com/stagescope/stagescope/handlers/debug/defaultmux").
Takes the flight recorder's snapshot (the last seconds of spans), then streams every span
that ends from then on into the local database (or, with --to, into a running serve),
printing a per-stage breakdown on stderr while attached. Detaches on Ctrl-C or after --for,
leaving the program as it was. The report and the dashboard then read what was attached.

  stagescope attach http://127.0.0.1:6060/debug/stagescope/
  stagescope attach --for 30s --to http://127.0.0.1:7318/ http://127.0.0.1:6060/
  stagescope attach --snapshot URL        only the snapshot

URL is the endpoint (its path defaults to ` + debug.Path + `).
`

// attachOutput is the JSON form of attach's summary (--json).
type attachOutput struct {
	Endpoint      string    `json:"endpoint"`
	Into          string    `json:"into"`
	SnapshotSpans int       `json:"snapshot_spans"`
	Streamed      int       `json:"streamed_spans"`
	Dropped       uint64    `json:"dropped_spans"`
	Attached      time.Time `json:"attached,omitzero"`
	Cutoff        time.Time `json:"cutoff,omitzero"`
	Ended         string    `json:"ended,omitempty"` // detach, for
}

func runAttach(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("attach", attachSynopsis, stdout)
	var data string
	registerData(fs, &data)
	var (
		to       = fs.String("to", "", "send to the running serve at this `URL` (OTLP/HTTP; its /v1/traces) instead of the local database")
		toToken  = fs.String("to-token", "", "bearer `token` of the serve given by --to [STAGESCOPE_TOKEN]")
		token    = fs.String("token", "", "bearer `token` the debug endpoint asks for [STAGESCOPE_DEBUG_TOKEN]")
		forDur   = fs.Duration("for", 0, "detach by itself after this `duration` (0: on Ctrl-C)")
		snapshot = fs.Bool("snapshot", false, "take only the snapshot, do not stream")
		every    = fs.Duration("every", defaultAttachEvery, "print the per-stage breakdown this often while attached (0: only at the end)")
		asJSON   = fs.Bool("json", false, "print the summary as JSON on stdout")
	)
	endpoint, err := parseWithArgument(fs, args, "URL")
	if err != nil {
		return err
	}
	if *forDur < 0 {
		return usagef("attach", "--for must not be negative")
	}
	if *snapshot && *forDur > 0 {
		return usagef("attach", "--snapshot takes no --for: it does not stream")
	}
	if *token == "" {
		*token = env("", "STAGESCOPE_DEBUG_TOKEN") // not a flag default: --help must not print it
	}
	if *toToken == "" {
		*toToken = env("", "STAGESCOPE_TOKEN")
	}
	client, err := debug.NewClient(endpoint, *token)
	if err != nil {
		return usagef("attach", "%v", err)
	}
	var (
		sink debug.Sink
		into string
	)
	if *to != "" {
		traces, err := tracesURL(*to)
		if err != nil {
			return usagef("attach", "--to: %v", err)
		}
		sink, into = debug.OTLPSink(traces, *toToken), traces
	} else {
		st, err := openStore(data)
		if err != nil {
			return err
		}
		coll := collector.New(st, collector.WithLateChildren(),
			collector.WithErrorHandler(func(err error) { fmt.Fprintf(stderr, "stagescope: collector: %v\n", err) }))
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), defaultShutdownTimeout)
			defer cancel()
			_ = coll.Shutdown(sctx)
			_ = st.Close()
		}()
		sink, into = debug.CollectorSink(coll), st.Path()
	}

	var last time.Time
	opts := debug.AttachOptions{For: *forDur, SnapshotOnly: *snapshot, Progress: func(p *debug.Progress) {
		if *every <= 0 || time.Since(last) < *every {
			return
		}
		last = time.Now()
		fmt.Fprintf(stderr, "\nstagescope: attached to %s: %d spans from the snapshot, %d streamed, %d dropped by the program\n",
			client.URL(), p.SnapshotSpans, p.Streamed, p.Frame.Dropped)
		_ = p.Stages.Write(stderr)
	}}
	if !*snapshot {
		fmt.Fprintf(stderr, "stagescope: attaching to %s (Ctrl-C detaches)\n", client.URL())
	}
	res, err := debug.Attach(ctx, client, sink, opts)
	if res != nil && (res.SnapshotSpans > 0 || res.Streamed > 0) {
		fmt.Fprintln(stderr)
		_ = res.Stages.Write(stderr)
	}
	if err != nil {
		return err
	}
	out := attachOutput{Endpoint: client.URL(), Into: into, SnapshotSpans: res.SnapshotSpans, Streamed: res.Streamed,
		Dropped: res.Final.Dropped, Attached: res.Attached, Cutoff: res.Cutoff, Ended: res.Final.Reason}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	if *snapshot {
		fmt.Fprintf(stdout, "stagescope: snapshot of %s: %d spans into %s\n", out.Endpoint, out.SnapshotSpans, into)
		return nil
	}
	fmt.Fprintf(stdout, "stagescope: attached to %s from %s to %s (%s): %d spans from the snapshot, %d streamed, %d dropped by the program; into %s\n",
		out.Endpoint, out.Attached.Format(time.RFC3339), out.Cutoff.Format(time.RFC3339), out.Ended, out.SnapshotSpans, out.Streamed, out.Dropped, into)
	return nil
}

// parseWithArgument parses flags around one required positional argument
// (flags may come before or after it) and returns the argument.
func parseWithArgument(fs *flag.FlagSet, args []string, what string) (string, error) {
	err := fs.Parse(args)
	if err == nil && fs.NArg() > 0 {
		rest := fs.Args()
		arg := rest[0]
		if err = fs.Parse(rest[1:]); err == nil {
			if fs.NArg() > 0 {
				return "", usagef(fs.Name(), "unexpected argument %q (one %s only)", fs.Arg(0), what)
			}
			return arg, nil
		}
	}
	switch {
	case errors.Is(err, flag.ErrHelp):
		helpText[fs]()
		return "", err
	case err != nil:
		return "", &usageError{cmd: fs.Name(), err: err}
	}
	return "", usagef(fs.Name(), "missing the %s to attach to", what)
}

// tracesURL turns a serve's URL into its OTLP/HTTP traces endpoint.
func tracesURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%q is not an http(s) URL", raw)
	}
	if !strings.HasSuffix(u.Path, "/v1/traces") {
		u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/traces"
	}
	return u.String(), nil
}
