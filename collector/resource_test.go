package collector

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/stagescope/stagescope/migrations"
	"github.com/stagescope/stagescope/spans"
)

// v1Body is a version-1 span body written by the release before kinds and
// resources were kept (appendSpanBody of v1Span, captured from that code).
const v1Body = "010f656e67696e652e72657472696576650774696d656f7574080c736572766963652e6e616d6501066c65676163790f72657472696576616c2e746f705f6b020d0573636f726503000000000000d03f06636163686564040104646f6373050201610162036964730602020301770701000000000000f83f0166080201000111737461676573636f70652e72756e5f6964027231010af7651916cd43dd8448eb211c80319cb7ad6b716920333101016b010176"

// v1Span is the span v1Body encodes (body fields and identity).
func v1Span(t *testing.T) spans.Span {
	t.Helper()
	tid, err := spans.ParseTraceID("0af7651916cd43dd8448eb211c80319c")
	if err != nil {
		t.Fatal(err)
	}
	sid, err := spans.ParseSpanID("b7ad6b7169203331")
	if err != nil {
		t.Fatal(err)
	}
	return spans.Span{TraceID: tid, SpanID: sid, Name: "retrieve", Scope: "engine.retrieve", Err: "timeout", Stage: spans.StageRetrieve,
		Start: fromNanos(1764800000123456789), End: fromNanos(1764800000223456789),
		Attrs: []spans.Attribute{spans.String("service.name", "legacy"), spans.Int64("retrieval.top_k", -7), spans.Float64("score", 0.25), spans.Bool("cached", true),
			spans.Strings("docs", []string{"a", "b"}), spans.Int64s("ids", []int64{1, -2}), spans.Float64s("w", []float64{1.5}), spans.Bools("f", []bool{true, false})},
		Tags:  []spans.Tag{{Key: "stagescope.run_id", Value: "r1"}},
		Links: []spans.Link{{TraceID: tid, SpanID: sid, Attrs: []spans.Attribute{spans.String("k", "v")}}}}
}

// stored returns sp as the store gives it back: times in UTC without a
// monotonic reading.
func stored(sp spans.Span) spans.Span {
	sp.Start, sp.End = fromNanos(nanos(sp.Start)), fromNanos(nanos(sp.End))
	return sp
}

func TestRoundTripKindScopeVersionResource(t *testing.T) {
	s := openStore(t)
	c := newCollector(t, s, WithService("collector-svc"))
	ctx := context.Background()

	// Two resources with attributes of every kind, and an empty one (a
	// foreign span whose source sent no resource attributes).
	newRes := func(service string) *spans.Resource {
		return &spans.Resource{Attrs: []spans.Attribute{
			spans.String(spans.KeyService, service), spans.String("service.version", "1.4.2"), spans.String("host.name", "gpu-7"),
			spans.Int64("process.pid", 4242), spans.Float64("sample.ratio", 0.125), spans.Bool("debug", false),
			spans.Strings("process.command_args", []string{"python", "app.py"}), spans.Int64s("ports", []int64{80, 443}),
			spans.Float64s("weights", []float64{0.5, -1}), spans.Bools("flags", []bool{true, false}),
		}}
	}
	resA, resB, empty := newRes("rag-api"), newRes("retriever"), &spans.Resource{}
	tid := spans.NewTraceID()
	root := spans.NewSpanID()
	var in []spans.Span
	for k := spans.SpanKindUnspecified; k <= spans.SpanKindConsumer; k++ {
		sp := spans.Span{TraceID: tid, SpanID: spans.NewSpanID(), ParentID: root, Name: "op-" + k.String(), Scope: "openinference.instrumentation.langchain",
			Stage: spans.StageLLM, Kind: k, Start: t0.Add(time.Duration(k) * time.Millisecond), End: t0.Add(time.Duration(k+1) * time.Millisecond),
			Status: spans.StatusOK, Resource: resA, Attrs: []spans.Attribute{spans.Int("k", int(k))}}
		switch k % 3 {
		case 0:
			sp.ScopeVersion = "0.1.9"
		case 1:
			sp.Resource = resB
		case 2:
			sp.Resource, sp.Status, sp.Err = empty, spans.StatusError, "boom"
		}
		in = append(in, sp)
	}
	in = append(in, spans.Span{TraceID: tid, SpanID: root, Name: "query", Stage: spans.StageQuery, Kind: spans.SpanKindServer, ScopeVersion: "2.0.0",
		Start: t0, End: t0.Add(time.Second), Resource: resA,
		Links: []spans.Link{{TraceID: spans.NewTraceID(), SpanID: spans.NewSpanID(), Attrs: []spans.Attribute{spans.String("l", "x")}}}})
	// In-process spans: no resource; the service comes from the span's own
	// attribute, else the collector's.
	in = append(in,
		spans.Span{TraceID: tid, SpanID: spans.NewSpanID(), ParentID: root, Name: "local", Start: t0, End: t0.Add(time.Millisecond), Attrs: []spans.Attribute{spans.String(spans.KeyService, "inproc")}},
		spans.Span{TraceID: tid, SpanID: spans.NewSpanID(), ParentID: root, Name: "bare", Start: t0.Add(2 * time.Second), End: t0.Add(3 * time.Second)},
	)
	if err := c.Ingest(ctx, in, nil); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetTrace(ctx, tid)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Spans) != len(in) {
		t.Fatalf("%d spans back, want %d", len(got.Spans), len(in))
	}
	byID := map[spans.SpanID]*spans.Span{}
	for i := range got.Spans {
		byID[got.Spans[i].SpanID] = got.Spans[i]
	}
	for i := range in {
		g, want := byID[in[i].SpanID], stored(in[i])
		if g == nil {
			t.Fatalf("span %s missing", in[i].Name)
		}
		if !reflect.DeepEqual(*g, want) {
			t.Errorf("span %s differs:\n got %+v\nwant %+v", want.Name, *g, want)
		}
	}
	// Spans of one resource share one pointer, also across reads.
	again, err := s.GetTrace(ctx, tid)
	if err != nil {
		t.Fatal(err)
	}
	first := map[string]*spans.Resource{}
	for _, tr := range []*Trace{got, again} {
		for _, sp := range tr.Spans {
			if sp.Resource == nil {
				continue
			}
			key := sp.Resource.Service()
			if p, ok := first[key]; ok && p != sp.Resource {
				t.Fatalf("spans of resource %q do not share one *Resource", key)
			}
			first[key] = sp.Resource
		}
	}
	if len(first) != 3 {
		t.Fatalf("%d distinct resources read back, want 3", len(first))
	}

	// A trace's service: its first span's resource, else the span's
	// service.name attribute, else the collector's service.
	svcOf := map[string]spans.Span{
		"rag-api":       {Resource: resA},
		"inproc":        {Attrs: []spans.Attribute{spans.String(spans.KeyService, "inproc")}},
		"collector-svc": {Resource: empty},
	}
	for want, sp := range svcOf {
		sp.TraceID, sp.SpanID, sp.Name, sp.Start, sp.End = spans.NewTraceID(), spans.NewSpanID(), "svc-"+want, t0, t0.Add(time.Millisecond)
		if err := c.Ingest(ctx, []spans.Span{sp}, nil); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetTrace(ctx, sp.TraceID)
		if err != nil || got.Summary.Service != want {
			t.Fatalf("service of a trace whose span has %+v: %+v %v, want %q", sp, got, err, want)
		}
	}

	// Equal resources sent again (new pointers, a later request) are not
	// stored again: one row per distinct resource.
	tid2 := spans.NewTraceID()
	more := []spans.Span{
		{TraceID: tid2, SpanID: spans.NewSpanID(), Name: "a", Start: t0, End: t0.Add(time.Millisecond), Resource: newRes("rag-api")},
		{TraceID: tid2, SpanID: spans.NewSpanID(), Name: "b", Start: t0, End: t0.Add(time.Millisecond), Resource: &spans.Resource{}},
	}
	if err := c.Ingest(ctx, more, nil); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.DB().QueryRow("SELECT count(*) FROM resources").Scan(&n); err != nil || n != 3 {
		t.Fatalf("%d resource rows (%v), want 3", n, err)
	}
	got2, err := s.GetTrace(ctx, tid2)
	if err != nil {
		t.Fatal(err)
	}
	for _, sp := range got2.Spans {
		if sp.Name == "a" && sp.Resource != first["rag-api"] {
			t.Fatal("a span of a known resource does not share the cached *Resource")
		}
	}
}

// A resource is interned by its encoded attributes, not by its pointer or
// its service: the same service with another version is another resource,
// and it survives a restart (the writer finds it through resources_by_hash).
func TestResourcesInternedAcrossRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.db")
	ctx := context.Background()
	res := func(version string) *spans.Resource {
		return &spans.Resource{Attrs: []spans.Attribute{spans.String(spans.KeyService, "svc"), spans.String("service.version", version)}}
	}
	ingest := func(versions ...string) {
		s, err := OpenSQLite(path)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		c := New(s)
		defer c.Shutdown(ctx)
		var ss []spans.Span
		for _, v := range versions {
			ss = append(ss, spans.Span{TraceID: spans.NewTraceID(), SpanID: spans.NewSpanID(), Name: v, Start: t0, End: t0.Add(time.Millisecond), Resource: res(v)})
		}
		if err := c.Ingest(ctx, ss, nil); err != nil {
			t.Fatal(err)
		}
	}
	ingest("1", "2")
	ingest("2", "3", "1")
	s, err := OpenSQLite(path, WithReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var n int
	if err := s.DB().QueryRow("SELECT count(*) FROM resources").Scan(&n); err != nil || n != 3 {
		t.Fatalf("%d resource rows (%v), want 3", n, err)
	}
	page, err := s.ListTraces(ctx, TraceQuery{})
	if err != nil || len(page.Traces) != 5 {
		t.Fatalf("%d traces, %v", len(page.Traces), err)
	}
	for _, ts := range page.Traces {
		tr, err := s.GetTrace(ctx, ts.TraceID)
		if err != nil {
			t.Fatal(err)
		}
		sp := tr.Spans[0]
		if sp.Resource == nil || len(sp.Resource.Attrs) != 2 || sp.Resource.Attrs[1].Value.AsString() != sp.Name {
			t.Fatalf("span %q came back with resource %+v", sp.Name, sp.Resource)
		}
	}
}

// A database written by the release before kinds and resources were kept:
// schema of migrations 1–3, a span row with a version-1 body. Opening it
// migrates the schema; the span reads back exactly, and new spans of the
// same trace (version-2 bodies) sit beside it.
func TestReadsVersion1Bodies(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := migrations.ApplyTo(ctx, db, 3); err != nil {
		t.Fatal(err)
	}
	want := v1Span(t)
	body, err := hex.DecodeString(v1Body)
	if err != nil {
		t.Fatal(err)
	}
	parts := binary.AppendUvarint(binary.AppendUvarint(nil, 1), 1)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{"INSERT INTO spans (id, trace_id, span_id, parent_id, name, stage, start_ns, end_ns, status, service, body) VALUES (1, ?, ?, NULL, ?, ?, ?, ?, 0, 'legacy', ?)",
			[]any{want.TraceID[:], want.SpanID[:], want.Name, int64(want.Stage), nanos(want.Start), nanos(want.End), body}},
		// span_parts as TEXT, as the release's upsert left it after a merge.
		{"INSERT INTO traces (trace_id, start_ns, end_ns, root_name, root_status, service, span_count, error_count, stages, run_id, span_parts) VALUES (?, ?, ?, ?, 0, 'legacy', 1, 0, ?, 'r1', CAST(? AS TEXT))",
			[]any{want.TraceID[:], nanos(want.Start), nanos(want.End), want.Name, int64(1) << want.Stage, parts}},
	} {
		if _, err := db.Exec(q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	s, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := newCollector(t, s)
	child := spans.Span{TraceID: want.TraceID, SpanID: spans.NewSpanID(), ParentID: want.SpanID, Name: "new", Kind: spans.SpanKindClient, ScopeVersion: "1.0",
		Start: want.Start, End: want.End, Resource: &spans.Resource{Attrs: []spans.Attribute{spans.String(spans.KeyService, "new-svc")}}}
	// A retry of the old span is recognised against its version-1 row (and
	// its trace's TEXT span_parts).
	if err := c.Ingest(ctx, []spans.Span{want}, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Ingest(ctx, []spans.Span{child}, nil); err != nil {
		t.Fatal(err)
	}
	if m := c.Metrics(); m.SpansDuplicate != 1 || m.SpansWritten != 1 {
		t.Fatalf("metrics %+v", m)
	}
	got, err := s.GetTrace(ctx, want.TraceID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Spans) != 2 || got.Summary.SpanCount != 2 {
		t.Fatalf("%d spans, summary %+v", len(got.Spans), got.Summary)
	}
	for _, g := range got.Spans {
		w := want
		if g.SpanID == child.SpanID {
			w = stored(child)
		}
		if !reflect.DeepEqual(*g, w) {
			t.Errorf("span %s differs:\n got %+v\nwant %+v", w.Name, g, w)
		}
	}
}

func TestCodecVersion2Fields(t *testing.T) {
	sp := fullSpan()
	sp.Kind, sp.ScopeVersion = spans.SpanKindProducer, "3.1"
	b := appendSpanBodyResource(nil, &sp, 300)
	var out spans.Span
	rid, err := decodeSpanBodyResource(b, &out)
	if err != nil || rid != 300 || out.Kind != sp.Kind || out.ScopeVersion != sp.ScopeVersion || out.Scope != sp.Scope {
		t.Fatalf("decoded rid %d kind %v version %q scope %q: %v", rid, out.Kind, out.ScopeVersion, out.Scope, err)
	}
	for i := 0; i < len(b); i++ {
		var o spans.Span
		if _, err := decodeSpanBodyResource(b[:i], &o); err == nil && i > 0 {
			t.Fatalf("truncated body of %d/%d bytes decoded without error", i, len(b))
		}
	}
	// Unknown field bits, a kind past consumer and resource id 0 are corrupt.
	for _, bad := range [][]byte{{2, 0x20, 0, 0, 0, 0, 0}, {2, 0x06, 0, 0, 0, 0, 0}, {2, fieldResource, 0, 0, 0, 0, 0, 0}} {
		var o spans.Span
		if _, err := decodeSpanBodyResource(bad, &o); err == nil {
			t.Fatalf("body %x accepted", bad)
		}
	}
	// A span with nothing in its body still has none; one with only a kind
	// pays two bytes.
	bare := spans.Span{}
	if b := appendSpanBody(nil, &bare); b != nil {
		t.Fatalf("bare span has body %x", b)
	}
	bare.Kind = spans.SpanKindServer
	if b := appendSpanBody(nil, &bare); len(b) != 2+5 {
		t.Fatalf("kind-only body %x", b)
	}
}
