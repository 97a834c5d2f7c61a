package otlpconv_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/stagescope/stagescope/collector/otlpconv"
	"github.com/stagescope/stagescope/spans"
	"github.com/stagescope/stagescope/spans/semconv"
)

// The fixtures under testdata were recorded from real instrumentations
// (each folder holds the program that produced them and its README):
// the OTel JS SDK by hand, LangChain.js with OpenInference, and the Vercel
// AI SDK's telemetry. expected.json holds facts computed from the recorded
// bodies by facts.mjs, not by this package.
type fixtureFacts struct {
	Service       string            `json:"service"`
	Resource      map[string]any    `json:"resource"` // strings compared, the rest (pid, command args) must be present
	Traces        int               `json:"traces"`
	Spans         int               `json:"spans"`
	SpansByName   map[string]int    `json:"spans_by_name"`
	KindsByName   map[string]string `json:"kinds_by_name"`
	ErrorSpans    int               `json:"error_spans"`
	ErrorsByName  map[string]int    `json:"error_spans_by_name"`
	EventsByName  map[string]int    `json:"events_by_name"`
	Tokens        map[string]int64  `json:"tokens"`
	LargestLeaf   string            `json:"largest_leaf_stage"`
	RequestFiles  []string          `json:"request_files"`
	ProtobufFacts *struct {
		RequestFiles []string `json:"request_files"`
	} `json:"protobuf"`
}

// loadFixture decodes every recorded request of a folder.
func loadFixture(t *testing.T, dir string) (fixtureFacts, otlpconv.Batch, []*tracepb.ResourceSpans) {
	t.Helper()
	var f fixtureFacts
	b, err := os.ReadFile(filepath.Join("testdata", dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	var rss []*tracepb.ResourceSpans
	for _, name := range f.RequestFiles {
		body, err := os.ReadFile(filepath.Join("testdata", dir, name))
		if err != nil {
			t.Fatal(err)
		}
		req, err := otlpconv.DecodeJSON(body)
		if err != nil {
			t.Fatalf("%s/%s: %v", dir, name, err)
		}
		rss = append(rss, req.GetResourceSpans()...)
	}
	batch := otlpconv.FromResourceSpans(rss)
	if batch.Rejected != 0 {
		t.Fatalf("%s: %d spans rejected: %s", dir, batch.Rejected, batch.Reason)
	}
	return f, batch, rss
}

// wantStages is the stage every span of the fixtures must get, by name:
// the table of conventions as real instrumentations write them.
var wantStages = map[string]map[string]spans.Stage{
	"otel-js": {"query": spans.StageQuery, "retrieve": spans.StageRetrieve, "llm": spans.StageLLM},
	"langchain": {
		"rag_chain": spans.StageChain, "RunnableMap": spans.StageChain, "RunnablePassthrough": spans.StageChain,
		"SlowDocsRetriever": spans.StageRetrieve, "rerank_step": spans.StageChain, "rerank_docs": spans.StageTool,
		"ChatPromptTemplate": spans.StageOther, // OpenInference PROMPT: not a model call, whatever its name says
		"UsageFakeChatModel": spans.StageLLM, "StrOutputParser": spans.StageChain,
	},
	"langfuse": {
		"rag-request":    spans.StageOther, // a plain Langfuse span whose name names no stage
		"embed-question": spans.StageEmbed, "vector-search": spans.StageRetrieve,
		"rerank-passages": spans.StageRerank, // a plain span: its name says rerank
		"answer":          spans.StageLLM,
	},
	"traceloop": {
		"rag_pipeline.workflow": spans.StageChain, "embed_query.task": spans.StageEmbed, "qdrant.search": spans.StageRetrieve,
		"rerank_hits.task": spans.StageRerank, "chat gpt-4o-mini": spans.StageLLM,
	},
	"vercel-ai": {
		"ai.generateText": spans.StageChain, "ai.generateText.doGenerate": spans.StageLLM,
		"ai.streamText": spans.StageChain, "ai.streamText.doStream": spans.StageLLM,
		"ai.embed": spans.StageChain, "ai.embed.doEmbed": spans.StageEmbed,
		"ai.embedMany": spans.StageChain, "ai.embedMany.doEmbed": spans.StageEmbed,
	},
}

func TestRecordedFixtures(t *testing.T) {
	for dir, stages := range wantStages {
		t.Run(dir, func(t *testing.T) {
			f, b, _ := loadFixture(t, dir)
			if len(b.Spans) != f.Spans {
				t.Fatalf("%d spans, want %d", len(b.Spans), f.Spans)
			}
			byName, errs, traces := map[string]int{}, map[string]int{}, map[spans.TraceID]bool{}
			var u semconv.Usage
			for i := range b.Spans {
				s := &b.Spans[i]
				byName[s.Name]++
				traces[s.TraceID] = true
				if want, ok := stages[s.Name]; !ok || s.Stage != want {
					t.Errorf("span %q: stage %s, want %s", s.Name, s.Stage, want)
				}
				if want := strings.ToLower(f.KindsByName[s.Name]); s.Kind.String() != want {
					t.Errorf("span %q: kind %s, want %s", s.Name, s.Kind, want)
				}
				if s.Status == spans.StatusError {
					errs[s.Name]++
				}
				if s.Service() != f.Service {
					t.Errorf("span %q: service %q, want %q", s.Name, s.Service(), f.Service)
				}
				for k, v := range f.Resource {
					found := false
					for _, a := range s.Resource.Attrs {
						str, isStr := v.(string)
						found = found || (a.Key == k && (!isStr || a.Value.Emit() == str))
					}
					if !found {
						t.Errorf("span %q: resource attribute %s=%s missing", s.Name, k, v)
					}
				}
				if _, ok := s.Attr(spans.KeyService); ok {
					t.Errorf("span %q: service.name added to the span's attributes", s.Name)
				}
				su := semconv.UsageOf(s)
				u.Prompt += su.Prompt
				u.Completion += su.Completion
				u.Embedding += su.Embedding
			}
			if len(traces) != f.Traces {
				t.Errorf("%d traces, want %d", len(traces), f.Traces)
			}
			for name, n := range f.SpansByName {
				if byName[name] != n {
					t.Errorf("%d spans named %q, want %d", byName[name], name, n)
				}
			}
			for name, n := range f.ErrorsByName {
				if errs[name] != n {
					t.Errorf("%d error spans named %q, want %d", errs[name], name, n)
				}
			}
			events := map[string]int{}
			for _, e := range b.Events {
				events[e.Name]++
			}
			for name, n := range f.EventsByName {
				if events[name] != n {
					t.Errorf("%d events %q, want %d", events[name], name, n)
				}
			}
			// Tokens once each, whatever keys carry them and however many
			// spans repeat them.
			if u.Prompt != f.Tokens["prompt"] || u.Completion != f.Tokens["completion"] || u.Embedding != f.Tokens["embedding"] {
				t.Errorf("tokens %+v, want prompt %d completion %d embedding %d", u, f.Tokens["prompt"], f.Tokens["completion"], f.Tokens["embedding"])
			}
		})
	}
}

// TestRecordedProtobufMatchesJSON: the OTel JS SDK's protobuf exporter and
// its JSON exporter give the same spans.
func TestRecordedProtobufMatchesJSON(t *testing.T) {
	f, fromJSON, _ := loadFixture(t, "otel-js")
	var rss []*tracepb.ResourceSpans
	for _, name := range f.ProtobufFacts.RequestFiles {
		body, err := os.ReadFile(filepath.Join("testdata", "otel-js", name))
		if err != nil {
			t.Fatal(err)
		}
		req, err := otlpconv.DecodeProtobuf(body)
		if err != nil {
			t.Fatal(err)
		}
		rss = append(rss, req.GetResourceSpans()...)
	}
	fromPB := otlpconv.FromResourceSpans(rss)
	if len(fromPB.Spans) != len(fromJSON.Spans) {
		t.Fatalf("%d spans from protobuf, %d from JSON", len(fromPB.Spans), len(fromJSON.Spans))
	}
	count := func(b otlpconv.Batch) map[string]int {
		m := map[string]int{}
		for _, s := range b.Spans {
			m[s.Name+"/"+s.Stage.String()+"/"+s.Kind.String()+"/"+s.Status.String()]++
		}
		return m
	}
	pb, js := count(fromPB), count(fromJSON)
	for k, n := range js {
		if pb[k] != n {
			t.Errorf("%s: %d from protobuf, %d from JSON", k, pb[k], n)
		}
	}
}

// TestRecordedTimeToFirstToken: the Vercel AI SDK's streaming calls report
// their time to first chunk, which semconv reads.
func TestRecordedTimeToFirstToken(t *testing.T) {
	_, b, _ := loadFixture(t, "vercel-ai")
	n := 0
	for i := range b.Spans {
		s := &b.Spans[i]
		if d, ok := semconv.TimeToFirstToken(s); ok {
			n++
			if s.Name != "ai.streamText.doStream" || d < 30e6 || d > 200e6 {
				t.Errorf("%s: time to first token %v", s.Name, d)
			}
		}
	}
	if n != 10 {
		t.Errorf("%d spans with a time to first token, want the 10 streamed calls", n)
	}

	// Langfuse: completion_start_time, set 30 ms into every generation
	// (Node's timers fire up to a couple of ms late).
	_, b, _ = loadFixture(t, "langfuse")
	n = 0
	for i := range b.Spans {
		s := &b.Spans[i]
		if d, ok := semconv.TimeToFirstToken(s); ok {
			n++
			if s.Name != "answer" || d < 29e6 || d > 40e6 {
				t.Errorf("langfuse %s: time to first token %v, want about 30ms", s.Name, d)
			}
		}
	}
	if n != 20 {
		t.Errorf("langfuse: %d spans with a time to first token, want the 20 generations", n)
	}
}
