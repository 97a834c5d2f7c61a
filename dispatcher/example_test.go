package dispatcher_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/spans"
)

// A stage starts a span, emits a typed event, and ends the span; a recorder
// attached to the dispatcher sees both.
func Example() {
	d := dispatcher.Get("example.retrieve")
	rec := dispatcher.NewRecorder(0)
	defer d.AddSpanHandler(rec)()
	defer d.AddEventHandler(rec)()

	ctx, span := d.Start(context.Background(), "retrieve", spans.StageRetrieve, spans.Int(spans.KeyRetrievalTopK, 3))
	if d.EventsEnabled() { // build events only when someone listens
		d.Emit(ctx, &event.RetrievalEnd{Query: "what is a context?", TopK: 3, Docs: []event.ScoredDoc{{ID: "context", Score: 0.92}}})
	}
	span.End()

	s := rec.Spans()[0]
	fmt.Println(s.Name, s.Stage, s.Status)
	fmt.Println(rec.Events()[0].Name(), rec.Events()[0].EventHeader().SpanID == s.SpanID)
	// Output:
	// retrieve retrieve ok
	// retrieval.end true
}

// Children started under the context Start returns get the span as parent,
// in any goroutine; the tree printer shows the result.
func ExampleWriteTraceTrees() {
	d := dispatcher.Get("example.tree")
	rec := dispatcher.NewRecorder(0)
	defer d.AddSpanHandler(rec)()

	ctx, q := d.Start(context.Background(), "query", spans.StageQuery)
	done := make(chan struct{})
	go func() {
		_, r := d.Start(ctx, "retrieve", spans.StageRetrieve)
		r.End()
		close(done)
	}()
	<-done
	_, l := d.Start(ctx, "llm.chat", spans.StageLLM)
	l.EndErr(errors.New("429 too many requests"))
	q.End()

	for _, s := range rec.Spans() { // zero the durations so the output is stable
		s.End = s.Start
	}
	_ = dispatcher.WriteTraceTrees(printer{}, rec.Spans())
	// Output:
	// query [query] 0s
	//   retrieve [retrieve] 0s
	//   llm.chat [llm] 0s ERROR: 429 too many requests
}

type printer struct{}

func (printer) Write(b []byte) (int, error) { fmt.Print(string(b)); return len(b), nil }

// Run wraps a function in a span; its error or panic is recorded.
func ExampleDispatcher_Run() {
	d := dispatcher.Get("example.run")
	rec := dispatcher.NewRecorder(0)
	defer d.AddSpanHandler(rec)()

	err := d.Run(context.Background(), "embed", spans.StageEmbed, func(ctx context.Context) error {
		return errors.New("model not loaded")
	})
	s := rec.Spans()[0]
	fmt.Println(err, "|", s.Status, s.Err)
	// Output: model not loaded | error model not loaded
}

// Handlers can be attached to and removed from a running program.
func ExampleDispatcher_AddSpanHandler() {
	d := dispatcher.Get("example.attach")
	_, s := d.Start(context.Background(), "unseen", spans.StageOther)
	fmt.Println(s == nil) // nobody listens: no span is made
	rec := dispatcher.NewRecorder(0)
	remove := d.AddSpanHandler(rec)
	_, s = d.Start(context.Background(), "seen", spans.StageOther)
	s.End()
	remove()
	fmt.Println(len(rec.Spans()), rec.Spans()[0].Name)
	// Output:
	// true
	// 1 seen
}
