// Command attachtarget is the program under load of the attach tests: the
// engine answering questions continuously over a small corpus of the Go
// standard library, with the debug endpoint mounted (token from
// ATTACH_TOKEN) and net/http/pprof for goroutine dumps. On SIGTERM it
// writes every span that ended, one "trace-id span-id end-unix-ns" line
// each, to TRUTH_FILE.
package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/engine/corpus"
	"github.com/stagescope/stagescope/engine/llm"
	"github.com/stagescope/stagescope/engine/query"
	"github.com/stagescope/stagescope/handlers/debug"
	"github.com/stagescope/stagescope/spans"
)

// truth keeps every ended span's identity and end.
type truth struct {
	mu   sync.Mutex
	rows []row
}

type row struct {
	trace spans.TraceID
	span  spans.SpanID
	end   int64
}

func (t *truth) SpanStarted(*spans.Span) {}
func (t *truth) EndOnly() bool           { return true }
func (t *truth) SpanEnded(s *spans.Span) {
	t.mu.Lock()
	t.rows = append(t.rows, row{s.TraceID, s.SpanID, s.End.UnixNano()})
	t.mu.Unlock()
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "attachtarget:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	mux := http.NewServeMux()
	mux.Handle(debug.Path, debug.Handler(debug.WithToken(os.Getenv("ATTACH_TOKEN")), debug.WithService("attachtarget")))
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	tr := &truth{}
	dispatcher.Root().AddSpanHandler(tr)

	model := llm.NewExtractive()
	p, err := query.NewGoPipeline(ctx, corpus.GOROOT(), model, []corpus.Option{corpus.WithPackages("strings", "bytes", "sort")}, nil, query.WithWorkers(2))
	if err != nil {
		return err
	}
	if len(p.Corpus.Questions) == 0 {
		return fmt.Errorf("no questions")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	fmt.Printf("listening http://%s%s\n", ln.Addr(), debug.Path)

	var wg sync.WaitGroup
	for w := range 3 {
		wg.Go(func() {
			for i := w; ctx.Err() == nil; i += 3 {
				q := p.Corpus.Questions[i%len(p.Corpus.Questions)]
				_, _ = p.Engine.Query(context.Background(), q.Query)
				time.Sleep(2 * time.Millisecond) // under load, not hogging a shared machine
			}
		})
	}
	<-ctx.Done()
	wg.Wait()
	_ = srv.Close()
	f, err := os.Create(os.Getenv("TRUTH_FILE"))
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	tr.mu.Lock()
	for _, r := range tr.rows {
		fmt.Fprintf(w, "%s %s %d\n", r.trace, r.span, r.end)
	}
	tr.mu.Unlock()
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Println("stopped")
	return f.Close()
}
