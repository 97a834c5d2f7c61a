package otlpconv_test

import (
	"math/rand/v2"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/stagescope/stagescope/collector/otlpconv"
	"github.com/stagescope/stagescope/collector/otlpconv/otlptest"
)

func FuzzDecodeProtobuf(f *testing.F) {
	b, _ := proto.Marshal(otlptest.RandomRequest(rand.New(rand.NewPCG(5, 6)), 1, 3))
	f.Add(b)
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x80})
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := otlpconv.DecodeProtobuf(data)
		if err != nil {
			if r != nil {
				t.Fatal("request returned with an error")
			}
			return
		}
		checkBatch(t, otlpconv.FromResourceSpans(r.GetResourceSpans()))
	})
}

func FuzzDecodeJSON(f *testing.F) {
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708","name":"x","startTimeUnixNano":"1","endTimeUnixNano":"2","attributes":[{"key":"a","value":{"arrayValue":{"values":[{"intValue":"1"}]}}}]}]}]}]}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz"}]}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := otlpconv.DecodeJSON(data)
		if err != nil {
			return
		}
		checkBatch(t, otlpconv.FromResourceSpans(r.GetResourceSpans()))
	})
}

func checkBatch(t *testing.T, b otlpconv.Batch) {
	for _, sp := range b.Spans {
		if sp.TraceID.IsZero() || sp.SpanID.IsZero() || sp.Resource == nil {
			t.Fatal("invalid span accepted")
		}
		if !sp.End.IsZero() && sp.End.Before(sp.Start) {
			t.Fatal("span accepted that ends before it starts")
		}
	}
	if b.Rejected > 0 && b.Reason == "" {
		t.Fatal("rejected spans without a reason")
	}
}
