package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stagescope/stagescope/handlers"
)

// A report or a comparison asked again is answered from the cache, byte for
// byte, while its window's spans stay the same; a span arriving in the
// window, or another window, is computed afresh.
func TestAnalysesAreCachedPerWindowAndSpans(t *testing.T) {
	s := newSeeded(t)
	from, to := s.base, s.base.Add(30*time.Minute)
	// The same window asked with other milliseconds inside its minutes.
	q := fmt.Sprintf("/api/report?from=%d&to=%d", from.UnixMilli(), to.UnixMilli())
	q2 := fmt.Sprintf("/api/report?from=%d&to=%d", from.Add(20*time.Second).UnixMilli(), to.UnixMilli())
	get := func(path string) (string, []byte) {
		t.Helper()
		code, h, b := s.do(http.MethodGet, path, nil)
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, code, b)
		}
		return h.Get("X-Stagescope-Cache"), b
	}
	c1, b1 := get(q)
	c2, b2 := get(q)
	c3, b3 := get(q2)
	if c1 != "" || c2 != "hit" || c3 != "hit" || string(b1) != string(b2) || string(b1) != string(b3) {
		t.Fatalf("cache %q %q %q; bodies equal %v %v", c1, c2, c3, string(b1) == string(b2), string(b1) == string(b3))
	}
	// Another window: computed.
	if c, _ := get(fmt.Sprintf("/api/report?from=%d&to=%d", from.Add(time.Minute).UnixMilli(), to.UnixMilli())); c != "" {
		t.Errorf("another window answered from the cache")
	}
	// Another question over the same window: computed.
	if c, _ := get(q + "&status=error"); c != "" {
		t.Errorf("a filtered report answered from the cache")
	}
	var before handlers.ReportResponse
	s.getJSON(q, http.StatusOK, &before)
	// A trace arrives in the window: the next answer counts it.
	ss, evs := ragTrace(from.Add(10*time.Minute+30*time.Second), ragShape{name: "late arrival", embed: 1, retrieve: 1, rerank: 1, llm: 1, service: "rag-api"})
	if err := s.coll.Ingest(context.Background(), ss, evs); err != nil {
		t.Fatal(err)
	}
	if err := s.coll.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	c4, _ := get(q)
	var after handlers.ReportResponse
	s.getJSON(q, http.StatusOK, &after)
	if c4 != "" || after.TracesAnalysed != before.TracesAnalysed+1 {
		t.Errorf("after a new trace: cache %q, analysed %d, before %d", c4, after.TracesAnalysed, before.TracesAnalysed)
	}

	// A comparison too.
	mid := from.Add(15 * time.Minute)
	cq := fmt.Sprintf("/api/compare?base_from=%d&base_to=%d&cand_from=%d&cand_to=%d", from.UnixMilli(), mid.UnixMilli()-1, mid.UnixMilli(), to.UnixMilli())
	if c, _ := get(cq); c != "" {
		t.Errorf("first comparison from the cache")
	}
	if c, _ := get(cq); c != "hit" {
		t.Errorf("second comparison: cache %q", c)
	}
	// Errors are not kept.
	for range 2 {
		if code, h, _ := s.do(http.MethodGet, "/api/report?run=nope", nil); code != http.StatusBadRequest || h.Get("X-Stagescope-Cache") != "" {
			t.Errorf("unknown run: %d, cache %q", code, h.Get("X-Stagescope-Cache"))
		}
	}
}
