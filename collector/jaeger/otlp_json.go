package jaeger

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/stagescope/stagescope/dispatcher/event"
	"github.com/stagescope/stagescope/spans"
)

// The OTLP-JSON shape of the query API's answers (api_v3). Jaeger writes IDs
// as hex, 64-bit integers as strings and enums as numbers; the decoder also
// takes base64 IDs, numbers for integers and enum names, as other OTLP-JSON
// writers produce.
type (
	queryAnswer struct {
		Result *otlpTraces    `json:"result"`
		Error  *gatewayDetail `json:"error"`
	}
	gatewayDetail struct {
		HTTPCode int    `json:"httpCode"`
		Message  string `json:"message"`
	}
	otlpTraces struct {
		ResourceSpans []otlpResourceSpans `json:"resourceSpans"`
	}
	otlpResourceSpans struct {
		Resource struct {
			Attributes []otlpKV `json:"attributes"`
		} `json:"resource"`
		ScopeSpans []otlpScopeSpans `json:"scopeSpans"`
	}
	otlpScopeSpans struct {
		Spans []otlpSpan `json:"spans"`
	}
	otlpSpan struct {
		TraceID      string     `json:"traceId"`
		SpanID       string     `json:"spanId"`
		ParentSpanID string     `json:"parentSpanId"`
		Name         string     `json:"name"`
		Start        jsonInt    `json:"startTimeUnixNano"`
		End          jsonInt    `json:"endTimeUnixNano"`
		Attributes   []otlpKV   `json:"attributes"`
		Events       []otlpEvt  `json:"events"`
		Links        []otlpLink `json:"links"`
		Status       struct {
			Code    jsonEnum `json:"code"`
			Message string   `json:"message"`
		} `json:"status"`
	}
	otlpEvt struct {
		Time       jsonInt  `json:"timeUnixNano"`
		Name       string   `json:"name"`
		Attributes []otlpKV `json:"attributes"`
	}
	otlpLink struct {
		TraceID    string   `json:"traceId"`
		SpanID     string   `json:"spanId"`
		Attributes []otlpKV `json:"attributes"`
	}
	otlpKV struct {
		Key   string       `json:"key"`
		Value otlpAnyValue `json:"value"`
	}
	otlpAnyValue struct {
		StringValue *string    `json:"stringValue"`
		BoolValue   *bool      `json:"boolValue"`
		IntValue    *jsonInt   `json:"intValue"`
		DoubleValue *jsonFloat `json:"doubleValue"`
		BytesValue  *string    `json:"bytesValue"`
		ArrayValue  *struct {
			Values []otlpAnyValue `json:"values"`
		} `json:"arrayValue"`
		KvlistValue *struct {
			Values []otlpKV `json:"values"`
		} `json:"kvlistValue"`
	}
)

// jsonInt is a 64-bit integer written as a JSON string or number.
type jsonInt int64

func (n *jsonInt) UnmarshalJSON(b []byte) error {
	s := string(bytes.Trim(b, `"`))
	if s == "null" || s == "" {
		*n = 0
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		u, uerr := strconv.ParseUint(s, 10, 64)
		if uerr != nil {
			return fmt.Errorf("integer %s: %w", b, err)
		}
		v = int64(u)
	}
	*n = jsonInt(v)
	return nil
}

// jsonFloat is a double written as a number or as "NaN", "Infinity",
// "-Infinity".
type jsonFloat float64

func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	s := string(bytes.Trim(b, `"`))
	switch s {
	case "NaN":
		*f = jsonFloat(math.NaN())
		return nil
	case "Infinity":
		*f = jsonFloat(math.Inf(1))
		return nil
	case "-Infinity":
		*f = jsonFloat(math.Inf(-1))
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("double %s: %w", b, err)
	}
	*f = jsonFloat(v)
	return nil
}

// jsonEnum is an enum written as its number or its name; names are kept for
// statusOf.
type jsonEnum struct {
	num  int
	name string
}

func (e *jsonEnum) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &e.name)
	}
	return json.Unmarshal(b, &e.num)
}

// OTLP status codes.
const (
	otlpStatusUnset = 0
	otlpStatusOK    = 1
	otlpStatusError = 2
)

func (e jsonEnum) statusCode() int {
	switch e.name {
	case "":
		return e.num
	case "STATUS_CODE_OK":
		return otlpStatusOK
	case "STATUS_CODE_ERROR":
		return otlpStatusError
	}
	return otlpStatusUnset
}

func decodeID(dst []byte, s string) bool {
	if s == "" {
		return false
	}
	if len(s) == 2*len(dst) {
		if _, err := hex.Decode(dst, []byte(s)); err == nil {
			return true
		}
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != len(dst) {
		return false
	}
	copy(dst, b)
	return true
}

// toAttribute converts one OTLP attribute. Maps and bytes, which stagescope
// attributes lack, become their JSON text and base64 text.
func toAttribute(kv otlpKV) (spans.Attribute, bool) {
	v := kv.Value
	switch {
	case v.StringValue != nil:
		return spans.String(kv.Key, *v.StringValue), true
	case v.BoolValue != nil:
		return spans.Bool(kv.Key, *v.BoolValue), true
	case v.IntValue != nil:
		return spans.Int64(kv.Key, int64(*v.IntValue)), true
	case v.DoubleValue != nil:
		return spans.Float64(kv.Key, float64(*v.DoubleValue)), true
	case v.BytesValue != nil:
		return spans.String(kv.Key, *v.BytesValue), true
	case v.ArrayValue != nil:
		return arrayAttribute(kv.Key, v.ArrayValue.Values), true
	case v.KvlistValue != nil:
		m := make(map[string]any, len(v.KvlistValue.Values))
		for _, e := range v.KvlistValue.Values {
			if a, ok := toAttribute(e); ok {
				m[e.Key] = a.Value.AsAny()
			}
		}
		b, err := json.Marshal(m)
		if err != nil {
			return spans.String(kv.Key, fmt.Sprint(m)), true
		}
		return spans.String(kv.Key, string(b)), true
	}
	return spans.Attribute{}, false
}

// arrayAttribute keeps homogeneous arrays typed; integers among doubles
// become doubles; anything else becomes a string slice.
func arrayAttribute(key string, vals []otlpAnyValue) spans.Attribute {
	var nStr, nBool, nInt, nDbl int
	for _, v := range vals {
		switch {
		case v.StringValue != nil:
			nStr++
		case v.BoolValue != nil:
			nBool++
		case v.IntValue != nil:
			nInt++
		case v.DoubleValue != nil:
			nDbl++
		}
	}
	n := len(vals)
	switch {
	case n > 0 && nBool == n:
		out := make([]bool, n)
		for i, v := range vals {
			out[i] = *v.BoolValue
		}
		return spans.Bools(key, out)
	case n > 0 && nInt == n:
		out := make([]int64, n)
		for i, v := range vals {
			out[i] = int64(*v.IntValue)
		}
		return spans.Int64s(key, out)
	case n > 0 && nInt+nDbl == n:
		out := make([]float64, n)
		for i, v := range vals {
			if v.IntValue != nil {
				out[i] = float64(*v.IntValue)
			} else {
				out[i] = float64(*v.DoubleValue)
			}
		}
		return spans.Float64s(key, out)
	}
	out := make([]string, n)
	for i, v := range vals {
		if a, ok := toAttribute(otlpKV{Value: v}); ok {
			out[i] = a.Value.Emit()
		}
	}
	return spans.Strings(key, out)
}

// transportKeys are attributes that only carried something Jaeger's own
// model has a field for, or that the bridge derived; they are not kept.
var transportKeys = map[string]bool{
	spans.KeyStage: true, keyScope: true, keyStatus: true,
	tagStatusCode: true, tagStatusDescription: true,
	"otel.scope.name": true, "otel.scope.version": true, "otel.library.name": true, "otel.library.version": true,
}

// decodeTraces turns a query answer into traces, grouped by trace ID and
// ordered by start.
func decodeTraces(data *otlpTraces) ([]Trace, error) {
	if data == nil {
		return nil, nil
	}
	index := map[spans.TraceID]int{}
	var out []Trace
	for _, rs := range data.ResourceSpans {
		service := ""
		for _, kv := range rs.Resource.Attributes {
			if kv.Key == spans.KeyService && kv.Value.StringValue != nil {
				service = *kv.Value.StringValue
			}
		}
		for _, ss := range rs.ScopeSpans {
			for i := range ss.Spans {
				s, evs, err := decodeSpan(&ss.Spans[i], service)
				if err != nil {
					return nil, err
				}
				k, ok := index[s.TraceID]
				if !ok {
					k = len(out)
					index[s.TraceID] = k
					out = append(out, Trace{})
				}
				out[k].Spans = append(out[k].Spans, s)
				out[k].Events = append(out[k].Events, evs...)
			}
		}
	}
	sortTraces(out)
	return out, nil
}

func decodeSpan(o *otlpSpan, service string) (*spans.Span, []event.Record, error) {
	s := &spans.Span{Name: o.Name}
	if !decodeID(s.TraceID[:], o.TraceID) || s.TraceID.IsZero() {
		return nil, nil, fmt.Errorf("%w: span %q has trace id %q", ErrMalformedAnswer, o.Name, o.TraceID)
	}
	if !decodeID(s.SpanID[:], o.SpanID) || s.SpanID.IsZero() {
		return nil, nil, fmt.Errorf("%w: span %q has span id %q", ErrMalformedAnswer, o.Name, o.SpanID)
	}
	if o.ParentSpanID != "" && !decodeID(s.ParentID[:], o.ParentSpanID) {
		return nil, nil, fmt.Errorf("%w: span %q has parent span id %q", ErrMalformedAnswer, o.Name, o.ParentSpanID)
	}
	s.Start = time.Unix(0, int64(o.Start)).UTC()
	if o.End != 0 {
		s.End = time.Unix(0, int64(o.End)).UTC()
	}
	strAttr := map[string]string{}
	for _, kv := range o.Attributes {
		if kv.Value.StringValue != nil {
			strAttr[kv.Key] = *kv.Value.StringValue
		}
	}
	s.Stage = StageFromAttributes(o.Name, func(k string) (string, bool) { v, ok := strAttr[k]; return v, ok })
	s.Scope = strAttr[keyScope]
	code := o.Status.Code.statusCode()
	hasService := false
	for _, kv := range o.Attributes {
		switch {
		case transportKeys[kv.Key]:
			continue
		case kv.Key == tagError && code == otlpStatusError:
			continue
		case strings.HasPrefix(kv.Key, tagPrefix) && kv.Value.StringValue != nil:
			s.Tags = append(s.Tags, spans.Tag{Key: strings.TrimPrefix(kv.Key, tagPrefix), Value: *kv.Value.StringValue})
			continue
		}
		if a, ok := toAttribute(kv); ok {
			hasService = hasService || a.Key == spans.KeyService
			s.Attrs = append(s.Attrs, a)
		}
	}
	if service != "" && !hasService {
		s.Attrs = append(s.Attrs, spans.String(spans.KeyService, service))
	}
	switch code {
	case otlpStatusOK:
		s.Status = spans.StatusOK
	case otlpStatusError:
		s.Status, s.Err = spans.StatusError, o.Status.Message
		if strAttr[keyStatus] == "dropped" {
			s.Status = spans.StatusDropped
		}
	}
	for _, l := range o.Links {
		var link spans.Link
		if !decodeID(link.TraceID[:], l.TraceID) || !decodeID(link.SpanID[:], l.SpanID) {
			return nil, nil, fmt.Errorf("%w: span %q has a link to %q/%q", ErrMalformedAnswer, o.Name, l.TraceID, l.SpanID)
		}
		for _, kv := range l.Attributes {
			if a, ok := toAttribute(kv); ok {
				link.Attrs = append(link.Attrs, a)
			}
		}
		s.Links = append(s.Links, link)
	}
	var evs []event.Record
	for _, e := range o.Events {
		r := event.Record{
			Header: event.Header{Time: time.Unix(0, int64(e.Time)).UTC(), TraceID: s.TraceID, SpanID: s.SpanID, Tags: s.Tags},
			Name:   e.Name, Stage: s.Stage,
		}
		for _, kv := range e.Attributes {
			if kv.Key == logEventField && e.Name != "" {
				continue
			}
			if a, ok := toAttribute(kv); ok {
				r.Attrs = append(r.Attrs, a)
			}
		}
		evs = append(evs, r)
	}
	return s, evs, nil
}
