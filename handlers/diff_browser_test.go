package handlers_test

import (
	"strings"
	"testing"
)

// Two traces side by side, stage by stage: the slow-rerank trace against a
// normal one puts rerank first, 780 ms more on the critical path; the
// typical traces of two runs are a click away from the comparison.
func TestTraceDiffInBrowser(t *testing.T) {
	bin := chromium(t)
	s := newSeeded(t)
	b := startBrowser(t, bin, s)
	b.open("diff?a="+s.ids["normal"][0].String()+"&b="+s.ids["slow"][0].String(), "diff")
	if got := b.text("#diff-verdict"); got != "The candidate is 780 ms slower end to end; rerank moved most on the critical path (+780 ms)." {
		t.Errorf("verdict %q", got)
	}
	if got := b.evalStrings(`[...document.querySelectorAll('.diff-table tbody tr')].map(r => r.dataset.stage)`); len(got) == 0 || got[0] != "rerank" {
		t.Errorf("stage order %q, want rerank first", got)
	}
	if got := b.text(`.diff-table tr[data-stage="rerank"] .d-self`); got != "+780 ms" {
		t.Errorf("rerank self change %q", got)
	}
	if got := b.text(`.diff-table tr[data-stage="llm"] .d-critical`); got != "±0 ms" {
		t.Errorf("llm critical change %q", got)
	}
	if got := b.text(".diff-spans tbody tr"); !strings.HasPrefix(got, "rerank passages") || !strings.HasSuffix(got, "+780 ms") {
		t.Errorf("top changed span %q", got)
	}
	b.shot("trace-diff")
	// From the comparison of two runs to the diff of their typical traces.
	b.open("compare?mode=runs&base_run="+runBase+"&cand_run="+runCand, "compare")
	b.click(`.compare-table tr[data-stage="llm"] a.exemplar-diff`)
	b.waitFor("the diff", `document.body.dataset.page === 'diff' && document.body.dataset.state === 'ready'`)
	if got := b.text("#diff-verdict"); !strings.Contains(got, "100 ms slower") || !strings.Contains(got, "llm moved most") {
		t.Errorf("runs' typical traces: %q", got)
	}
	// Hostile names stay text.
	b.open("diff?a="+s.ids["hostile"][0].String()+"&b="+s.ids["normal"][0].String(), "diff")
	if !strings.Contains(b.text(".diff-spans"), nameHostile) || !strings.Contains(b.text(`[data-side="baseline"] .trace-name`), nameHostile) {
		t.Errorf("hostile name missing: %.300s", b.text(".diff-spans"))
	}
	if n := b.count("#view img, #view script"); n != 0 {
		t.Errorf("%d img/script elements made from names", n)
	}
	// Without two ids the page asks for them.
	b.open("diff?a="+s.ids["normal"][0].String(), "diff")
	if got := b.viewText(); !strings.Contains(got, "Give two trace ids") {
		t.Errorf("one id: %.200s", got)
	}
	b.checkClean("diff")
}
