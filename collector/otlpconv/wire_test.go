package otlpconv_test

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/stagescope/stagescope/collector/otlpconv"
	"github.com/stagescope/stagescope/collector/otlpconv/otlptest"
)

// sameAsProtoUnmarshal fails unless DecodeProtobuf reads body as
// proto.Unmarshal does (unknown fields aside, which it drops): the same
// message, or an error from both. A body that proto.Unmarshal refuses for
// invalid UTF-8 must decode as the body with U+FFFD in place of the bad
// bytes decodes (repairUTF8).
func sameAsProtoUnmarshal(t *testing.T, body []byte) {
	t.Helper()
	want := &coltracepb.ExportTraceServiceRequest{}
	werr := proto.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(body, want)
	if werr != nil && strings.Contains(werr.Error(), "UTF-8") {
		if fixed, rerr := repairUTF8(body, want.ProtoReflect().Descriptor(), 0); rerr == nil {
			want.Reset()
			werr = proto.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(fixed, want)
		}
	}
	got, err := otlpconv.DecodeProtobuf(body)
	switch {
	case werr != nil:
		if err == nil {
			t.Fatalf("proto.Unmarshal refuses the body (%v); DecodeProtobuf accepted it", werr)
		}
	case err != nil:
		t.Fatalf("proto.Unmarshal accepts the body; DecodeProtobuf: %v", err)
	case !proto.Equal(got, want):
		t.Fatalf("decoded differently:\n got %v\nwant %v", got, want)
	}
}

// repairUTF8 returns a copy of the protobuf message b (of type md) in which
// every string field that is not valid UTF-8 has its bad bytes replaced
// with U+FFFD: the test's model of what DecodeProtobuf does with them.
func repairUTF8(b []byte, md protoreflect.MessageDescriptor, depth int) ([]byte, error) {
	if depth > 100 {
		return nil, errors.New("message nested too deeply")
	}
	out := make([]byte, 0, len(b))
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		if typ != protowire.BytesType {
			m := protowire.ConsumeFieldValue(num, typ, b[n:])
			if m < 0 {
				return nil, protowire.ParseError(m)
			}
			out = append(out, b[:n+m]...)
			b = b[n+m:]
			continue
		}
		v, m := protowire.ConsumeBytes(b[n:])
		if m < 0 {
			return nil, protowire.ParseError(m)
		}
		if fd := md.Fields().ByNumber(num); fd != nil {
			switch fd.Kind() {
			case protoreflect.StringKind:
				if !utf8.Valid(v) {
					v = []byte(strings.ToValidUTF8(string(v), "\uFFFD"))
				}
			case protoreflect.MessageKind:
				var err error
				if v, err = repairUTF8(v, fd.Message(), depth+1); err != nil {
					return nil, err
				}
			}
		}
		out = protowire.AppendTag(out, num, typ)
		out = protowire.AppendBytes(out, v)
		b = b[n+m:]
	}
	return out, nil
}

// The recorded requests of every client (protobuf as sent, and each JSON
// one encoded as protobuf) and random requests decode as proto.Unmarshal
// decodes them.
func TestDecodeProtobufAgreesWithProtoUnmarshal(t *testing.T) {
	files, err := filepath.Glob("testdata/*/request-*")
	if err != nil || len(files) < 10 {
		t.Fatalf("%d recorded requests (%v)", len(files), err)
	}
	for _, name := range files {
		body, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(name, ".json") {
			req, err := otlpconv.DecodeJSON(body)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if body, err = proto.Marshal(req); err != nil {
				t.Fatal(err)
			}
		}
		sameAsProtoUnmarshal(t, body)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for range 200 {
		body, err := proto.Marshal(otlptest.RandomRequest(rng, 1+rng.IntN(3), 1+rng.IntN(20)))
		if err != nil {
			t.Fatal(err)
		}
		sameAsProtoUnmarshal(t, body)
	}
}

// What the random requests do not hold: every field of every message,
// values nested in arrays and lists, a message field given twice (merged),
// a scalar given twice (the last kept), a oneof switching kind, fields of
// an unexpected wire type and unknown fields (skipped).
func TestDecodeProtobufEveryField(t *testing.T) {
	av := func(v any) *commonpb.AnyValue {
		switch x := v.(type) {
		case string:
			return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: x}}
		case bool:
			return &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: x}}
		case int64:
			return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: x}}
		case float64:
			return &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: x}}
		case []byte:
			return &commonpb.AnyValue{Value: &commonpb.AnyValue_BytesValue{BytesValue: x}}
		case int32:
			return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValueStrindex{StringValueStrindex: x}}
		}
		panic(v)
	}
	kvs := []*commonpb.KeyValue{
		{Key: "s", Value: av("v")}, {Key: "b", Value: av(true)}, {Key: "i", Value: av(int64(-7))}, {Key: "d", Value: av(2.5)},
		{Key: "bytes", Value: av([]byte{0, 1})}, {Key: "idx", Value: av(int32(3))}, {KeyStrindex: 9},
		{Key: "arr", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: []*commonpb.AnyValue{av("a"), av(int64(1)),
			{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: []*commonpb.KeyValue{{Key: "deep", Value: av(false)}}}}}}}}}},
		{Key: "empty"},
	}
	req := &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource: &resourcepb.Resource{Attributes: kvs, DroppedAttributesCount: 2,
			EntityRefs: []*commonpb.EntityRef{{SchemaUrl: "u", Type: "service", IdKeys: []string{"a", "b"}, DescriptionKeys: []string{"c"}}}},
		SchemaUrl: "https://example.invalid/schema",
		ScopeSpans: []*tracepb.ScopeSpans{{
			Scope:     &commonpb.InstrumentationScope{Name: "n", Version: "1", Attributes: kvs[:2], DroppedAttributesCount: 1},
			SchemaUrl: "s",
			Spans: []*tracepb.Span{{
				TraceId: []byte("0123456789abcdef"), SpanId: []byte("01234567"), ParentSpanId: []byte("76543210"), TraceState: "k=v", Flags: 0x301,
				Name: "span", Kind: tracepb.Span_SPAN_KIND_CLIENT, StartTimeUnixNano: 1, EndTimeUnixNano: 1 << 62,
				Attributes: kvs, DroppedAttributesCount: 3, DroppedEventsCount: 4, DroppedLinksCount: 5,
				Events: []*tracepb.Span_Event{{TimeUnixNano: 7, Name: "e", Attributes: kvs[:3], DroppedAttributesCount: 6}},
				Links:  []*tracepb.Span_Link{{TraceId: []byte("fedcba9876543210"), SpanId: []byte("abcdefgh"), TraceState: "x=y", Attributes: kvs[3:5], DroppedAttributesCount: 8, Flags: 1}},
				Status: &tracepb.Status{Message: "boom", Code: tracepb.Status_STATUS_CODE_ERROR},
			}, {Kind: tracepb.Span_SpanKind(99)}},
		}, {}},
	}, {}}}
	body, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	sameAsProtoUnmarshal(t, body)
	got, err := otlpconv.DecodeProtobuf(body)
	if err != nil || !proto.Equal(got, req) {
		t.Fatalf("round trip: %v\n got %v\nwant %v", err, got, req)
	}

	// The same request with, appended to the first resource spans: its
	// resource again (merged: more attributes, a new dropped count), an
	// unknown field, and the schema url as a varint (skipped).
	more, _ := proto.Marshal(&resourcepb.Resource{Attributes: kvs[:1], DroppedAttributesCount: 11})
	var rs []byte
	rs = protowire.AppendTag(rs, 1, protowire.BytesType)
	rs = protowire.AppendBytes(rs, more)
	rs = protowire.AppendTag(rs, 99, protowire.Fixed32Type)
	rs = protowire.AppendFixed32(rs, 5)
	rs = protowire.AppendTag(rs, 3, protowire.VarintType)
	rs = protowire.AppendVarint(rs, 1)
	first, _ := proto.Marshal(req.ResourceSpans[0])
	var merged []byte
	merged = protowire.AppendTag(merged, 1, protowire.BytesType)
	merged = protowire.AppendBytes(merged, append(first, rs...))
	sameAsProtoUnmarshal(t, merged)
	if got, err := otlpconv.DecodeProtobuf(merged); err != nil || len(got.ResourceSpans[0].Resource.Attributes) != len(kvs)+1 || got.ResourceSpans[0].Resource.DroppedAttributesCount != 11 {
		t.Fatalf("merge: %v %v", err, got)
	}

	// A oneof array value given twice merges; an int after it replaces it.
	arr := func(vals ...*commonpb.AnyValue) []byte {
		b, _ := proto.Marshal(&commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: vals}}})
		return b
	}
	i, _ := proto.Marshal(av(int64(5)))
	for _, value := range [][]byte{append(arr(av("a")), arr(av("b"))...), append(arr(av("a")), i...), append(i, arr(av("c"))...)} {
		kv := protowire.AppendTag(nil, 1, protowire.BytesType)
		kv = protowire.AppendString(kv, "k")
		kv = protowire.AppendTag(kv, 2, protowire.BytesType)
		kv = protowire.AppendBytes(kv, value)
		sp := protowire.AppendTag(nil, 9, protowire.BytesType)
		sp = protowire.AppendBytes(sp, kv)
		ss := protowire.AppendTag(nil, 2, protowire.BytesType)
		ss = protowire.AppendBytes(ss, sp)
		r := protowire.AppendTag(nil, 2, protowire.BytesType)
		r = protowire.AppendBytes(r, ss)
		body := protowire.AppendTag(nil, 1, protowire.BytesType)
		body = protowire.AppendBytes(body, r)
		sameAsProtoUnmarshal(t, body)
	}
}

// Random bytes, and random requests cut or corrupted, decode as
// proto.Unmarshal decodes them (or fail with it).
func FuzzDecodeProtobufAgreesWithProtoUnmarshal(f *testing.F) {
	b, _ := proto.Marshal(otlptest.RandomRequest(rand.New(rand.NewPCG(5, 6)), 1, 3))
	f.Add(b)
	f.Add(b[:len(b)/2])
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x80})
	f.Add([]byte{0x0a, 0x02, 0x0b, 0x0c})
	f.Add(invalidUTF8Request(f))
	f.Fuzz(func(t *testing.T, data []byte) {
		sameAsProtoUnmarshal(t, data)
	})
}

// BenchmarkDecodeProtobuf compares DecodeProtobuf with proto.Unmarshal on
// the recorded requests of every client (encoded as protobuf, decoded one
// after the other) and on a 233 KiB request of 1,000-odd random spans (the
// size ingestbench sends).
func BenchmarkDecodeProtobuf(b *testing.B) {
	files, err := filepath.Glob("testdata/*/request-*.json")
	if err != nil || len(files) == 0 {
		b.Fatalf("no recorded requests (%v)", err)
	}
	var recorded [][]byte
	for _, name := range files {
		body, err := os.ReadFile(name)
		if err != nil {
			b.Fatal(err)
		}
		req, err := otlpconv.DecodeJSON(body)
		if err != nil {
			b.Fatal(err)
		}
		pb, err := proto.Marshal(req)
		if err != nil {
			b.Fatal(err)
		}
		recorded = append(recorded, pb)
	}
	big, _, _ := otlptest.RequestOfSize(rand.New(rand.NewPCG(1, 2)), 233<<10)
	large, err := proto.Marshal(big)
	if err != nil {
		b.Fatal(err)
	}
	for _, set := range []struct {
		name   string
		bodies [][]byte
	}{{"recorded", recorded}, {"random-233KiB", [][]byte{large}}} {
		var size int64
		for _, body := range set.bodies {
			size += int64(len(body))
		}
		b.Run(set.name+"/DecodeProtobuf", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(size)
			for b.Loop() {
				for _, body := range set.bodies {
					if _, err := otlpconv.DecodeProtobuf(body); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
		b.Run(set.name+"/proto.Unmarshal", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(size)
			for b.Loop() {
				for _, body := range set.bodies {
					if err := proto.Unmarshal(body, &coltracepb.ExportTraceServiceRequest{}); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
