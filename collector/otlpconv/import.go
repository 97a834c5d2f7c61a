package otlpconv

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/spans"
	"github.com/stagescope/stagescope/spans/semconv"
)

// Batch is what one request (or one query answer) holds, in stagescope's
// terms.
type Batch struct {
	Spans  []spans.Span
	Events []event.Record // span events, in order, each naming its span
	// Rejected counts spans that could not be taken (bad ids, end before
	// start, times out of range); Reason describes the first.
	Rejected int
	Reason   string
	// Adjusted counts spans kept with a time set by the collector (a
	// missing start or end, an event time outside the representable
	// range); each carries the attribute spans.KeyTimeAdjusted saying what
	// was done, and Adjustment describes the first.
	Adjusted   int
	Adjustment string
}

// MaxSpanDuration is the longest span accepted. Longer ones are refused:
// they are a clock bug (a start of 1 and an end in 2262), and summing them
// into a stage's totals would overflow.
const MaxSpanDuration = 30 * 24 * time.Hour

// FromResourceSpans converts OTLP resource spans. Every span of one
// ResourceSpans shares one *spans.Resource, which is never nil for a span
// that came this way (an empty resource is still a resource: it marks the
// span as foreign). Invalid spans are skipped and counted; a link that
// cannot be followed is dropped, not its span.
func FromResourceSpans(rss []*tracepb.ResourceSpans) Batch {
	var b Batch
	n := 0
	for _, rs := range rss {
		for _, ss := range rs.GetScopeSpans() {
			n += len(ss.GetSpans())
		}
	}
	b.Spans = make([]spans.Span, 0, n)
	for _, rs := range rss {
		res := &spans.Resource{Attrs: Attributes(rs.GetResource().GetAttributes())}
		for _, ss := range rs.GetScopeSpans() {
			scope, version := ss.GetScope().GetName(), ss.GetScope().GetVersion()
			for _, p := range ss.GetSpans() {
				sp, adjusted, err := fromSpan(p)
				if err != nil {
					b.Rejected++
					if b.Reason == "" {
						b.Reason = err.Error()
					}
					continue
				}
				sp.Scope, sp.ScopeVersion, sp.Resource = scope, version, res
				for _, e := range p.GetEvents() {
					t, ok := eventTime(e.GetTimeUnixNano(), sp)
					if !ok && adjusted == "" {
						adjusted = fmt.Sprintf("event %q: time %d out of range; set to the span's start", e.GetName(), e.GetTimeUnixNano())
					}
					b.Events = append(b.Events, event.Record{
						Header: event.Header{Time: t, TraceID: sp.TraceID, SpanID: sp.SpanID},
						Name:   e.GetName(), Stage: sp.Stage, Attrs: Attributes(e.GetAttributes()),
					})
				}
				if adjusted != "" {
					sp.Attrs = append(sp.Attrs, spans.String(spans.KeyTimeAdjusted, adjusted))
					b.Adjusted++
					if b.Adjustment == "" {
						b.Adjustment = adjusted
					}
				}
				b.Spans = append(b.Spans, sp)
			}
		}
	}
	return b
}

func fromUnixNano(ns uint64) time.Time {
	if ns == 0 || ns > 1<<63-1 {
		return time.Time{}
	}
	return time.Unix(0, int64(ns)).UTC()
}

// eventTime is an event's time, or the span's start (and false) when the
// event has none or one past the representable range.
func eventTime(ns uint64, sp spans.Span) (time.Time, bool) {
	if t := fromUnixNano(ns); !t.IsZero() {
		return t, true
	}
	return sp.Start, false
}

// fromSpan converts one span, checking its times: both missing, past
// spans.LatestTime, an end before the start or a duration over
// MaxSpanDuration reject the span; one of them missing is set to the other,
// which adjusted describes.
func fromSpan(p *tracepb.Span) (sp spans.Span, adjusted string, err error) {
	sp, err = fromSpanFields(p)
	if err != nil {
		return sp, "", err
	}
	start, end := p.GetStartTimeUnixNano(), p.GetEndTimeUnixNano()
	const latest = uint64(1<<63 - 1)
	switch {
	case start > latest || end > latest:
		return sp, "", fmt.Errorf("span %q: time out of range (start %d, end %d Unix ns; the latest is %d, %s)", p.GetName(), start, end, latest, spans.LatestTime.Format(time.RFC3339))
	case start == 0 && end == 0:
		return sp, "", fmt.Errorf("span %q: no start and no end time", p.GetName())
	case start == 0:
		start, adjusted = end, "start time missing; set to the end time"
	case end == 0:
		end, adjusted = start, "end time missing; set to the start time"
	case end < start:
		return sp, "", fmt.Errorf("span %q: ends before it starts", p.GetName())
	case end-start > uint64(MaxSpanDuration):
		return sp, "", fmt.Errorf("span %q: lasts %s, more than the %s a span may last", p.GetName(), time.Duration(end-start), MaxSpanDuration)
	}
	sp.Start, sp.End = fromUnixNano(start), fromUnixNano(end)
	return sp, adjusted, nil
}

func fromSpanFields(p *tracepb.Span) (spans.Span, error) {
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
	sp.Name = p.GetName()
	if k := p.GetKind(); k >= 0 && k <= tracepb.Span_SPAN_KIND_CONSUMER {
		sp.Kind = spans.SpanKind(k) // the enums agree value for value
	}
	switch p.GetStatus().GetCode() {
	case tracepb.Status_STATUS_CODE_OK:
		sp.Status = spans.StatusOK
	case tracepb.Status_STATUS_CODE_ERROR:
		sp.Status = spans.StatusError
	}
	sp.Err = p.GetStatus().GetMessage()
	sp.Attrs = Attributes(p.GetAttributes())
	sp.Stage = semconv.Stage(sp.Name, sp.Attrs)
	if p.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_UNSET {
		// A convention's own failure mark (Langfuse's level ERROR) is a
		// failure, so every rule that counts failed spans sees it.
		if msg, failed := semconv.FailedByConvention(sp.Attrs); failed {
			sp.Status = spans.StatusError
			if sp.Err == "" {
				sp.Err = msg
			}
		}
	}
	for _, l := range p.GetLinks() {
		var lk spans.Link
		if len(l.GetTraceId()) != 16 || len(l.GetSpanId()) != 8 {
			continue
		}
		copy(lk.TraceID[:], l.GetTraceId())
		copy(lk.SpanID[:], l.GetSpanId())
		lk.Attrs = Attributes(l.GetAttributes())
		sp.Links = append(sp.Links, lk)
	}
	return sp, nil
}

// Attributes converts OTLP key-values. Scalars and homogeneous scalar
// arrays keep their type; bytes become base64 text, and maps and mixed
// arrays their JSON text.
func Attributes(kvs []*commonpb.KeyValue) []spans.Attribute {
	if len(kvs) == 0 {
		return nil
	}
	out := make([]spans.Attribute, 0, len(kvs))
	for _, kv := range kvs {
		out = append(out, attribute(kv.GetKey(), kv.GetValue()))
	}
	return out
}

func attribute(k string, v *commonpb.AnyValue) spans.Attribute {
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
		return array(k, x.ArrayValue.GetValues())
	case *commonpb.AnyValue_KvlistValue:
		return spans.String(k, anyJSON(v))
	}
	return spans.String(k, "")
}

// array keeps a homogeneous scalar array typed; anything else becomes its
// JSON text.
func array(k string, vals []*commonpb.AnyValue) spans.Attribute {
	if len(vals) == 0 {
		return spans.Strings(k, nil)
	}
	asJSON := func() spans.Attribute {
		return spans.String(k, anyJSON(&commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: vals}}}))
	}
	switch vals[0].GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		out := make([]string, len(vals))
		for i, v := range vals {
			s, ok := v.GetValue().(*commonpb.AnyValue_StringValue)
			if !ok {
				return asJSON()
			}
			out[i] = s.StringValue
		}
		return spans.Strings(k, out)
	case *commonpb.AnyValue_IntValue:
		out := make([]int64, len(vals))
		for i, v := range vals {
			s, ok := v.GetValue().(*commonpb.AnyValue_IntValue)
			if !ok {
				return asJSON()
			}
			out[i] = s.IntValue
		}
		return spans.Int64s(k, out)
	case *commonpb.AnyValue_DoubleValue:
		out := make([]float64, len(vals))
		for i, v := range vals {
			s, ok := v.GetValue().(*commonpb.AnyValue_DoubleValue)
			if !ok {
				return asJSON()
			}
			out[i] = s.DoubleValue
		}
		return spans.Float64s(k, out)
	case *commonpb.AnyValue_BoolValue:
		out := make([]bool, len(vals))
		for i, v := range vals {
			s, ok := v.GetValue().(*commonpb.AnyValue_BoolValue)
			if !ok {
				return asJSON()
			}
			out[i] = s.BoolValue
		}
		return spans.Bools(k, out)
	}
	return asJSON()
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
		if f := x.DoubleValue; math.IsNaN(f) || math.IsInf(f, 0) {
			enc(strconv.FormatFloat(f, 'g', -1, 64)) // JSON has no number for it
		} else {
			enc(f)
		}
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
