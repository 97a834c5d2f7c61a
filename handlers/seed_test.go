package handlers_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stagescope/stagescope/collector"
	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/handlers"
	"github.com/stagescope/stagescope/spans"
)

// The seeded database: every count and name below is asserted by tests.
const (
	nameNormal   = "query: what is retrieval-augmented generation"
	nameFailing  = "query: failing answer"
	nameSlow     = "query: slow rerank"
	nameAcme     = "query: acme account"
	nameHostile  = `<img src=x onerror=alert(1)>`
	attrHostile  = `<script>alert(2)</script>`
	runBase      = "run-base"
	runCand      = "run-cand"
	seedNormal   = 10 // 100 ms each
	seedFailing  = 3  // llm fails
	seedSlow     = 2  // rerank 800 ms
	seedRun      = 10 // per run
	seedTotal    = seedNormal + seedFailing + seedSlow + 1 + 1 + 2*seedRun
	spansPerRAG  = 6  // query, embed, retrieve, rerank, synth, llm
	seedTTFTMs   = 15 // the llm call streams its first token after 15 ms
	slowRerankMs = 800
)

// seeded is a running server over a seeded database.
type seeded struct {
	t      *testing.T
	store  *collector.SQLiteStore
	coll   *collector.Collector
	srv    *handlers.Server
	ts     *httptest.Server
	base   time.Time // start of the first seeded trace
	ids    map[string][]spans.TraceID
	client *http.Client
}

// ragTrace builds query → embed, retrieve, rerank, synth → llm, laid out
// one after another from start. Durations are in milliseconds.
type ragShape struct {
	name                         string
	embed, retrieve, rerank, llm int
	llmFails                     bool
	service                      string
	rootAttrs                    []spans.Attribute
	tags                         []spans.Tag
}

func ragTrace(start time.Time, sh ragShape) ([]spans.Span, []event.Record) {
	tid := spans.NewTraceID()
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	root := spans.NewSpanID()
	mk := func(parent spans.SpanID, name string, st spans.Stage, from time.Time, d time.Duration) spans.Span {
		return spans.Span{TraceID: tid, SpanID: spans.NewSpanID(), ParentID: parent, Name: name, Stage: st,
			Start: from, End: from.Add(d), Status: spans.StatusOK, Tags: sh.tags,
			Attrs: []spans.Attribute{spans.String(spans.KeyService, sh.service)}}
	}
	t := start
	embed := mk(root, "embed query", spans.StageEmbed, t, ms(sh.embed))
	embed.Attrs = append(embed.Attrs, spans.String(spans.KeyEmbeddingModel, "text-embedding-3-small"), spans.Int64(spans.KeyEmbeddingTokens, 12))
	t = embed.End
	retrieve := mk(root, "retrieve top-k", spans.StageRetrieve, t, ms(sh.retrieve))
	retrieve.Attrs = append(retrieve.Attrs, spans.Int64(spans.KeyRetrievalTopK, 10))
	t = retrieve.End
	rerank := mk(root, "rerank passages", spans.StageRerank, t, ms(sh.rerank))
	rerank.Attrs = append(rerank.Attrs, spans.Int64(spans.KeyRerankTopN, 5))
	t = rerank.End
	synth := mk(root, "synthesize answer", spans.StageSynth, t, ms(sh.llm+2))
	llm := mk(synth.SpanID, "chat completion", spans.StageLLM, t.Add(ms(1)), ms(sh.llm))
	llm.Attrs = append(llm.Attrs, spans.String(spans.KeyLLMModel, "gpt-4o-mini"),
		spans.Int64(spans.KeyLLMPromptTokens, 900), spans.Int64(spans.KeyLLMCompletionTokens, 120),
		spans.Bool(spans.KeyLLMStream, true), spans.Int64(spans.KeyLLMTTFTNanos, int64(ms(seedTTFTMs))))
	q := mk(spans.SpanID{}, sh.name, spans.StageQuery, start, synth.End.Sub(start))
	q.SpanID = root
	q.Attrs = append(q.Attrs, sh.rootAttrs...)
	if sh.llmFails {
		llm.Status, llm.Err = spans.StatusError, "rate limited by provider"
		synth.Status, synth.Err = spans.StatusError, "llm call failed"
		q.Status, q.Err = spans.StatusError, "no answer"
	}
	evs := []event.Record{{
		Header: event.Header{Time: retrieve.End, TraceID: tid, SpanID: retrieve.SpanID},
		Name:   "retrieval.end", Stage: spans.StageRetrieve,
		Attrs: []spans.Attribute{spans.Int64("retrieval.hits", 10), spans.String("retrieval.first", "doc-42")},
	}}
	return []spans.Span{q, embed, retrieve, rerank, synth, llm}, evs
}

// newSeeded opens a fresh database, seeds it through the real collector and
// serves it.
func newSeeded(t *testing.T, opts ...handlers.Option) *seeded {
	t.Helper()
	store, err := collector.OpenSQLite(filepath.Join(t.TempDir(), "stagescope.db"))
	if err != nil {
		t.Fatal(err)
	}
	coll := collector.New(store, collector.WithFlushInterval(5*time.Millisecond), collector.WithErrorHandler(func(err error) { t.Errorf("collector: %v", err) }))
	s := &seeded{t: t, store: store, coll: coll, ids: map[string][]spans.TraceID{}, client: &http.Client{Timeout: 30 * time.Second}}
	s.base = time.Now().Add(-40 * time.Minute).Truncate(time.Minute)
	ctx := context.Background()
	at := s.base
	add := func(key string, sh ragShape) {
		if sh.service == "" {
			sh.service = "rag-api"
		}
		ss, evs := ragTrace(at, sh)
		if err := coll.Ingest(ctx, ss, evs); err != nil {
			t.Fatalf("ingest: %v", err)
		}
		s.ids[key] = append(s.ids[key], ss[0].TraceID)
		at = at.Add(time.Minute)
	}
	normal := ragShape{name: nameNormal, embed: 10, retrieve: 30, rerank: 20, llm: 38}
	for range seedNormal {
		add("normal", normal)
	}
	for range seedFailing {
		sh := normal
		sh.name, sh.llmFails = nameFailing, true
		add("failing", sh)
	}
	for range seedSlow {
		sh := normal
		sh.name, sh.rerank = nameSlow, slowRerankMs
		add("slow", sh)
	}
	acme := normal
	acme.name, acme.rootAttrs = nameAcme, []spans.Attribute{spans.String("customer", "acme")}
	add("acme", acme)
	hostile := normal
	hostile.name, hostile.service = nameHostile, "hostile"
	hostile.rootAttrs = []spans.Attribute{spans.String("note", attrHostile)}
	add("hostile", hostile)

	for _, r := range []struct {
		id, name string
		llm      int
		summary  string
		config   string
	}{
		{runBase, "baseline top_n=5", 38, `{"p50_ms":100,"p95_ms":110,"p99_ms":120,"hit_rate":0.80,"mrr":0.61,"traces":10}`, `{"top_n":5,"llm":{"model":"small"}}`},
		{runCand, "candidate bigger model", 138, `{"p50_ms":200,"p95_ms":215,"p99_ms":230,"hit_rate":0.86,"mrr":0.70,"traces":10}`, `{"top_n":5,"llm":{"model":"large"}}`},
	} {
		runStart := at
		if _, err := store.CreateRun(ctx, collector.Run{ID: r.id, Name: r.name, Started: runStart,
			Config: json.RawMessage(r.config)}); err != nil {
			t.Fatal(err)
		}
		for range seedRun {
			sh := normal
			sh.name, sh.llm, sh.tags = "query: benchmark "+r.id, r.llm, []spans.Tag{{Key: spans.KeyRunID, Value: r.id}}
			add(r.id, sh)
		}
		if err := store.FinishRun(ctx, r.id, json.RawMessage(r.summary)); err != nil {
			t.Fatal(err)
		}
	}
	if err := coll.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	s.srv = handlers.New(store, coll, opts...)
	s.ts = httptest.NewServer(s.srv.Handler())
	t.Cleanup(s.close)
	return s
}

// serveIngested serves a fresh database holding what ingest put in through
// the real collector (flushed before the server starts).
func serveIngested(t *testing.T, ingest func(context.Context, *collector.Collector)) *seeded {
	t.Helper()
	store, err := collector.OpenSQLite(filepath.Join(t.TempDir(), "stagescope.db"))
	if err != nil {
		t.Fatal(err)
	}
	coll := collector.New(store, collector.WithFlushInterval(5*time.Millisecond))
	ctx := context.Background()
	ingest(ctx, coll)
	if err := coll.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	srv := handlers.New(store, coll)
	s := &seeded{t: t, store: store, coll: coll, srv: srv, ts: httptest.NewServer(srv.Handler()), client: &http.Client{Timeout: 30 * time.Second}}
	t.Cleanup(s.close)
	return s
}

func (s *seeded) close() {
	s.srv.Close()
	s.ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.coll.Shutdown(ctx); err != nil {
		s.t.Errorf("collector shutdown: %v", err)
	}
	if err := s.store.Close(); err != nil {
		s.t.Errorf("store close: %v", err)
	}
}

// do sends a request and returns the status, headers and body.
func (s *seeded) do(method, path string, body io.Reader, hdr ...string) (int, http.Header, []byte) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.ts.URL+path, body)
	if err != nil {
		s.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := s.client.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return res.StatusCode, res.Header, b
}

// getJSON GETs path, expects want and decodes the body into out.
func (s *seeded) getJSON(path string, want int, out any, hdr ...string) {
	s.t.Helper()
	code, h, b := s.do(http.MethodGet, path, nil, hdr...)
	if code != want {
		s.t.Fatalf("GET %s: status %d, want %d; body %s", path, code, want, b)
	}
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		s.t.Fatalf("GET %s: content type %q, want JSON", path, ct)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			s.t.Fatalf("GET %s: %v in %s", path, err, b)
		}
	}
}

// errorOf GETs path, expects status want and returns the error message.
func (s *seeded) errorOf(path string, want int, hdr ...string) string {
	s.t.Helper()
	var e handlers.ErrorBody
	s.getJSON(path, want, &e, hdr...)
	if e.Error == "" {
		s.t.Fatalf("GET %s: empty error message", path)
	}
	return e.Error
}
