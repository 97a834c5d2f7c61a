package collector

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/spans"
)

// ErrMalformed is wrapped by every error about an undecodable OTLP body.
var ErrMalformed = errors.New("malformed OTLP request")

// DecodeOTLPProtobuf decodes an ExportTraceServiceRequest in the binary
// protobuf encoding.
func DecodeOTLPProtobuf(b []byte) (*coltracepb.ExportTraceServiceRequest, error) {
	req := &coltracepb.ExportTraceServiceRequest{}
	if err := proto.Unmarshal(b, req); err != nil {
		return nil, fmt.Errorf("%w: protobuf: %v", ErrMalformed, err)
	}
	return req, nil
}

// DecodeOTLPJSON decodes an ExportTraceServiceRequest in the OTLP/JSON
// encoding, which differs from plain protobuf JSON in that trace and span
// ids are hex strings, not base64. Unknown fields are ignored, as the
// specification asks.
func DecodeOTLPJSON(b []byte) (*coltracepb.ExportTraceServiceRequest, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: JSON: %v", ErrMalformed, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: JSON: data after the request object", ErrMalformed)
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, fmt.Errorf("%w: JSON: the request must be an object", ErrMalformed)
	}
	hexIDsToBase64(v)
	norm, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%w: JSON: %v", ErrMalformed, err)
	}
	req := &coltracepb.ExportTraceServiceRequest{}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(norm, req); err != nil {
		return nil, fmt.Errorf("%w: JSON: %v", ErrMalformed, err)
	}
	return req, nil
}

var idKeys = map[string]bool{"traceId": true, "spanId": true, "parentSpanId": true, "trace_id": true, "span_id": true, "parent_span_id": true}

// hexIDsToBase64 rewrites hex id strings in place so protojson reads them
// as bytes. A value that is not hex is left for protojson to reject.
func hexIDsToBase64(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if s, ok := val.(string); ok && idKeys[k] {
				if b, err := hex.DecodeString(s); err == nil {
					x[k] = base64.StdEncoding.EncodeToString(b)
				}
				continue
			}
			hexIDsToBase64(val)
		}
	case []any:
		for _, e := range x {
			hexIDsToBase64(e)
		}
	}
}

// ConvertOTLP turns a request into stagescope spans and events. Invalid
// spans (bad ids, end before start) are skipped and counted in rejected;
// reason describes the first.
func ConvertOTLP(req *coltracepb.ExportTraceServiceRequest) (ss []spans.Span, evs []event.Record, rejected int, reason string) {
	reject := func(why string) {
		rejected++
		if reason == "" {
			reason = why
		}
	}
	for _, rs := range req.GetResourceSpans() {
		service := ""
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == spans.KeyService {
				service = kv.GetValue().GetStringValue()
			}
		}
		for _, ss2 := range rs.GetScopeSpans() {
			scope := ss2.GetScope().GetName()
			for _, p := range ss2.GetSpans() {
				sp, err := convertSpan(p, scope, service)
				if err != nil {
					reject(err.Error())
					continue
				}
				for _, e := range p.GetEvents() {
					evs = append(evs, event.Record{
						Header: event.Header{Time: fromUnixNano(e.GetTimeUnixNano()), TraceID: sp.TraceID, SpanID: sp.SpanID},
						Name:   e.GetName(), Stage: sp.Stage, Attrs: convertAttrs(e.GetAttributes()),
					})
				}
				ss = append(ss, sp)
			}
		}
	}
	return ss, evs, rejected, reason
}

func fromUnixNano(ns uint64) time.Time {
	if ns == 0 || ns > 1<<63-1 {
		return time.Time{}
	}
	return fromNanos(int64(ns))
}

func convertSpan(p *tracepb.Span, scope, service string) (spans.Span, error) {
	var sp spans.Span
	if len(p.GetTraceId()) != 16 {
		return sp, fmt.Errorf("span %q: trace id has %d bytes, want 16", p.GetName(), len(p.GetTraceId()))
	}
	if len(p.GetSpanId()) != 8 {
		return sp, fmt.Errorf("span %q: span id has %d bytes, want 8", p.GetName(), len(p.GetSpanId()))
	}
	if n := len(p.GetParentSpanId()); n != 0 && n != 8 {
		return sp, fmt.Errorf("span %q: parent span id has %d bytes, want 8 or none", p.GetName(), n)
	}
	copy(sp.TraceID[:], p.GetTraceId())
	copy(sp.SpanID[:], p.GetSpanId())
	copy(sp.ParentID[:], p.GetParentSpanId())
	if sp.TraceID.IsZero() || sp.SpanID.IsZero() {
		return sp, fmt.Errorf("span %q: all-zero trace or span id", p.GetName())
	}
	if p.GetStartTimeUnixNano() > 1<<63-1 || p.GetEndTimeUnixNano() > 1<<63-1 {
		return sp, fmt.Errorf("span %q: time out of range", p.GetName())
	}
	if p.GetEndTimeUnixNano() != 0 && p.GetEndTimeUnixNano() < p.GetStartTimeUnixNano() {
		return sp, fmt.Errorf("span %q: ends before it starts", p.GetName())
	}
	sp.Name, sp.Scope = p.GetName(), scope
	sp.Start, sp.End = fromUnixNano(p.GetStartTimeUnixNano()), fromUnixNano(p.GetEndTimeUnixNano())
	switch p.GetStatus().GetCode() {
	case tracepb.Status_STATUS_CODE_OK:
		sp.Status = spans.StatusOK
	case tracepb.Status_STATUS_CODE_ERROR:
		sp.Status = spans.StatusError
	}
	sp.Err = p.GetStatus().GetMessage()
	sp.Attrs = convertAttrs(p.GetAttributes())
	if service != "" {
		if _, ok := sp.Attr(spans.KeyService); !ok {
			sp.Attrs = append(sp.Attrs, spans.String(spans.KeyService, service))
		}
	}
	sp.Attrs = mapConventions(sp.Attrs)
	sp.Stage = StageFor(sp.Name, sp.Attrs)
	for _, l := range p.GetLinks() {
		var lk spans.Link
		if len(l.GetTraceId()) != 16 || len(l.GetSpanId()) != 8 {
			continue // a link we cannot follow is dropped, not the span
		}
		copy(lk.TraceID[:], l.GetTraceId())
		copy(lk.SpanID[:], l.GetSpanId())
		lk.Attrs = convertAttrs(l.GetAttributes())
		sp.Links = append(sp.Links, lk)
	}
	return sp, nil
}

func convertAttrs(kvs []*commonpb.KeyValue) []spans.Attribute {
	if len(kvs) == 0 {
		return nil
	}
	out := make([]spans.Attribute, 0, len(kvs)+3)
	for _, kv := range kvs {
		out = append(out, convertValue(kv.GetKey(), kv.GetValue()))
	}
	return out
}

func convertValue(k string, v *commonpb.AnyValue) spans.Attribute {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return spans.String(k, x.StringValue)
	case *commonpb.AnyValue_BoolValue:
		return spans.Bool(k, x.BoolValue)
	case *commonpb.AnyValue_IntValue:
		return spans.Int64(k, x.IntValue)
	case *commonpb.AnyValue_DoubleValue:
		return spans.Float64(k, x.DoubleValue)
	case *commonpb.AnyValue_BytesValue:
		return spans.String(k, base64.StdEncoding.EncodeToString(x.BytesValue))
	case *commonpb.AnyValue_ArrayValue:
		return convertArray(k, x.ArrayValue.GetValues())
	case *commonpb.AnyValue_KvlistValue:
		return spans.String(k, anyJSON(v))
	}
	return spans.String(k, "")
}

// convertArray keeps homogeneous scalar arrays typed; anything else becomes
// its JSON text.
func convertArray(k string, vals []*commonpb.AnyValue) spans.Attribute {
	if len(vals) == 0 {
		return spans.Strings(k, nil)
	}
	switch vals[0].GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		out := make([]string, 0, len(vals))
		for _, v := range vals {
			s, ok := v.GetValue().(*commonpb.AnyValue_StringValue)
			if !ok {
				return spans.String(k, anyJSON(&commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: vals}}}))
			}
			out = append(out, s.StringValue)
		}
		return spans.Strings(k, out)
	case *commonpb.AnyValue_IntValue:
		out := make([]int64, 0, len(vals))
		for _, v := range vals {
			s, ok := v.GetValue().(*commonpb.AnyValue_IntValue)
			if !ok {
				return spans.String(k, anyJSON(&commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: vals}}}))
			}
			out = append(out, s.IntValue)
		}
		return spans.Int64s(k, out)
	case *commonpb.AnyValue_DoubleValue:
		out := make([]float64, 0, len(vals))
		for _, v := range vals {
			s, ok := v.GetValue().(*commonpb.AnyValue_DoubleValue)
			if !ok {
				return spans.String(k, anyJSON(&commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: vals}}}))
			}
			out = append(out, s.DoubleValue)
		}
		return spans.Float64s(k, out)
	case *commonpb.AnyValue_BoolValue:
		out := make([]bool, 0, len(vals))
		for _, v := range vals {
			s, ok := v.GetValue().(*commonpb.AnyValue_BoolValue)
			if !ok {
				return spans.String(k, anyJSON(&commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: vals}}}))
			}
			out = append(out, s.BoolValue)
		}
		return spans.Bools(k, out)
	}
	return spans.String(k, anyJSON(&commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: vals}}}))
}

// anyJSON renders a nested value as plain JSON text.
func anyJSON(v *commonpb.AnyValue) string {
	var b strings.Builder
	writeAnyJSON(&b, v, 0)
	return b.String()
}

func writeAnyJSON(b *strings.Builder, v *commonpb.AnyValue, depth int) {
	if depth > 32 {
		b.WriteString("null")
		return
	}
	enc := func(x any) {
		j, err := json.Marshal(x)
		if err != nil {
			b.WriteString("null")
			return
		}
		b.Write(j)
	}
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		enc(x.StringValue)
	case *commonpb.AnyValue_BoolValue:
		enc(x.BoolValue)
	case *commonpb.AnyValue_IntValue:
		enc(x.IntValue)
	case *commonpb.AnyValue_DoubleValue:
		enc(x.DoubleValue)
	case *commonpb.AnyValue_BytesValue:
		enc(x.BytesValue)
	case *commonpb.AnyValue_ArrayValue:
		b.WriteByte('[')
		for i, e := range x.ArrayValue.GetValues() {
			if i > 0 {
				b.WriteByte(',')
			}
			writeAnyJSON(b, e, depth+1)
		}
		b.WriteByte(']')
	case *commonpb.AnyValue_KvlistValue:
		b.WriteByte('{')
		for i, kv := range x.KvlistValue.GetValues() {
			if i > 0 {
				b.WriteByte(',')
			}
			enc(kv.GetKey())
			b.WriteByte(':')
			writeAnyJSON(b, kv.GetValue(), depth+1)
		}
		b.WriteByte('}')
	default:
		b.WriteString("null")
	}
}
