package dispatcher_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/spans"
)

// attach puts a fresh recorder on d for the duration of the test.
func attach(t *testing.T, d *dispatcher.Dispatcher) *dispatcher.Recorder {
	t.Helper()
	rec := dispatcher.NewRecorder(0)
	t.Cleanup(d.AddSpanHandler(rec))
	t.Cleanup(d.AddEventHandler(rec))
	return rec
}

func byName(t *testing.T, set []*spans.Span) map[string]*spans.Span {
	t.Helper()
	m := map[string]*spans.Span{}
	for _, s := range set {
		if _, dup := m[s.Name]; dup {
			t.Fatalf("span name %q recorded twice", s.Name)
		}
		m[s.Name] = s
	}
	return m
}

func TestGetReturnsSameDispatcherAndBuildsTree(t *testing.T) {
	a := dispatcher.Get("t1.engine.retrieve")
	if b := dispatcher.Get("t1.engine.retrieve"); a != b {
		t.Fatal("Get returned two dispatchers for one name")
	}
	if a.Parent() != dispatcher.Get("t1.engine") || a.Parent().Parent() != dispatcher.Get("t1") {
		t.Fatalf("parent chain wrong: %q → %q", a.Parent().Name(), a.Parent().Parent().Name())
	}
	if dispatcher.Get("t1").Parent() != dispatcher.Root() || dispatcher.Root().Parent() != nil {
		t.Fatal("top-level dispatcher's parent is not the root")
	}
	if dispatcher.Get("") != dispatcher.Root() || dispatcher.Get(".t1.") != dispatcher.Get("t1") {
		t.Fatal("name normalisation broken")
	}
}

func TestNoHandlerReturnsSameContextAndNilSpan(t *testing.T) {
	d := dispatcher.Get("t2.quiet")
	ctx := context.Background()
	got, s := d.Start(ctx, "x", spans.StageOther)
	if got != ctx || s != nil {
		t.Fatalf("Start without handlers: ctx changed=%v span=%v", got != ctx, s)
	}
	// Every method of a nil span is a no-op.
	s.SetAttributes(spans.Int("a", 1))
	s.AddLink(spans.Link{})
	s.Emit(&event.QueryStart{})
	s.End()
	s.EndErr(errors.New("x"))
	s.Drop("x")
	if s.Recording() || s.Record() != nil {
		t.Fatal("nil span claims to record")
	}
}

func TestParentChildAcrossGoroutinesAndFanOut(t *testing.T) {
	d := dispatcher.Get("t3.engine")
	rec := attach(t, d)
	ctx, root := d.Start(context.Background(), "query", spans.StageQuery)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			jctx, job := dispatcher.Get("t3.engine.pool").Start(ctx, fmt.Sprintf("job-%d", i), spans.StagePool)
			ch := make(chan struct{})
			go func() { // a grandchild started in yet another goroutine
				_, inner := dispatcher.Get("t3.engine.retrieve").Start(jctx, fmt.Sprintf("retrieve-%d", i), spans.StageRetrieve)
				inner.End()
				close(ch)
			}()
			<-ch
			job.End()
		}()
	}
	wg.Wait()
	root.End()
	got := byName(t, rec.Spans())
	if len(got) != 17 {
		t.Fatalf("recorded %d spans, want 17", len(got))
	}
	q := got["query"]
	if !q.IsRoot() {
		t.Fatal("query span has a parent")
	}
	for i := range 8 {
		job, inner := got[fmt.Sprintf("job-%d", i)], got[fmt.Sprintf("retrieve-%d", i)]
		if job.ParentID != q.SpanID || job.TraceID != q.TraceID {
			t.Errorf("job-%d parent %s trace %s, want %s %s", i, job.ParentID, job.TraceID, q.SpanID, q.TraceID)
		}
		if inner.ParentID != job.SpanID || inner.TraceID != q.TraceID {
			t.Errorf("retrieve-%d parent %s, want job-%d %s", i, inner.ParentID, i, job.SpanID)
		}
		if inner.Scope != "t3.engine.retrieve" || inner.Stage != spans.StageRetrieve {
			t.Errorf("retrieve-%d scope %q stage %s", i, inner.Scope, inner.Stage)
		}
	}
}

func TestHandlerAttachedWhileSpansInFlightSeesLaterSpans(t *testing.T) {
	d := dispatcher.Get("t4")
	early := attach(t, d)
	ctx, outer := d.Start(context.Background(), "outer", spans.StageChain)
	late := dispatcher.NewRecorder(0)
	remove := d.AddSpanHandler(late)
	_, inner := d.Start(ctx, "inner", spans.StageLLM)
	inner.End()
	outer.End()
	remove()
	_, after := d.Start(context.Background(), "after-removal", spans.StageLLM)
	after.End()

	if n := len(early.Spans()); n != 3 {
		t.Fatalf("early recorder saw %d spans, want 3", n)
	}
	lateSpans := late.Spans()
	if len(lateSpans) != 1 || lateSpans[0].Name != "inner" {
		t.Fatalf("late recorder saw %v, want only inner", names(lateSpans))
	}
	if lateSpans[0].ParentID != outer.SpanContext().SpanID {
		t.Fatal("inner span lost its in-flight parent")
	}
}

func names(set []*spans.Span) []string {
	var out []string
	for _, s := range set {
		out = append(out, s.Name)
	}
	return out
}

func TestPropagateUpTheTree(t *testing.T) {
	rootRec := attach(t, dispatcher.Get("t5"))
	midRec := attach(t, dispatcher.Get("t5.engine"))
	leaf := dispatcher.Get("t5.engine.rerank")

	_, s := leaf.Start(context.Background(), "propagated", spans.StageRerank)
	s.End()
	dispatcher.Get("t5.engine").SetPropagate(false)
	t.Cleanup(func() { dispatcher.Get("t5.engine").SetPropagate(true) })
	_, s = leaf.Start(context.Background(), "stops-at-engine", spans.StageRerank)
	s.End()
	leaf.SetPropagate(false)
	t.Cleanup(func() { leaf.SetPropagate(true) })
	_, s = leaf.Start(context.Background(), "goes-nowhere", spans.StageRerank)
	if s != nil {
		t.Fatal("a dispatcher with no handlers and propagate off still recorded")
	}

	if got := names(rootRec.Spans()); strings.Join(got, ",") != "propagated" {
		t.Fatalf("t5 saw %v, want [propagated]", got)
	}
	if got := names(midRec.Spans()); strings.Join(got, ",") != "propagated,stops-at-engine" {
		t.Fatalf("t5.engine saw %v", got)
	}
}

type panickingHandler struct{ calls atomic.Int64 }

func (p *panickingHandler) SpanStarted(*spans.Span) { p.calls.Add(1); panic("boom at start") }
func (p *panickingHandler) SpanEnded(*spans.Span)   { p.calls.Add(1); panic("boom at end") }
func (p *panickingHandler) HandleEvent(event.Event) { p.calls.Add(1); panic("boom in event") }

func TestPanickingHandlerIsIsolatedCountedReportedOnce(t *testing.T) {
	var reports []error
	var mu sync.Mutex
	dispatcher.SetErrorHandler(func(err error) { mu.Lock(); reports = append(reports, err); mu.Unlock() })
	t.Cleanup(func() { dispatcher.SetErrorHandler(nil) })

	d := dispatcher.Get("t6")
	bad := &panickingHandler{}
	t.Cleanup(d.AddSpanHandler(bad))
	t.Cleanup(d.AddEventHandler(bad))
	good := attach(t, d)
	before := dispatcher.HandlerPanics()
	for i := range 3 {
		ctx, s := d.Start(context.Background(), fmt.Sprint("s", i), spans.StageOther)
		d.Emit(ctx, &event.QueryStart{Query: "q"})
		s.End()
	}
	if got := dispatcher.HandlerPanics() - before; got != 9 {
		t.Fatalf("counted %d handler panics, want 9", got)
	}
	if bad.calls.Load() != 9 {
		t.Fatalf("bad handler called %d times, want 9", bad.calls.Load())
	}
	if n := len(good.Spans()); n != 3 {
		t.Fatalf("healthy handler saw %d spans, want 3", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reports) != 1 {
		t.Fatalf("reported %d times, want once: %v", len(reports), reports)
	}
	var hp *dispatcher.HandlerPanicError
	if !errors.As(reports[0], &hp) || !strings.Contains(hp.Handler, "panickingHandler") {
		t.Fatalf("report %v does not name the handler", reports[0])
	}
}

func TestPanicInsideSpanIsRecordedAndRepanicked(t *testing.T) {
	d := dispatcher.Get("t7")
	rec := attach(t, d)
	func() {
		defer func() {
			if r := recover(); r != "kaboom" {
				t.Fatalf("recovered %v, want the original panic", r)
			}
		}()
		_ = d.Run(context.Background(), "explodes", spans.StageTool, func(ctx context.Context) error { panic("kaboom") })
	}()
	got := rec.Spans()
	if len(got) != 1 || got[0].Status != spans.StatusError || got[0].Err != "panic: kaboom" {
		t.Fatalf("span after panic: %+v", got)
	}
	var ex *event.Exception
	for _, e := range rec.Events() {
		if x, ok := e.(*event.Exception); ok {
			ex = x
		}
	}
	if ex == nil || !ex.Panic || !strings.Contains(ex.Stack, "TestPanicInsideSpan") || ex.SpanID != got[0].SpanID {
		t.Fatalf("exception event missing or wrong: %+v", ex)
	}
}

func TestDoneRecordsErrorsAndCancellation(t *testing.T) {
	d := dispatcher.Get("t8")
	rec := attach(t, d)
	fail := errors.New("upstream 503")
	_ = d.Run(context.Background(), "fails", spans.StageLLM, func(context.Context) error { return fail })
	_ = d.Run(context.Background(), "cancelled", spans.StageLLM, func(context.Context) error { return fmt.Errorf("wait: %w", context.Canceled) })
	_ = d.Run(context.Background(), "fine", spans.StageLLM, func(context.Context) error { return nil })
	got := byName(t, rec.Spans())
	if s := got["fails"]; s.Status != spans.StatusError || s.Err != "upstream 503" {
		t.Errorf("fails: %s %q", s.Status, s.Err)
	}
	if s := got["cancelled"]; s.Status != spans.StatusDropped {
		t.Errorf("cancelled: %s", s.Status)
	}
	if s := got["fine"]; s.Status != spans.StatusOK || s.Duration() < 0 || s.End.Before(s.Start) {
		t.Errorf("fine: %s %v", s.Status, s.Duration())
	}
}

func TestStreamSpanEndsAtDrainOrCloseNotAtReturn(t *testing.T) {
	d := dispatcher.Get("t9")
	rec := attach(t, d)
	open := func(n int) *dispatcher.Stream[string] {
		i := 0
		_, st := dispatcher.StartStream(context.Background(), d, "llm.stream", spans.StageLLM, func(context.Context) (string, error) {
			if i == n {
				return "", io.EOF
			}
			i++
			return fmt.Sprint("tok", i), nil
		}, nil)
		return st // the function that opened the stream has returned
	}
	st := open(3)
	if len(rec.Spans()) != 0 {
		t.Fatal("stream span ended when its opener returned")
	}
	for {
		if _, err := st.Next(context.Background()); err == io.EOF {
			break
		}
	}
	if len(rec.Spans()) != 1 {
		t.Fatal("stream span did not end at drain")
	}
	_ = st.Close() // closing after drain must not end it twice

	early := open(10)
	_, _ = early.Next(context.Background())
	if len(rec.Spans()) != 1 {
		t.Fatal("partially read stream ended early")
	}
	_ = early.Close()
	got := rec.Spans()
	if len(got) != 2 {
		t.Fatalf("%d spans, want 2", len(got))
	}
	if v, _ := got[0].Attr("stream.items"); v.AsInt64() != 3 {
		t.Errorf("drained stream items = %d, want 3", v.AsInt64())
	}
	if v, _ := got[0].Attr("stream.drained"); !v.AsBool() {
		t.Error("drained stream not marked drained")
	}
	if v, _ := got[1].Attr("stream.drained"); v.AsBool() {
		t.Error("closed-early stream marked drained")
	}
	if v, _ := got[1].Attr("stream.items"); v.AsInt64() != 1 {
		t.Errorf("closed-early items = %d, want 1", v.AsInt64())
	}
}

func TestTraceSeqSpanCoversIterationAndBreak(t *testing.T) {
	d := dispatcher.Get("t10")
	rec := attach(t, d)
	seq := dispatcher.TraceSeq(context.Background(), d, "docs", spans.StageRetrieve, func(ctx context.Context) iter.Seq2[int, error] {
		return func(yield func(int, error) bool) {
			for i := range 5 {
				if !yield(i, nil) {
					return
				}
			}
		}
	})
	for v, err := range seq {
		if err != nil || v == 2 {
			break
		}
		if len(rec.Spans()) != 0 {
			t.Fatal("seq span ended during iteration")
		}
	}
	got := rec.Spans()
	if len(got) != 1 {
		t.Fatalf("%d spans, want 1", len(got))
	}
	if v, _ := got[0].Attr("stream.items"); v.AsInt64() != 3 {
		t.Errorf("items = %d, want 3", v.AsInt64())
	}
}

func TestTagsReachSpansAndEvents(t *testing.T) {
	d := dispatcher.Get("t11")
	rec := attach(t, d)
	ctx := spans.WithTags(context.Background(), spans.Tag{Key: "user", Value: "ana"}, spans.Tag{Key: "env", Value: "dev"})
	ctx = spans.WithTags(ctx, spans.Tag{Key: "env", Value: "prod"}) // overrides
	ctx, s := d.Start(ctx, "tagged", spans.StageQuery)
	d.Emit(ctx, &event.QueryStart{Query: "what"})
	s.End()
	sp := rec.Spans()[0]
	if u, _ := sp.Tag("user"); u != "ana" {
		t.Errorf("span tag user = %q", u)
	}
	if e, _ := sp.Tag("env"); e != "prod" || len(sp.Tags) != 2 {
		t.Errorf("span tags %v", sp.Tags)
	}
	ev := rec.Events()[0].EventHeader()
	if len(ev.Tags) != 2 || ev.SpanID != sp.SpanID || ev.TraceID != sp.TraceID || ev.Time.IsZero() {
		t.Errorf("event header %+v", ev)
	}
}

func TestRemoteParentFromTraceparent(t *testing.T) {
	d := dispatcher.Get("t12")
	rec := attach(t, d)
	sc, err := spans.ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	if err != nil {
		t.Fatal(err)
	}
	_, s := d.Start(spans.ContextWithRemoteParent(context.Background(), sc), "server", spans.StageQuery)
	s.End()
	got := rec.Spans()[0]
	if got.TraceID.String() != "4bf92f3577b34da6a3ce929d0e0e4736" || got.ParentID.String() != "00f067aa0ba902b7" {
		t.Fatalf("remote parent not used: trace %s parent %s", got.TraceID, got.ParentID)
	}
}

func TestConcurrentAttachDetachWhileEmitting(t *testing.T) {
	d := dispatcher.Get("t13")
	stable := attach(t, d)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			r := dispatcher.NewRecorder(16)
			rm := d.AddSpanHandler(r)
			rm()
		}
	}()
	const n = 2000
	for i := 0; i < n; i++ {
		_, s := d.Start(context.Background(), "s", spans.StageOther)
		s.End()
	}
	close(stop)
	wg.Wait()
	if got := len(stable.Spans()); got != n {
		t.Fatalf("stable handler saw %d of %d spans during churn", got, n)
	}
}

func TestRecorderIsBounded(t *testing.T) {
	d := dispatcher.Get("t14")
	rec := dispatcher.NewRecorder(4)
	t.Cleanup(d.AddSpanHandler(rec))
	for i := range 10 {
		_, s := d.Start(context.Background(), fmt.Sprint(i), spans.StageOther)
		s.End()
	}
	if got := strings.Join(names(rec.Spans()), ","); got != "6,7,8,9" {
		t.Fatalf("recorder kept %s, want the last four", got)
	}
	if rec.Overwritten() != 6 {
		t.Fatalf("overwritten = %d, want 6", rec.Overwritten())
	}
}

func TestWriteTraceTrees(t *testing.T) {
	d := dispatcher.Get("t15")
	rec := attach(t, d)
	ctx, q := d.Start(context.Background(), "query", spans.StageQuery)
	_, r := d.Start(ctx, "retrieve", spans.StageRetrieve)
	r.End()
	sctx, sy := d.Start(ctx, "synthesize", spans.StageSynth)
	_, l := d.Start(sctx, "llm.chat", spans.StageLLM)
	l.EndErr(errors.New("rate limited"))
	sy.End()
	q.End()
	var b strings.Builder
	if err := rec.WriteTraceTrees(&b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	want := []string{"query [query]", "  retrieve [retrieve]", "  synthesize [synth]", "    llm.chat [llm]"}
	if len(lines) != len(want) {
		t.Fatalf("tree:\n%s", b.String())
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d = %q, want prefix %q", i, lines[i], w)
		}
	}
	if !strings.HasSuffix(lines[3], "ERROR: rate limited") {
		t.Errorf("error not shown: %q", lines[3])
	}
}

func TestTreePrinterPrintsWhenRootEnds(t *testing.T) {
	d := dispatcher.Get("t16")
	var b strings.Builder
	t.Cleanup(d.AddSpanHandler(dispatcher.NewTreePrinter(&b)))
	ctx, q := d.Start(context.Background(), "root", spans.StageQuery)
	_, c := d.Start(ctx, "child", spans.StageLLM)
	c.End()
	if b.Len() != 0 {
		t.Fatal("printed before the root ended")
	}
	q.End()
	if !strings.Contains(b.String(), "root [query]") || !strings.Contains(b.String(), "\n  child [llm]") {
		t.Fatalf("printed:\n%s", b.String())
	}
}

type startCounter struct {
	started, ended atomic.Int64
	endOnly        bool
}

func (c *startCounter) SpanStarted(*spans.Span) { c.started.Add(1) }
func (c *startCounter) SpanEnded(*spans.Span)   { c.ended.Add(1) }
func (c *startCounter) EndOnly() bool           { return c.endOnly }

func TestEndOnlyHandlersAreNotToldOfStarts(t *testing.T) {
	d := dispatcher.Get("t17")
	endOnly, both := &startCounter{endOnly: true}, &startCounter{}
	t.Cleanup(d.AddSpanHandler(endOnly))
	t.Cleanup(d.AddSpanHandler(both))
	for range 3 {
		_, s := d.Start(context.Background(), "s", spans.StageOther)
		s.End()
	}
	if endOnly.started.Load() != 0 || endOnly.ended.Load() != 3 {
		t.Errorf("end-only handler: %d starts, %d ends; want 0, 3", endOnly.started.Load(), endOnly.ended.Load())
	}
	if both.started.Load() != 3 || both.ended.Load() != 3 {
		t.Errorf("handler: %d starts, %d ends; want 3, 3", both.started.Load(), both.ended.Load())
	}
}

// funcHolder is comparable as a type but its value holds a func, which
// cannot be a map key: reporting its panic must not panic itself.
type funcHolder struct{ f any }

func (h funcHolder) HandleEvent(event.Event) { panic("from a func holder") }

func TestPanicOfAnUnhashableHandlerIsCountedAndItCanBeRemoved(t *testing.T) {
	var reports []error
	dispatcher.SetErrorHandler(func(err error) { reports = append(reports, err) })
	t.Cleanup(func() { dispatcher.SetErrorHandler(nil) })
	d := dispatcher.Get("t18")
	h := funcHolder{f: func() {}}
	remove := d.AddEventHandler(h)
	before := dispatcher.HandlerPanics()
	d.Emit(context.Background(), &event.QueryStart{Query: "q"})
	d.Emit(context.Background(), &event.QueryStart{Query: "q"})
	if got := dispatcher.HandlerPanics() - before; got != 2 {
		t.Fatalf("counted %d panics, want 2", got)
	}
	if len(reports) > 1 { // once per type for values that cannot be map keys (and 0 on a repeat run)
		t.Fatalf("reported %d times", len(reports))
	}
	d.RemoveEventHandler(h) // cannot be compared: a no-op, not a panic
	if !d.EventsEnabled() {
		t.Fatal("RemoveEventHandler removed a handler it cannot compare")
	}
	remove()
	if d.EventsEnabled() {
		t.Fatal("the function AddEventHandler returned did not detach the handler")
	}
}

// A span whose parent is missing is printed under its trace's root, marked,
// as every trace view in stagescope places it; without a single root it is
// printed at the top level.
func TestWriteTraceTreesAdoptsOrphans(t *testing.T) {
	at := time.Unix(1_700_000_000, 0)
	mk := func(tid spans.TraceID, id, parent spans.SpanID, name string, from int) *spans.Span {
		return &spans.Span{TraceID: tid, SpanID: id, ParentID: parent, Name: name, Stage: spans.StageOther,
			Start: at.Add(time.Duration(from) * time.Millisecond), End: at.Add(time.Duration(from+5) * time.Millisecond)}
	}
	t1, t2 := spans.TraceID{1}, spans.TraceID{2}
	set := []*spans.Span{
		mk(t1, spans.SpanID{1}, spans.SpanID{}, "root", 0),
		mk(t1, spans.SpanID{3}, spans.SpanID{9}, "orphan", 2),
		mk(t1, spans.SpanID{2}, spans.SpanID{1}, "child", 1),
		mk(t2, spans.SpanID{4}, spans.SpanID{8}, "lost", 3),
		mk(t2, spans.SpanID{5}, spans.SpanID{}, "a", 0),
		mk(t2, spans.SpanID{6}, spans.SpanID{}, "b", 1),
	}
	var b strings.Builder
	if err := dispatcher.WriteTraceTrees(&b, set); err != nil {
		t.Fatal(err)
	}
	want := "root [other] 5ms\n  child [other] 5ms\n  orphan [other] 5ms (parent missing)\n\n" +
		"a [other] 5ms\nb [other] 5ms\nlost [other] 5ms (parent missing)\n"
	if b.String() != want {
		t.Errorf("trees:\n%s\nwant:\n%s", b.String(), want)
	}
}
