package analysis

import (
	"encoding/binary"
	"encoding/json"
	"testing"
	"time"

	"github.com/stagescope/stagescope/spans"
)

// FuzzAnalyze builds traces of arbitrary shape (missing and cyclic parents,
// children outside their parents, zero and negative durations) and checks
// the invariants: the critical path tiles the end-to-end interval, the
// charged stages add up to it, and the report encodes as JSON.
func FuzzAnalyze(f *testing.F) {
	f.Add([]byte{0, 0, 10, 100, 1, 1, 20, 30, 2, 1, 10, 90, 3, 2, 50, 10})
	f.Add([]byte{5, 9, 0, 0, 7, 7, 1, 1, 0, 200, 255, 255})
	f.Fuzz(func(t *testing.T, data []byte) {
		b := newTrace()
		var all []*spans.Span
		for i := 0; i+4 <= len(data) && len(all) < 64; i += 4 {
			st, par, start, dur := data[i], data[i+1], data[i+2], data[i+3]
			s := &spans.Span{TraceID: b.id, Name: "s", Stage: spans.Stage(st % 16), Status: spans.Status(st / 64),
				Start: epoch.Add(time.Duration(start) * time.Millisecond), End: epoch.Add(time.Duration(int(start)+int(dur)-40) * time.Millisecond)}
			binary.BigEndian.PutUint64(s.SpanID[:], uint64(len(all)+1))
			if par != 0 {
				binary.BigEndian.PutUint64(s.ParentID[:], uint64(par%80)) // may be missing, self or later
			}
			switch st % 5 {
			case 1:
				s.Attrs = append(s.Attrs, spans.Int(spans.KeyRetryAttempt, int(dur%4)))
			case 2:
				s.Attrs = append(s.Attrs, spans.Int64(spans.KeyPoolQueueNanos, int64(dur)*int64(time.Millisecond)), spans.Int64(spans.KeyPoolRunNanos, int64(start)))
			case 3:
				s.Attrs = append(s.Attrs, spans.Int(spans.KeyPoolWorkers, int(dur%5)), spans.String(spans.KeyRetryOp, "op"))
			case 4:
				s.Attrs = append(s.Attrs, spans.Int(spans.KeyLLMPromptTokens, int(dur)), spans.String(spans.KeyLLMModel, "gpt-4o"))
			}
			all = append(all, s)
		}
		tr := Trace{Spans: all}
		path := CriticalPath(tr)
		r := Analyze([]Trace{tr, tr})
		if len(all) == 0 {
			if path != nil || r.Traces != 0 {
				t.Fatalf("empty trace gave path %v, %d traces", path, r.Traces)
			}
			return
		}
		var sum time.Duration
		for i, s := range path {
			if s.Duration <= 0 || (i > 0 && !s.Start.Equal(path[i-1].End)) {
				t.Fatalf("segment %d = %+v does not tile", i, s)
			}
			sum += s.Duration
		}
		if sum != r.E2E.P50 {
			t.Fatalf("path sums to %v, e2e is %v", sum, r.E2E.P50)
		}
		var charged time.Duration
		for _, c := range r.CriticalPath {
			charged += c.MeanPerTrace
		}
		if charged != r.E2E.P50 {
			t.Fatalf("charged stages add to %v, e2e is %v", charged, r.E2E.P50)
		}
		if _, err := json.Marshal(r); err != nil {
			t.Fatalf("marshal: %v", err)
		}
	})
}
