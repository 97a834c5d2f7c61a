package spans

import "fmt"

// Stage is the primary dimension of every analysis: which part of a pipeline
// a span belongs to.
type Stage uint8

// The stages, in pipeline order. StageOther is the zero value so that a span
// whose stage is unknown is still counted somewhere.
const (
	StageOther    Stage = iota // anything not listed below
	StagePool                  // a worker pool run or one of its jobs
	StageRetry                 // a logical call with retries, or one attempt
	StageEmbed                 // computing embeddings
	StageRetrieve              // vector, keyword or hybrid retrieval
	StageRerank                // reranking retrieved passages
	StageSynth                 // response synthesis
	StageLLM                   // one model call
	StageStorage               // persisting or loading stores
	StageQuery                 // one end-to-end query
	StageTool                  // a tool call
	StageAgent                 // an agent step
	StageChain                 // a generic composite step
	numStages
)

var stageNames = [numStages]string{"other", "pool", "retry", "embed", "retrieve", "rerank", "synth", "llm", "storage", "query", "tool", "agent", "chain"}

// AllStages lists every stage in pipeline order.
func AllStages() []Stage {
	out := make([]Stage, numStages)
	for i := range out {
		out[i] = Stage(i)
	}
	return out
}

// String returns the stage's lower-case name, as stored and shown.
func (s Stage) String() string {
	if s < numStages {
		return stageNames[s]
	}
	return fmt.Sprintf("stage(%d)", uint8(s))
}

// Valid reports whether s is one of the declared stages.
func (s Stage) Valid() bool { return s < numStages }

// ParseStage returns the stage named name (as String returns it).
func ParseStage(name string) (Stage, error) {
	for i, n := range stageNames {
		if n == name {
			return Stage(i), nil
		}
	}
	return StageOther, fmt.Errorf("unknown stage %q (want one of %v)", name, stageNames)
}

// MarshalText implements encoding.TextMarshaler.
func (s Stage) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Stage) UnmarshalText(b []byte) error {
	v, err := ParseStage(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}
