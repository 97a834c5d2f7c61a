package collector

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stagescope/stagescope/spans"
)

// Within one group the parent may come first; a span whose descendant
// reports tokens is known from an earlier group (below) or passes that on
// to a parent outside the group (up); a cycle of parents ends.
func TestTokenOwners(t *testing.T) {
	id := func(b byte) spans.SpanID { return spans.SpanID{b} }
	// root(1, tokens) → synth(2, tokens) → retry(3) → llm(4, tokens); tool(5, tokens) under 1.
	ids := []spans.SpanID{id(1), id(2), id(3), id(4), id(5)}
	parents := []spans.SpanID{{}, id(1), id(2), id(3), id(1)}
	has := []bool{true, true, false, true, true}
	if got := tokenOwners(ids, parents, has, nil, nil, &ownerScratch{}); !slices.Equal(got, []bool{false, false, false, true, true}) {
		t.Errorf("whole trace: %v", got)
	}
	// Only the synth and the root arrive; the llm came earlier and its
	// retry parent said that 3 has tokens below.
	var ups []spans.SpanID
	got := tokenOwners([]spans.SpanID{id(1), id(2)}, []spans.SpanID{{}, id(1)}, []bool{true, true},
		func(s spans.SpanID) bool { return s == id(2) }, func(s spans.SpanID) { ups = append(ups, s) }, &ownerScratch{})
	if !slices.Equal(got, []bool{false, false}) || len(ups) != 0 {
		t.Errorf("parents after their children: %v, up %v", got, ups)
	}
	// The llm and the retry arrive first: the synth (outside) is told.
	got = tokenOwners([]spans.SpanID{id(4), id(3)}, []spans.SpanID{id(3), id(2)}, []bool{true, false}, nil,
		func(s spans.SpanID) { ups = append(ups, s) }, &ownerScratch{})
	if !slices.Equal(got, []bool{true, false}) || !slices.Equal(ups, []spans.SpanID{id(2)}) {
		t.Errorf("children first: %v, up %v", got, ups)
	}
	// No tokens anywhere: nil, nothing allocated.
	if got := tokenOwners(ids, parents, make([]bool, 5), nil, nil, &ownerScratch{}); got != nil {
		t.Errorf("no tokens: %v", got)
	}
	// A group large enough to index by map: a chain of 40, every span
	// reporting tokens, parent first; only the leaf counts.
	var cids, cparents []spans.SpanID
	var chas []bool
	for i := range 40 {
		cids = append(cids, spans.SpanID{1, byte(i)})
		if i > 0 {
			cparents = append(cparents, cids[i-1])
		} else {
			cparents = append(cparents, spans.SpanID{})
		}
		chas = append(chas, true)
	}
	got = tokenOwners(cids, cparents, chas, nil, nil, &ownerScratch{})
	if n := len(slices.DeleteFunc(slices.Clone(got), func(b bool) bool { return !b })); n != 1 || !got[39] {
		t.Errorf("chain of 40: %d count, the leaf %v", n, got[39])
	}
	// A cycle 6 → 7 → 6 with tokens on both ends.
	got = tokenOwners([]spans.SpanID{id(6), id(7)}, []spans.SpanID{id(7), id(6)}, []bool{true, true}, nil, nil, &ownerScratch{})
	if len(got) != 2 {
		t.Errorf("cycle: %v", got)
	}
}

// A client naming a new model on every span fills one rollup row with at
// most maxRowModels names; the rest count under OtherModels, and a long
// name is cut.
func TestTokenRowModelsAreBounded(t *testing.T) {
	var r rollupRow
	for i := range 500 {
		r.addTokens(spanTokens{model: fmt.Sprintf("model-%d", i), use: tokenCount{calls: 1, prompt: 10}})
	}
	if len(r.tokens) != maxRowModels+1 || r.tokens[OtherModels] == nil || r.tokens[OtherModels].calls != 500-maxRowModels {
		t.Fatalf("%d models, other %+v", len(r.tokens), r.tokens[OtherModels])
	}
	var total int64
	for _, c := range r.tokens {
		total += c.prompt
	}
	if total != 5000 {
		t.Errorf("%d tokens kept, want 5000", total)
	}
	long := spans.Span{Stage: spans.StageLLM, Attrs: []spans.Attribute{spans.String(spans.KeyLLMModel, strings.Repeat("é", 300)), spans.Int(spans.KeyLLMPromptTokens, 5)}}
	if m := tokensOf(&long).model; len(m) > maxModelName || !utf8.ValidString(m) || m == "" {
		t.Errorf("long model name kept as %d bytes, valid %v", len(m), utf8.ValidString(m))
	}
}
