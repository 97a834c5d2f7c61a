package collector

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/stagescope/stagescope/spans"
)

// Timestamps are checked at the edge: a missing start or end is set from
// the other and the span says so (stagescope.time_adjusted, and a warning in
// partial_success); no time at all, a time past 2262-04-11, an end before
// the start or a duration past MaxSpanDuration is rejected through
// partial_success with the reason. Nothing stored makes a negative or
// wrapped total.
func TestOTLPTimestampsAreValidated(t *testing.T) {
	s := openStore(t)
	c := newCollector(t, s)
	srv := httptest.NewServer(NewOTLPHandler(c))
	defer srv.Close()

	now := uint64(time.Now().Add(-time.Minute).UnixNano())
	tid := spans.NewTraceID()
	mk := func(name string, start, end uint64) *tracepb.Span {
		sid := spans.NewSpanID()
		return &tracepb.Span{TraceId: tid[:], SpanId: sid[:], Name: name, StartTimeUnixNano: start, EndTimeUnixNano: end}
	}
	send := func(ps ...*tracepb.Span) *coltracepb.ExportTraceServiceResponse {
		t.Helper()
		req, _, _ := otlpRequest(1, time.Unix(0, int64(now)))
		req.ResourceSpans[0].ScopeSpans[0].Spans = ps
		body, _ := proto.Marshal(req)
		resp, b := post(t, srv.URL, "application/x-protobuf", body, false)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d %s", resp.StatusCode, b)
		}
		var out coltracepb.ExportTraceServiceResponse
		if err := proto.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
		return &out
	}

	// Kept, adjusted.
	noStart, noEnd := mk("no start", 0, now+5e6), mk("no end", now, 0)
	badEvent := mk("event out of range", now, now+1e6)
	badEvent.Events = []*tracepb.Span_Event{{Name: "zero", TimeUnixNano: 0}, {Name: "far", TimeUnixNano: math.MaxUint64}, {Name: "fine", TimeUnixNano: now + 10}}
	out := send(noStart, noEnd, badEvent)
	ps := out.GetPartialSuccess()
	if ps.GetRejectedSpans() != 0 || !strings.Contains(ps.GetErrorMessage(), "3 span(s) stored with adjusted times") ||
		!strings.Contains(ps.GetErrorMessage(), "start time missing; set to the end time") {
		t.Fatalf("adjusted: partial success %v", ps)
	}
	tr, err := s.GetTrace(context.Background(), tid)
	if err != nil {
		t.Fatal(err)
	}
	adj := map[string]string{}
	for _, sp := range tr.Spans {
		for _, a := range sp.Attrs {
			if a.Key == spans.KeyTimeAdjusted {
				adj[sp.Name] = a.Value.AsString()
			}
		}
		if sp.Start.IsZero() || sp.End.IsZero() || sp.End.Before(sp.Start) {
			t.Errorf("%s stored with start %v end %v", sp.Name, sp.Start, sp.End)
		}
	}
	if adj["no start"] != "start time missing; set to the end time" || adj["no end"] != "end time missing; set to the start time" ||
		!strings.Contains(adj["event out of range"], `event "zero": time 0 out of range; set to the span's start`) {
		t.Fatalf("adjustments recorded: %q", adj)
	}
	if len(tr.Events) != 3 {
		t.Fatalf("%d events stored, want 3", len(tr.Events))
	}
	for _, e := range tr.Events {
		if e.Time.Before(time.Unix(0, int64(now))) {
			t.Errorf("event %s at %v, before the span's start", e.Name, e.Time)
		}
	}

	// Rejected, with the reason.
	for _, c := range []struct {
		sp   *tracepb.Span
		want string
	}{
		{mk("no times", 0, 0), `span "no times": no start and no end time`},
		{mk("1 to max", 1, math.MaxInt64), `span "1 to max": lasts 2562047h47m16.854775806s, more than the 720h0m0s a span may last`},
		{mk("past 2262", now, math.MaxInt64+1), `span "past 2262": time out of range`},
		{mk("backwards", now, now-1), `span "backwards": ends before it starts`},
	} {
		ps := send(c.sp, mk("good", now, now+1)).GetPartialSuccess()
		if ps.GetRejectedSpans() != 1 || !strings.Contains(ps.GetErrorMessage(), c.want) {
			t.Errorf("%s: partial success %v, want 1 rejected: %q", c.sp.Name, ps, c.want)
		}
	}
	// Totals stay sane.
	rows, err := s.StageBreakdown(context.Background(), time.Time{}, time.Time{}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.Total < 0 || r.Self < 0 || r.Total > time.Hour {
			t.Errorf("stage %s: total %v self %v", r.Stage, r.Total, r.Self)
		}
	}
}
