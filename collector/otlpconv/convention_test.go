package otlpconv_test

import (
	"testing"

	"github.com/stagescope/stagescope/collector/otlpconv"
	"github.com/stagescope/stagescope/spans"
)

// A convention's own failure mark counts as a failure when the OTel status
// is unset (Langfuse's observe() wrapper sets level ERROR only); a status
// the span set is kept.
func TestImportReadsAConventionsFailureMark(t *testing.T) {
	body := func(status string) []byte {
		return []byte(`{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"lf"}}]},
		"scopeSpans":[{"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708","name":"answer",
		"startTimeUnixNano":"1764856800000000000","endTimeUnixNano":"1764856800050000000",` + status + `
		"attributes":[{"key":"langfuse.observation.type","value":{"stringValue":"generation"}},
		{"key":"langfuse.observation.level","value":{"stringValue":"ERROR"}},
		{"key":"langfuse.observation.status_message","value":{"stringValue":"the model is overloaded"}}]}]}]}]}`)
	}
	for _, c := range []struct {
		status     string
		want       spans.Status
		wantErrMsg string
	}{
		{``, spans.StatusError, "the model is overloaded"},
		{`"status":{"code":2,"message":"own message"},`, spans.StatusError, "own message"},
		{`"status":{"code":1},`, spans.StatusOK, ""},
	} {
		req, err := otlpconv.DecodeJSON(body(c.status))
		if err != nil {
			t.Fatal(err)
		}
		b := otlpconv.FromResourceSpans(req.GetResourceSpans())
		if len(b.Spans) != 1 {
			t.Fatalf("%d spans (%s)", len(b.Spans), b.Reason)
		}
		s := b.Spans[0]
		if s.Status != c.want || s.Err != c.wantErrMsg || s.Stage != spans.StageLLM {
			t.Errorf("status %q: got %v %q stage %s, want %v %q llm", c.status, s.Status, s.Err, s.Stage, c.want, c.wantErrMsg)
		}
	}
}
