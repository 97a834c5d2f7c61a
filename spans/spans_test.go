package spans_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stagescope/stagescope/spans"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestIDsAreRandomNonZeroAndRoundTrip(t *testing.T) {
	seen := map[spans.TraceID]bool{}
	for range 1000 {
		id := spans.NewTraceID()
		if id.IsZero() || seen[id] {
			t.Fatalf("trace id %s zero or repeated", id)
		}
		seen[id] = true
		back, err := spans.ParseTraceID(id.String())
		if err != nil || back != id {
			t.Fatalf("round trip %s → %s, %v", id, back, err)
		}
	}
	sid := spans.NewSpanID()
	if len(sid.String()) != 16 {
		t.Fatalf("span id text %q", sid.String())
	}
	if back, err := spans.ParseSpanID(sid.String()); err != nil || back != sid {
		t.Fatal("span id round trip failed")
	}
}

func TestParseIDErrors(t *testing.T) {
	for _, in := range []string{"", "abc", strings.Repeat("0", 32), strings.Repeat("g", 32), strings.Repeat("a", 33)} {
		if _, err := spans.ParseTraceID(in); !errors.Is(err, spans.ErrInvalidID) {
			t.Errorf("ParseTraceID(%q) err = %v, want ErrInvalidID", in, err)
		}
	}
	if _, err := spans.ParseSpanID(strings.Repeat("0", 16)); !errors.Is(err, spans.ErrInvalidID) {
		t.Error("zero span id accepted")
	}
}

func TestTraceparent(t *testing.T) {
	const in = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	sc, err := spans.ParseTraceparent(in)
	if err != nil {
		t.Fatal(err)
	}
	if sc.TraceID.String() != "4bf92f3577b34da6a3ce929d0e0e4736" || sc.SpanID.String() != "00f067aa0ba902b7" || !sc.Sampled() || !sc.Remote {
		t.Fatalf("parsed %+v", sc)
	}
	if out := spans.FormatTraceparent(sc); out != in {
		t.Fatalf("format = %q, want %q", out, in)
	}
	// A future version may append fields after a dash.
	if _, err := spans.ParseTraceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-extra"); err != nil {
		t.Fatalf("future version rejected: %v", err)
	}
	bad := map[string]string{
		"short":        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
		"uppercase":    "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
		"version ff":   "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"zero trace":   "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
		"zero parent":  "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
		"v00 too long": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
		"bad dash":     "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	}
	for name, v := range bad {
		if _, err := spans.ParseTraceparent(v); !errors.Is(err, spans.ErrTraceparent) {
			t.Errorf("%s: err = %v, want ErrTraceparent", name, err)
		}
	}
}

func TestStageAndStatusNames(t *testing.T) {
	for _, st := range spans.AllStages() {
		back, err := spans.ParseStage(st.String())
		if err != nil || back != st {
			t.Errorf("stage %v round trip: %v %v", st, back, err)
		}
	}
	if len(spans.AllStages()) != 13 {
		t.Errorf("%d stages, want 13", len(spans.AllStages()))
	}
	if _, err := spans.ParseStage("nope"); err == nil {
		t.Error("unknown stage accepted")
	}
	if s, _ := spans.ParseStatus("error"); s != spans.StatusError {
		t.Error("status parse")
	}
}

func TestAttributeJSONRoundTripKeepsTypes(t *testing.T) {
	in := []spans.Attribute{
		spans.String("s", "héllo <b>"), spans.Int("i", -42), spans.Int64("big", math.MaxInt64), spans.Float64("f", 0.25),
		spans.Float64("nan", math.NaN()), spans.Float64("inf", math.Inf(-1)), spans.Bool("b", true),
		spans.Strings("ss", []string{"a", "b"}), spans.Int64s("is", []int64{1, 2}), spans.Float64s("fs", []float64{1.5}), spans.Bools("bs", []bool{true, false}),
		spans.Float64("whole", 3), // must stay a float, not become an int
		spans.Float64s("nonfinite", []float64{1, math.Inf(1), math.Inf(-1), -0.5}),
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out []spans.Attribute
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("%d attrs back, want %d", len(out), len(in))
	}
	for i := range in {
		if in[i].Key != out[i].Key || in[i].Value.Kind() != out[i].Value.Kind() {
			t.Errorf("%s: kind %v → %v", in[i].Key, in[i].Value.Kind(), out[i].Value.Kind())
			continue
		}
		if in[i].Key == "nan" {
			if !math.IsNaN(out[i].Value.AsFloat64()) {
				t.Error("NaN lost")
			}
			continue
		}
		if !in[i].Value.Equal(out[i].Value) {
			t.Errorf("%s: %v → %v", in[i].Key, in[i].Value.Emit(), out[i].Value.Emit())
		}
	}
	// JSON has no NaN or infinity: they travel as strings, in arrays too.
	nan, err := json.Marshal(spans.Float64s("a", []float64{math.NaN(), math.Inf(1), math.Inf(-1), 2}))
	if err != nil || string(nan) != `{"k":"a","t":"float64[]","v":["NaN","+Inf","-Inf",2]}` {
		t.Fatalf("non-finite array: %s %v", nan, err)
	}
	var back spans.Attribute
	if err := json.Unmarshal(nan, &back); err != nil || len(back.Value.AsFloat64s()) != 4 || !math.IsNaN(back.Value.AsFloat64s()[0]) || !math.IsInf(back.Value.AsFloat64s()[2], -1) {
		t.Fatalf("non-finite array back: %v %v", back.Value.AsFloat64s(), err)
	}
	var bad spans.Attribute
	if err := json.Unmarshal([]byte(`{"k":"x","t":"complex","v":1}`), &bad); err == nil {
		t.Error("unknown type accepted")
	}
}

func TestSlicesAreCopied(t *testing.T) {
	src := []string{"a"}
	a := spans.Strings("k", src)
	src[0] = "changed"
	if a.Value.AsStrings()[0] != "a" {
		t.Fatal("attribute shares the caller's slice")
	}
}

func TestBuildingScalarAttributesDoesNotAllocate(t *testing.T) {
	var sink spans.Attribute
	allocs := testing.AllocsPerRun(100, func() {
		sink = spans.String("k", "v")
		sink = spans.Int("k", 1)
		sink = spans.Float64("k", 1.5)
		sink = spans.Bool("k", true)
	})
	_ = sink
	if allocs != 0 {
		t.Fatalf("scalar attributes allocate %.0f times", allocs)
	}
}

func TestSpanHelpers(t *testing.T) {
	start := time.Now()
	s := &spans.Span{Start: start, Attrs: []spans.Attribute{spans.Int("n", 1), spans.Int("n", 2)}, Tags: []spans.Tag{{Key: "k", Value: "v"}}}
	if s.Duration() != 0 {
		t.Fatal("unfinished span has a duration")
	}
	s.End = start.Add(1500 * time.Microsecond)
	if s.Duration() != 1500*time.Microsecond {
		t.Fatalf("duration %v", s.Duration())
	}
	if v, _ := s.Attr("n"); v.AsInt64() != 2 {
		t.Fatal("Attr must return the last value")
	}
	if v, ok := s.Tag("k"); !ok || v != "v" {
		t.Fatal("Tag lookup")
	}
}

func TestContextParentAndTags(t *testing.T) {
	ctx := context.Background()
	if spans.ParentFromContext(ctx) != nil || spans.SpanContextFromContext(ctx).IsValid() {
		t.Fatal("empty context has a parent")
	}
	p := &spans.Span{TraceID: spans.NewTraceID(), SpanID: spans.NewSpanID()}
	ctx = spans.ContextWithParent(ctx, p)
	if sc := spans.SpanContextFromContext(ctx); sc.TraceID != p.TraceID || sc.SpanID != p.SpanID {
		t.Fatal("parent lost")
	}
	base := spans.WithTags(ctx, spans.Tag{Key: "a", Value: "1"})
	child := spans.WithTags(base, spans.Tag{Key: "b", Value: "2"}, spans.Tag{Key: "a", Value: "3"})
	if got := spans.TagsFromContext(base); len(got) != 1 || got[0].Value != "1" {
		t.Fatalf("base tags mutated: %v", got)
	}
	if got := spans.TagsFromContext(child); len(got) != 2 || got[0] != (spans.Tag{Key: "a", Value: "3"}) {
		t.Fatalf("child tags %v", got)
	}
}

func TestNowTracksTheWallClockAndIsMonotonic(t *testing.T) {
	prev := spans.Now()
	for range 1000 {
		n := spans.Now()
		if n.Before(prev) {
			t.Fatal("Now went backwards")
		}
		prev = n
	}
	if d := time.Since(prev); d < 0 || d > time.Second {
		t.Fatalf("Now is %v away from time.Now", d)
	}
	if diff := spans.Now().Sub(time.Now()); diff > 2*time.Millisecond || diff < -1100*time.Millisecond {
		t.Fatalf("wall time off by %v", diff)
	}
}
