package debug_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"go.uber.org/goleak"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/collector/otlpconv"
	"github.com/stagescope/stagescope/dispatcher"
	"github.com/stagescope/stagescope/dispatcher/dispatchertest"
	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/dispatcher/flight"
	"github.com/stagescope/stagescope/handlers/debug"
	"github.com/stagescope/stagescope/spans"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// program is a pipeline under load in this process: an isolated dispatcher
// with a flight recorder and a ground-truth recorder, and goroutines
// starting traces (query → retrieve → llm, the llm failing one time in 7)
// until stopped.
type program struct {
	d      *dispatcher.Dispatcher
	flight *flight.Recorder
	truth  *dispatcher.Recorder
	stop   chan struct{}
	wg     sync.WaitGroup
	n      atomic.Int64
}

func startProgram(t *testing.T, workers int, opts ...flight.Option) *program {
	t.Helper()
	p := &program{d: dispatcher.Get(dispatchertest.UniqueName("debugtest")), flight: flight.New(opts...),
		truth: dispatcher.NewRecorder(1 << 20), stop: make(chan struct{})}
	p.d.SetPropagate(false)
	t.Cleanup(p.d.AddSpanHandler(p.flight))
	t.Cleanup(p.d.AddEventHandler(p.flight))
	t.Cleanup(p.d.AddSpanHandler(p.truth))
	for range workers {
		p.wg.Go(func() {
			for {
				select {
				case <-p.stop:
					return
				default:
				}
				p.trace()
				time.Sleep(200 * time.Microsecond)
			}
		})
	}
	t.Cleanup(p.halt)
	return p
}

func (p *program) trace() {
	i := p.n.Add(1)
	ctx, q := p.d.Start(context.Background(), "query", spans.StageQuery)
	rctx, r := p.d.Start(ctx, "retrieve", spans.StageRetrieve, spans.Int(spans.KeyRetrievalTopK, 5))
	r.Emit(&event.RetrievalStart{Query: "q"})
	r.End()
	_, l := p.d.Start(rctx, "chat", spans.StageLLM)
	if i%7 == 0 {
		l.EndErr(errors.New("rate limited"))
	} else {
		l.End()
	}
	q.End()
}

func (p *program) halt() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	p.wg.Wait()
}

func openCollector(t *testing.T) (*collector.SQLiteStore, *collector.Collector) {
	t.Helper()
	st, err := collector.OpenSQLite(filepath.Join(t.TempDir(), "attach.db"))
	if err != nil {
		t.Fatal(err)
	}
	c := collector.New(st)
	t.Cleanup(func() {
		_ = c.Shutdown(context.Background())
		_ = st.Close()
	})
	return st, c
}

// stored returns the span ids the store holds for the traces of want.
func stored(t *testing.T, st *collector.SQLiteStore, want []*spans.Span) map[spans.SpanID]bool {
	t.Helper()
	got := map[spans.SpanID]bool{}
	seen := map[spans.TraceID]bool{}
	for _, s := range want {
		if seen[s.TraceID] {
			continue
		}
		seen[s.TraceID] = true
		tr, err := st.GetTrace(context.Background(), s.TraceID)
		if errors.Is(err, collector.ErrNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range tr.Spans {
			got[x.SpanID] = true
		}
	}
	return got
}

func TestAttachStreamsEverySpanThatEndsWhileAttached(t *testing.T) {
	p := startProgram(t, 3)
	srv := httptest.NewServer(debug.Handler(debug.WithRecorder(p.flight), debug.WithService("loadtest")))
	defer srv.Close()
	st, coll := openCollector(t)
	c, err := debug.NewClient(srv.URL+debug.Path, "")
	if err != nil {
		t.Fatal(err)
	}
	// Let some traces end before attaching: they come with the snapshot.
	for p.n.Load() < 50 {
		time.Sleep(time.Millisecond)
	}
	ctx, stop := context.WithCancel(context.Background())
	var frames atomic.Int64
	done := make(chan struct{})
	var res *debug.AttachResult
	go func() {
		defer close(done)
		res, err = debug.Attach(ctx, c, debug.CollectorSink(coll), debug.AttachOptions{Progress: func(pr *debug.Progress) {
			frames.Add(1)
		}})
	}()
	// Detach (as Ctrl-C does) once a few hundred traces ended while attached.
	start := p.n.Load()
	for p.n.Load() < start+300 || frames.Load() < 3 {
		time.Sleep(time.Millisecond)
	}
	stop()
	<-done
	if err != nil {
		t.Fatalf("attach: %v", err)
	}
	if !res.Final.Final || res.Final.Reason != "detach" {
		t.Fatalf("final frame = %+v, want a final frame after detach", res.Final)
	}
	if res.Final.Dropped != 0 {
		t.Fatalf("%d spans dropped with a large buffer and a fast reader", res.Final.Dropped)
	}
	if p.flight.Stats().Subscribed {
		t.Fatal("the tap is still attached after detach")
	}
	if err := coll.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var during, before []*spans.Span
	for _, s := range p.truth.Spans() {
		switch {
		case s.End.After(res.Attached) && !s.End.After(res.Cutoff):
			during = append(during, s)
		case s.End.Before(res.Attached):
			before = append(before, s)
		}
	}
	if len(during) < 300 {
		t.Fatalf("only %d spans ended while attached", len(during))
	}
	got := stored(t, st, append(during, before...))
	for _, s := range during {
		if !got[s.SpanID] {
			t.Fatalf("span %s (%s) ended at %v while attached (%v to %v) but is not in the database",
				s.SpanID, s.Name, s.End, res.Attached, res.Cutoff)
		}
	}
	// The snapshot brought what ended before (all of it: the ring is large).
	for _, s := range before {
		if !got[s.SpanID] {
			t.Fatalf("span %s ended before attaching and is in the ring, but the snapshot did not bring it", s.SpanID)
		}
	}
	if res.SnapshotSpans < len(before) || res.Streamed < len(during) {
		t.Fatalf("snapshot %d (≥ %d), streamed %d (≥ %d)", res.SnapshotSpans, len(before), res.Streamed, len(during))
	}
	// Events reached the database with their spans.
	tr, err := st.GetTrace(context.Background(), during[len(during)/2].TraceID)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range tr.Events {
		names = append(names, e.Name)
	}
	// Every trace has its retrieval.start; one in 7 an exception of the llm.
	if got := strings.Join(names, ","); got != "retrieval.start" && got != "retrieval.start,exception" {
		t.Fatalf("trace events = %s, want the retrieval.start (and an exception if the llm failed)", got)
	}
	sum := res.Stages.Summary()
	var llm debug.StageSummary
	for _, s := range sum {
		if s.Stage == spans.StageLLM {
			llm = s
		}
	}
	if llm.Count == 0 || llm.Errors == 0 || llm.Errors*5 > llm.Count {
		t.Fatalf("llm breakdown %+v: want about one error in 7", llm)
	}
}

func TestAttachForEndsByItselfAndSnapshotOnlyDoesNotStream(t *testing.T) {
	p := startProgram(t, 1)
	srv := httptest.NewServer(debug.Handler(debug.WithRecorder(p.flight)))
	defer srv.Close()
	_, coll := openCollector(t)
	c, _ := debug.NewClient(srv.URL, "") // the path defaults to debug.Path
	for p.n.Load() < 10 {
		time.Sleep(time.Millisecond)
	}
	res, err := debug.Attach(context.Background(), c, debug.CollectorSink(coll), debug.AttachOptions{SnapshotOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.SnapshotSpans < 30 || res.Streamed != 0 || p.flight.Stats().Subscribed {
		t.Fatalf("snapshot only: %d snapshot spans, %d streamed", res.SnapshotSpans, res.Streamed)
	}
	res, err = debug.Attach(context.Background(), c, debug.CollectorSink(coll), debug.AttachOptions{For: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Final.Reason != "for" || !res.Final.Final || res.Streamed == 0 {
		t.Fatalf("--for: final %+v, streamed %d", res.Final, res.Streamed)
	}
}

func TestSecondAttacherIsRefusedAndTheFirstGoesOn(t *testing.T) {
	p := startProgram(t, 1)
	srv := httptest.NewServer(debug.Handler(debug.WithRecorder(p.flight)))
	defer srv.Close()
	c, _ := debug.NewClient(srv.URL, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := make(chan error, 1)
	var attached atomic.Bool
	var n atomic.Int64
	go func() {
		_, err := c.Stream(ctx, 0, func(f debug.Frame, _ *coltracepb.ExportTraceServiceRequest) error {
			attached.Store(true)
			n.Add(int64(f.Spans))
			return nil
		})
		first <- err
	}()
	for !attached.Load() {
		time.Sleep(time.Millisecond)
	}
	_, err := c.Stream(ctx, 0, func(debug.Frame, *coltracepb.ExportTraceServiceRequest) error { return nil })
	if !errors.Is(err, debug.ErrAttached) || !strings.Contains(err.Error(), "one at a time") {
		t.Fatalf("second attacher: %v, want ErrAttached saying one at a time", err)
	}
	before := n.Load()
	for n.Load() <= before {
		time.Sleep(time.Millisecond)
	}
	if err := c.Detach(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-first; err != nil {
		t.Fatalf("the first stream after detach: %v", err)
	}
	if err := c.Detach(context.Background()); err == nil || !strings.Contains(err.Error(), "no client is attached") {
		t.Fatalf("detach with nobody attached: %v", err)
	}
}

func TestClosedConnectionMidStreamDetaches(t *testing.T) {
	p := startProgram(t, 1)
	ended := make(chan debug.StreamEnd, 1)
	srv := httptest.NewServer(debug.Handler(debug.WithRecorder(p.flight), debug.WithOnStreamEnded(func(e debug.StreamEnd) { ended <- e })))
	defer srv.Close()
	resp, err := http.Get(srv.URL + debug.Path + "stream")
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(resp.Body)
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	if !p.flight.Stats().Subscribed {
		t.Fatal("not subscribed while streaming")
	}
	resp.Body.Close() // the client goes away without detaching
	e := <-ended
	if e.Final || e.Reason != "client gone" {
		t.Fatalf("stream end = %+v", e)
	}
	if p.flight.Stats().Subscribed {
		t.Fatal("the tap stays after the client left")
	}
	// And the next client may attach.
	resp, err = http.Get(srv.URL + debug.Path + "stream?for=50ms")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"final":true`) {
		t.Fatalf("next client: %s %s", resp.Status, body)
	}
}

// TestSlowReaderCostsDroppedSpansNotLatency: a client that never reads.
// The pipeline goes on at full speed, the spans it could not hand over are
// counted, and the stream gives up on the client after the write timeout.
func TestSlowReaderCostsDroppedSpansNotLatency(t *testing.T) {
	p := startProgram(t, 2)
	ended := make(chan debug.StreamEnd, 1)
	srv := httptest.NewServer(debug.Handler(debug.WithRecorder(p.flight), debug.WithStreamBuffer(64),
		debug.WithWriteTimeout(300*time.Millisecond), debug.WithOnStreamEnded(func(e debug.StreamEnd) { ended <- e })))
	defer srv.Close()
	conn, err := (&net.Dialer{}).Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET "+debug.Path+"stream HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	// Never read. The pipeline keeps making traces meanwhile.
	e := <-ended
	if e.Reason != "client gone" || e.Dropped == 0 {
		t.Fatalf("stream end = %+v, want the stuck client cut off with drops counted", e)
	}
	before := p.n.Load()
	for p.n.Load() < before+50 {
		time.Sleep(time.Millisecond)
	}
	if p.flight.Stats().Subscribed {
		t.Fatal("the tap stays after a stuck client")
	}
}

func TestDroppedSpansAreReportedToTheAttacher(t *testing.T) {
	p := startProgram(t, 2)
	srv := httptest.NewServer(debug.Handler(debug.WithRecorder(p.flight), debug.WithStreamBuffer(4)))
	defer srv.Close()
	c, _ := debug.NewClient(srv.URL, "")
	// A reader that dawdles on every frame.
	final, err := c.Stream(context.Background(), 400*time.Millisecond, func(f debug.Frame, _ *coltracepb.ExportTraceServiceRequest) error {
		time.Sleep(20 * time.Millisecond)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if final.Dropped == 0 {
		t.Fatalf("final %+v: a 4-span buffer and a slow reader dropped nothing", final)
	}
}

func TestTokenAndLoopback(t *testing.T) {
	rec := flight.New()
	srv := httptest.NewServer(debug.Handler(debug.WithRecorder(rec), debug.WithToken("s3cret")))
	defer srv.Close()
	bad, _ := debug.NewClient(srv.URL, "wrong")
	if _, _, err := bad.Snapshot(context.Background(), -1); !errors.Is(err, debug.ErrUnauthorized) || !strings.Contains(err.Error(), "invalid bearer token") {
		t.Fatalf("wrong token: %v", err)
	}
	if _, err := bad.Stream(context.Background(), 0, func(debug.Frame, *coltracepb.ExportTraceServiceRequest) error { return nil }); !errors.Is(err, debug.ErrUnauthorized) {
		t.Fatalf("stream with a wrong token: %v", err)
	}
	if rec.Stats().Subscribed {
		t.Fatal("a refused client got a tap")
	}
	good, _ := debug.NewClient(srv.URL, "s3cret")
	if _, _, err := good.Snapshot(context.Background(), -1); err != nil {
		t.Fatalf("right token: %v", err)
	}
	// A request from another host (as the handler sees it) is refused.
	h := debug.Handler(debug.WithRecorder(rec))
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", debug.Path+"snapshot", nil)
	r.RemoteAddr = "192.0.2.7:5555"
	h.ServeHTTP(w, r)
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "loopback") {
		t.Fatalf("remote client: %d %s", w.Code, w.Body)
	}
	w = httptest.NewRecorder()
	debug.Handler(debug.WithRecorder(rec), debug.WithAllowRemote()).ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Fatalf("remote client allowed: %d %s", w.Code, w.Body)
	}
}

func TestSnapshotJSONFrozenDispatchersAndSampling(t *testing.T) {
	p := startProgram(t, 1, flight.WithTrigger(flight.ErrorIn(spans.StageLLM)))
	srv := httptest.NewServer(debug.Handler(debug.WithRecorder(p.flight), debug.WithService("svc")))
	defer srv.Close()
	for p.n.Load() < 30 {
		time.Sleep(time.Millisecond)
	}
	resp, err := http.Get(srv.URL + debug.Path + "snapshot?format=json")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	req, err := otlpconv.DecodeJSON(body)
	if err != nil {
		t.Fatalf("snapshot JSON: %v", err)
	}
	b := otlpconv.FromResourceSpans(req.ResourceSpans)
	if len(b.Spans) < 90 || b.Spans[0].Service() != "svc" {
		t.Fatalf("JSON snapshot: %d spans, service %q", len(b.Spans), b.Spans[0].Service())
	}
	c, _ := debug.NewClient(srv.URL+debug.Path, "")
	// The error trigger froze a snapshot; it is served by index.
	resp, err = http.Get(srv.URL + debug.Path + "frozen")
	if err != nil {
		t.Fatal(err)
	}
	var fr []debug.FrozenInfo
	_ = json.NewDecoder(resp.Body).Decode(&fr)
	resp.Body.Close()
	if len(fr) == 0 || !strings.Contains(fr[0].Reason, "error in llm") {
		t.Fatalf("frozen = %+v", fr)
	}
	_, info, err := c.Snapshot(context.Background(), 0)
	if err != nil || !strings.Contains(info.Reason, "error in llm") {
		t.Fatalf("frozen snapshot 0: %v, reason %q", err, info.Reason)
	}
	if _, _, err := c.Snapshot(context.Background(), 99); err == nil || !strings.Contains(err.Error(), "no frozen snapshot") {
		t.Fatalf("frozen 99: %v", err)
	}
	tree, err := c.Dispatchers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var mine *debug.DispatcherInfo
	for i := range tree.Dispatchers {
		if tree.Dispatchers[i].Name == p.d.Name() {
			mine = &tree.Dispatchers[i]
		}
	}
	if tree.Dispatchers[0].Name != "" || mine == nil || mine.SpansInWindow < 90 || mine.ErrorsInWindow == 0 ||
		strings.Join(mine.SpanHandlers, ",") != "*flight.Recorder,*dispatcher.Recorder" || mine.Sampling != 1 {
		t.Fatalf("tree entry = %+v", mine)
	}
	a, err := c.SampleFor(context.Background(), p.d.Name(), 0, time.Minute)
	if err != nil || a.Fraction != 0 || time.Until(a.Until) < 50*time.Second {
		t.Fatalf("sampling: %+v %v", a, err)
	}
	// A trace started now is not sampled: no handler sees it.
	_, probe := p.d.Start(context.Background(), "probe", spans.StageQuery)
	probe.End()
	for _, s := range p.truth.Spans() {
		if s.Name == "probe" {
			t.Fatal("a span started at sampling 0 reached the handlers")
		}
	}
	if _, err := c.SampleFor(context.Background(), p.d.Name(), 1.5, time.Minute); err == nil || !strings.Contains(err.Error(), "fraction must be") {
		t.Fatalf("fraction 1.5: %v", err)
	}
	if _, err := c.SampleFor(context.Background(), p.d.Name(), 1, 48*time.Hour); err == nil || !strings.Contains(err.Error(), "at most 1h0m0s") {
		t.Fatalf("48h: %v", err)
	}
	if _, err := c.SampleFor(context.Background(), "no.such", 1, time.Minute); err == nil || !strings.Contains(err.Error(), "no dispatcher") {
		t.Fatalf("unknown dispatcher: %v", err)
	}
	// A later change replaces the first; when it ends the dispatcher is
	// back to its own setting (none: everything).
	if _, err = c.SampleFor(context.Background(), p.d.Name(), 0.5, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	for f, _ := p.d.Sampling(); f != 1; f, _ = p.d.Sampling() {
		time.Sleep(time.Millisecond)
	}
	_, probe = p.d.Start(context.Background(), "probe2", spans.StageQuery)
	probe.End()
	if !hasName(p.truth.Spans(), "probe2") {
		t.Fatal("sampling did not return to everything")
	}
}

func hasName(ss []*spans.Span, name string) bool {
	for _, s := range ss {
		if s.Name == name {
			return true
		}
	}
	return false
}

// TestNoCostRemainsAfterDetach: a span costs the same allocations before
// an attachment, during it (the tap adds none) and after it.
func TestNoCostRemainsAfterDetach(t *testing.T) {
	d := dispatcher.Get(dispatchertest.UniqueName("debugalloc"))
	d.SetPropagate(false)
	rec := flight.New()
	defer d.AddSpanHandler(rec)()
	srv := httptest.NewServer(debug.Handler(debug.WithRecorder(rec)))
	defer srv.Close()
	span := func() {
		_, s := d.Start(context.Background(), "op", spans.StageRetrieve)
		s.End()
	}
	before := testing.AllocsPerRun(500, span)
	c, _ := debug.NewClient(srv.URL, "")
	ctx, cancel := context.WithCancel(context.Background())
	attached := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := c.Stream(ctx, 0, func(f debug.Frame, _ *coltracepb.ExportTraceServiceRequest) error {
			if f.Seq == 1 {
				close(attached)
			}
			return nil
		})
		done <- err
	}()
	<-attached
	during := testing.AllocsPerRun(500, span)
	if err := c.Detach(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	cancel()
	after := testing.AllocsPerRun(500, span)
	if before != 1 || during != before || after != before {
		t.Fatalf("allocations per span: before %v, during %v, after %v; want 1 each (the span)", before, during, after)
	}
	if rec.Stats().Subscribed || len(d.SpanHandlers()) != 1 {
		t.Fatal("the attachment left a tap or a handler")
	}
}
