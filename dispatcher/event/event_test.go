package event_test

import (
	"errors"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/spans"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// catalogue lists one of every event type with its expected stage.
var catalogue = map[event.Event]spans.Stage{
	&event.JobQueued{}: spans.StagePool, &event.JobStarted{}: spans.StagePool, &event.JobFinished{}: spans.StagePool, &event.PoolProgress{}: spans.StagePool,
	&event.AttemptStarted{}: spans.StageRetry, &event.AttemptFailed{}: spans.StageRetry, &event.BackoffScheduled{}: spans.StageRetry, &event.GaveUp{}: spans.StageRetry,
	&event.EmbeddingStart{}: spans.StageEmbed, &event.EmbeddingEnd{}: spans.StageEmbed,
	&event.RetrievalStart{}: spans.StageRetrieve, &event.RetrievalEnd{}: spans.StageRetrieve,
	&event.RerankStart{}: spans.StageRerank, &event.RerankEnd{}: spans.StageRerank,
	&event.SynthesizeStart{}: spans.StageSynth, &event.SynthesizeEnd{}: spans.StageSynth,
	&event.LLMStart{}: spans.StageLLM, &event.LLMStreamDelta{}: spans.StageLLM, &event.LLMEnd{}: spans.StageLLM,
	&event.StoragePersist{}: spans.StageStorage, &event.StorageLoad{}: spans.StageStorage,
	&event.QueryStart{}: spans.StageQuery, &event.QueryEnd{}: spans.StageQuery,
	event.NewException(errors.New("x"), spans.StageLLM): spans.StageLLM,
}

func TestCatalogueNamesStagesAndAttributeKeys(t *testing.T) {
	names := map[string]bool{}
	for e, stage := range catalogue {
		if names[e.Name()] {
			t.Errorf("event name %q used twice", e.Name())
		}
		names[e.Name()] = true
		if e.Stage() != stage {
			t.Errorf("%s: stage %s, want %s", e.Name(), e.Stage(), stage)
		}
		keys := map[string]bool{}
		for _, a := range e.Attrs() {
			if a.Key == "" || keys[a.Key] || a.Value.Kind() == spans.KindInvalid {
				t.Errorf("%s: bad or repeated attribute key %q", e.Name(), a.Key)
			}
			keys[a.Key] = true
		}
		if len(keys) == 0 {
			t.Errorf("%s has no attributes", e.Name())
		}
	}
	if len(names) != 24 {
		t.Errorf("%d event types, want 24", len(names))
	}
}

func TestToRecordCarriesHeaderAndFields(t *testing.T) {
	e := &event.RerankEnd{Query: "q", TopN: 2, Out: []event.ScoredDoc{{ID: "a", Score: 0.5}, {ID: "b", Score: 0.25}}}
	e.SpanID = spans.NewSpanID()
	r := event.ToRecord(e)
	if r.Name != "rerank.end" || r.Stage != spans.StageRerank || r.SpanID != e.SpanID {
		t.Fatalf("record %+v", r)
	}
	var ids []string
	for _, a := range r.Attrs {
		if a.Key == "rerank.output_ids" {
			ids = a.Value.AsStrings()
		}
	}
	if strings.Join(ids, ",") != "a,b" {
		t.Fatalf("output ids %v", ids)
	}
	ex := event.NewException(errors.New("boom"), spans.StageTool)
	if ex.Type != "*errors.errorString" || ex.Message != "boom" {
		t.Fatalf("exception %+v", ex)
	}
}
