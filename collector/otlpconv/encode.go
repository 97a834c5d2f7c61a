package otlpconv

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// EncodeJSON encodes m (an ExportTraceServiceRequest, say) in the OTLP/JSON
// encoding: protobuf's JSON mapping, except that trace and span ids are hex
// strings, as DecodeJSON and every OTLP/JSON reader expect.
func EncodeJSON(m proto.Message) ([]byte, error) {
	b, err := protojson.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("cannot encode OTLP/JSON: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("cannot encode OTLP/JSON: %w", err)
	}
	base64IDsToHex(v)
	return json.Marshal(v)
}

// base64IDsToHex is the inverse of hexIDsToBase64.
func base64IDsToHex(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if s, ok := val.(string); ok && idKeys[k] {
				if b, err := base64.StdEncoding.DecodeString(s); err == nil {
					x[k] = hex.EncodeToString(b)
				}
				continue
			}
			base64IDsToHex(val)
		}
	case []any:
		for _, e := range x {
			base64IDsToHex(e)
		}
	}
}
