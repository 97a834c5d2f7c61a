package collector

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"

	"github.com/stagescope/stagescope/spans"
	"github.com/stagescope/stagescope/spans/semconv"
)

const (
	envDB  = "STAGESCOPE_COLLECTOR_DB"
	envURL = "STAGESCOPE_COLLECTOR_URL"
)

func init() {
	childRoles["otlp-server"] = childOTLPServer
	childRoles["otel-sdk"] = childOTelSDK
}

// childOTLPServer serves OTLP ingest into the database named by envDB until
// it is killed. It prints its address on stdout.
func childOTLPServer() {
	s, err := OpenSQLite(os.Getenv(envDB))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	c := New(s, WithFlushInterval(5*time.Millisecond))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("ADDR %s\n", ln.Addr())
	_ = http.Serve(ln, NewOTLPHandler(c))
}

// sdkReport is what the OTel SDK child tells the parent it sent.
type sdkReport struct {
	TraceID, Root, Child, LinkTrace, LinkSpan string
	Start, End                                int64
}

// childOTelSDK sends a small trace with the official OpenTelemetry Go SDK
// and its OTLP/HTTP exporter to envURL.
func childOTelSDK() {
	ctx := context.Background()
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(os.Getenv(envURL)+"/v1/traces"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "sdk-child"))))
	tr := tp.Tracer("sdk.child.scope")
	start := time.Now()
	ctx, root := tr.Start(ctx, "query", trace.WithTimestamp(start), trace.WithAttributes(attribute.String("openinference.span.kind", "CHAIN")))
	linkSC := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{9, 9, 9}, SpanID: trace.SpanID{7, 7}})
	_, child := tr.Start(ctx, "llm.chat", trace.WithLinks(trace.Link{SpanContext: linkSC, Attributes: []attribute.KeyValue{attribute.String("why", "batch")}}),
		trace.WithAttributes(attribute.String("gen_ai.operation.name", "chat"), attribute.Int("gen_ai.usage.input_tokens", 321), attribute.Float64("temperature", 0.25),
			attribute.Bool("stream", true), attribute.StringSlice("docs", []string{"d1", "d2"}), attribute.Int64Slice("ranks", []int64{3, 1})))
	child.AddEvent("first_token", trace.WithAttributes(attribute.Int("index", 0)))
	child.SetStatus(codes.Error, "rate limited")
	child.End()
	end := time.Now()
	root.End(trace.WithTimestamp(end))
	if err := tp.Shutdown(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	rep := sdkReport{TraceID: root.SpanContext().TraceID().String(), Root: root.SpanContext().SpanID().String(), Child: child.SpanContext().SpanID().String(),
		LinkTrace: linkSC.TraceID().String(), LinkSpan: linkSC.SpanID().String(), Start: start.UnixNano(), End: end.UnixNano()}
	json.NewEncoder(os.Stdout).Encode(rep)
}

func childCmd(t *testing.T, role string, env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append(env, childEnv+"="+role)...)
	cmd.Stderr = os.Stderr
	return cmd
}

func TestOTelSDKExporterInSeparateProcess(t *testing.T) {
	s := openStore(t)
	c := newCollector(t, s)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: NewOTLPHandler(c)}
	go srv.Serve(ln)
	defer srv.Close()
	out, err := childCmd(t, "otel-sdk", envURL+"=http://"+ln.Addr().String()).Output()
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	var rep sdkReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("child said %q: %v", out, err)
	}
	tid, _ := spans.ParseTraceID(rep.TraceID)
	tr, err := s.GetTrace(context.Background(), tid)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Spans) != 2 || len(tr.Events) != 1 {
		t.Fatalf("%d spans, %d events", len(tr.Spans), len(tr.Events))
	}
	root, child := tr.Spans[0], tr.Spans[1]
	if root.SpanID.String() != rep.Root || !root.IsRoot() || root.Name != "query" || root.Stage != spans.StageChain ||
		root.Start.UnixNano() != rep.Start || root.End.UnixNano() != rep.End || root.Scope != "sdk.child.scope" {
		t.Fatalf("root %+v", root)
	}
	if child.SpanID.String() != rep.Child || child.ParentID != root.SpanID || child.Name != "llm.chat" || child.Stage != spans.StageLLM ||
		child.Status != spans.StatusError || child.Err != "rate limited" {
		t.Fatalf("child %+v", child)
	}
	want := map[string]string{"temperature": "0.25", "stream": "true", "docs": "[d1 d2]", "ranks": "[3 1]"}
	for k, w := range want {
		if v, ok := child.Attr(k); !ok || v.Emit() != w {
			t.Errorf("attribute %s = %q, want %q", k, v.Emit(), w)
		}
	}
	if u := semconv.UsageOf(child); u.Prompt != 321 || child.Service() != "sdk-child" {
		t.Errorf("usage %+v service %q, want 321 prompt tokens from sdk-child", u, child.Service())
	}
	if v, _ := child.Attr("ranks"); v.Kind() != spans.KindInt64Slice {
		t.Errorf("ranks kind %s", v.Kind())
	}
	if len(child.Links) != 1 || child.Links[0].TraceID.String() != rep.LinkTrace || child.Links[0].SpanID.String() != rep.LinkSpan || len(child.Links[0].Attrs) != 1 {
		t.Fatalf("links %+v", child.Links)
	}
	if e := tr.Events[0]; e.Name != "first_token" || e.SpanID.String() != rep.Child || len(e.Attrs) != 1 || e.Attrs[0].Value.AsInt64() != 0 {
		t.Fatalf("event %+v", e)
	}
	if tr.Summary.Service != "sdk-child" || tr.Summary.ErrorCount != 1 || tr.Summary.RootName != "query" {
		t.Fatalf("summary %+v", tr.Summary)
	}
}

// TestCrashKeepsAcknowledgedSpans SIGKILLs a child process that is ingesting
// OTLP requests and checks that every span of every request it answered 200
// is in the database afterwards, and that the database is intact.
func TestCrashKeepsAcknowledgedSpans(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "crash.db")
	cmd := childCmd(t, "otlp-server", envDB+"="+dbPath)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ADDR ") {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child said %q: %v", line, err)
	}
	url := "http://" + strings.TrimSpace(strings.TrimPrefix(line, "ADDR ")) + "/v1/traces"

	const senders, perRequest, killAfter = 4, 64, 60
	var mu sync.Mutex
	var acked []spans.SpanID
	ackedReqs := 0
	killed := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second}
	for g := 0; g < senders; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10_000; i++ { // bounded; the kill ends it much sooner
				req, _, ids := otlpRequest(perRequest, time.Now())
				b, _ := proto.Marshal(req)
				resp, err := client.Post(url, "application/x-protobuf", strings.NewReader(string(b)))
				if err != nil {
					return // the child is gone
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					continue
				}
				mu.Lock()
				acked = append(acked, ids...)
				ackedReqs++
				n := ackedReqs
				mu.Unlock()
				if n >= killAfter {
					once.Do(func() {
						cmd.Process.Signal(syscall.SIGKILL)
						close(killed)
					})
				}
			}
		}()
	}
	wg.Wait()
	cmd.Wait()
	select {
	case <-killed:
	default:
		t.Fatal("the child was never killed")
	}

	s, err := OpenSQLite(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var ic string
	if err := s.DB().QueryRow("PRAGMA integrity_check").Scan(&ic); err != nil || ic != "ok" {
		t.Fatalf("integrity_check %q %v", ic, err)
	}
	stored := map[spans.SpanID]bool{}
	for _, sp := range storedSpans(t, s.DB()) {
		stored[sp.span] = true
	}
	missing := 0
	for _, id := range acked {
		if !stored[id] {
			missing++
		}
	}
	if missing > 0 || len(acked) < killAfter*perRequest {
		t.Fatalf("%d of %d acknowledged spans missing after the crash", missing, len(acked))
	}
	t.Logf("%d acknowledged spans all present; %d stored in total", len(acked), len(stored))
	// The reopened store takes writes again, with ids after the old ones.
	c := New(s)
	if err := c.Ingest(context.Background(), ragTrace(time.Now(), false), nil); err != nil {
		t.Fatal(err)
	}
	c.Shutdown(context.Background())
}
