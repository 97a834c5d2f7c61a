package analysis

import (
	"strings"
	"testing"
)

func TestReadPrices(t *testing.T) {
	table, err := ReadPrices(strings.NewReader(`{"my-model": {"prompt_per_mtok": 1.5, "completion_per_mtok": 6}, "gpt-4o": {"prompt_per_mtok": 2}}`))
	if err != nil {
		t.Fatal(err)
	}
	if p := table["my-model"]; p.PromptPerMTok != 1.5 || p.CompletionPerMTok != 6 {
		t.Errorf("my-model %+v", p)
	}
	// An entry replaces the built-in one; the others stay.
	if p := table["gpt-4o"]; p.PromptPerMTok != 2 || p.CompletionPerMTok != 0 {
		t.Errorf("gpt-4o %+v", p)
	}
	if p, ok := table["gpt-4o-mini"]; !ok || p != DefaultPrices()["gpt-4o-mini"] {
		t.Errorf("built-in gpt-4o-mini lost: %+v", p)
	}
	for in, want := range map[string]string{
		`{"m": {"prompt": 1}}`:                  `unknown field "prompt"`,
		`{"m": {"prompt_per_mtok": -1}}`:        `model "m": price -1`,
		`{" ": {"prompt_per_mtok": 1}}`:         "empty model name",
		`[1, 2]`:                                "cannot unmarshal array",
		`{"m": {"prompt_per_mtok": 1}} {"x":1}`: "more than one JSON value",
		``:                                      "EOF",
	} {
		if _, err := ReadPrices(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ReadPrices(%q) = %v, want an error with %q", in, err, want)
		}
	}
}
