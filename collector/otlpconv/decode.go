package otlpconv

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// ErrMalformed is wrapped by every error about an undecodable body.
var ErrMalformed = errors.New("malformed OTLP request")

// DecodeProtobuf decodes an ExportTraceServiceRequest in the binary
// protobuf encoding (wire.go). Strings that are not valid UTF-8 are kept
// with their bad bytes replaced by U+FFFD, as the JSON decoder does,
// instead of failing the request.
func DecodeProtobuf(b []byte) (*coltracepb.ExportTraceServiceRequest, error) {
	req, err := decodeWireRequest(b)
	if err != nil {
		return nil, fmt.Errorf("%w: protobuf: %v", ErrMalformed, err)
	}
	return req, nil
}

// DecodeJSON decodes an ExportTraceServiceRequest — or a TracesData, which
// has the same shape, as Jaeger's api/v3 answers carry — in the OTLP/JSON
// encoding. OTLP/JSON differs from protobuf's JSON mapping in that trace
// and span ids are hex strings, not base64; 64-bit integers may be strings
// or numbers and enums names or numbers. Unknown fields are ignored, as the
// specification asks.
func DecodeJSON(b []byte) (*coltracepb.ExportTraceServiceRequest, error) {
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
// as bytes. A value that is not hex is left for protojson to read as
// base64, which some writers use, or to reject.
func hexIDsToBase64(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if s, ok := val.(string); ok && idKeys[k] {
				if b, err := hex.DecodeString(s); err == nil && (len(b) == 16 || len(b) == 8 || len(b) == 0) {
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
