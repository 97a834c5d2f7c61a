package jaeger_test

import (
	"testing"

	"github.com/stagescope/stagescope/collector/jaeger"
	"github.com/stagescope/stagescope/spans"
)

func TestStageFromAttributesOrder(t *testing.T) {
	cases := []struct {
		name  string
		attrs map[string]string
		want  spans.Stage
	}{
		{"x", map[string]string{"stagescope.stage": "rerank", "openinference.span.kind": "LLM", "gen_ai.operation.name": "chat"}, spans.StageRerank},
		{"x", map[string]string{"stagescope.stage": "bogus", "openinference.span.kind": "RETRIEVER"}, spans.StageRetrieve},
		{"x", map[string]string{"openinference.span.kind": "embedding", "gen_ai.operation.name": "chat"}, spans.StageEmbed},
		{"x", map[string]string{"openinference.span.kind": "NEW_KIND", "gen_ai.operation.name": "chat"}, spans.StageLLM},
		{"x", map[string]string{"openinference.span.kind": "GUARDRAIL", "gen_ai.operation.name": "chat"}, spans.StageOther},
		{"x", map[string]string{"gen_ai.operation.name": "execute_tool"}, spans.StageTool},
		{"x", map[string]string{"gen_ai.operation.name": "invoke_agent"}, spans.StageAgent},
		{"llm.chat", map[string]string{"gen_ai.operation.name": "unknown"}, spans.StageLLM},
		{"Retrieve", nil, spans.StageRetrieve},
		{"synth", nil, spans.StageSynth},
		{"retriever", nil, spans.StageOther},
		{"", nil, spans.StageOther},
	}
	for _, c := range cases {
		got := jaeger.StageFromAttributes(c.name, func(k string) (string, bool) { v, ok := c.attrs[k]; return v, ok })
		if got != c.want {
			t.Errorf("StageFromAttributes(%q, %v) = %v, want %v", c.name, c.attrs, got, c.want)
		}
	}
}
