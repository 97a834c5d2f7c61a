package spans

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// Kind is the type held by a Value.
type Kind uint8

const (
	KindInvalid Kind = iota
	KindString
	KindInt64
	KindFloat64
	KindBool
	KindStringSlice
	KindInt64Slice
	KindFloat64Slice
	KindBoolSlice
)

var kindNames = [...]string{"invalid", "string", "int64", "float64", "bool", "string[]", "int64[]", "float64[]", "bool[]"}

// String returns the kind's name.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Value is a typed attribute value. Scalars are stored unboxed (numbers in a
// uint64, strings as strings), so building an attribute on the hot path does
// not allocate; slices are copied once when the value is made, so the caller
// may reuse its slice.
type Value struct {
	kind  Kind
	num   uint64
	str   string
	slice any
}

// Attribute is a key and a typed value.
type Attribute struct {
	Key   string
	Value Value
}

// String makes a string attribute.
func String(k, v string) Attribute { return Attribute{k, Value{kind: KindString, str: v}} }

// Int makes an integer attribute.
func Int(k string, v int) Attribute { return Int64(k, int64(v)) }

// Int64 makes an integer attribute.
func Int64(k string, v int64) Attribute {
	return Attribute{k, Value{kind: KindInt64, num: uint64(v)}}
}

// Float64 makes a floating-point attribute.
func Float64(k string, v float64) Attribute {
	return Attribute{k, Value{kind: KindFloat64, num: math.Float64bits(v)}}
}

// Bool makes a boolean attribute.
func Bool(k string, v bool) Attribute {
	var n uint64
	if v {
		n = 1
	}
	return Attribute{k, Value{kind: KindBool, num: n}}
}

// Strings makes a string-slice attribute (the slice is copied).
func Strings(k string, v []string) Attribute {
	return Attribute{k, Value{kind: KindStringSlice, slice: slices.Clone(v)}}
}

// Int64s makes an integer-slice attribute (the slice is copied).
func Int64s(k string, v []int64) Attribute {
	return Attribute{k, Value{kind: KindInt64Slice, slice: slices.Clone(v)}}
}

// Float64s makes a float-slice attribute (the slice is copied).
func Float64s(k string, v []float64) Attribute {
	return Attribute{k, Value{kind: KindFloat64Slice, slice: slices.Clone(v)}}
}

// Bools makes a bool-slice attribute (the slice is copied).
func Bools(k string, v []bool) Attribute {
	return Attribute{k, Value{kind: KindBoolSlice, slice: slices.Clone(v)}}
}

// Kind returns the value's type.
func (v Value) Kind() Kind { return v.kind }

// AsString returns the string held, or "" for other kinds.
func (v Value) AsString() string { return v.str }

// AsInt64 returns the integer held, or 0.
func (v Value) AsInt64() int64 {
	if v.kind == KindInt64 {
		return int64(v.num)
	}
	return 0
}

// AsFloat64 returns the float held (an int64 is converted), or 0.
func (v Value) AsFloat64() float64 {
	switch v.kind {
	case KindFloat64:
		return math.Float64frombits(v.num)
	case KindInt64:
		return float64(int64(v.num))
	}
	return 0
}

// AsBool returns the bool held, or false.
func (v Value) AsBool() bool { return v.kind == KindBool && v.num == 1 }

// AsStrings returns the string slice held, or nil. Do not modify it.
func (v Value) AsStrings() []string { s, _ := v.slice.([]string); return s }

// AsInt64s returns the integer slice held, or nil. Do not modify it.
func (v Value) AsInt64s() []int64 { s, _ := v.slice.([]int64); return s }

// AsFloat64s returns the float slice held, or nil. Do not modify it.
func (v Value) AsFloat64s() []float64 { s, _ := v.slice.([]float64); return s }

// AsBools returns the bool slice held, or nil. Do not modify it.
func (v Value) AsBools() []bool { s, _ := v.slice.([]bool); return s }

// AsAny returns the value as a plain Go value (string, int64, float64, bool or
// a slice of those). It allocates; it is for the cold path.
func (v Value) AsAny() any {
	switch v.kind {
	case KindString:
		return v.str
	case KindInt64:
		return v.AsInt64()
	case KindFloat64:
		return v.AsFloat64()
	case KindBool:
		return v.AsBool()
	case KindStringSlice, KindInt64Slice, KindFloat64Slice, KindBoolSlice:
		return v.slice
	}
	return nil
}

// Emit renders the value as text, for printing.
func (v Value) Emit() string {
	switch v.kind {
	case KindString:
		return v.str
	case KindInt64:
		return strconv.FormatInt(v.AsInt64(), 10)
	case KindFloat64:
		return strconv.FormatFloat(v.AsFloat64(), 'g', -1, 64)
	case KindBool:
		return strconv.FormatBool(v.AsBool())
	case KindInvalid:
		return ""
	}
	return fmt.Sprint(v.slice)
}

// Equal reports whether two values have the same kind and contents.
func (v Value) Equal(o Value) bool {
	if v.kind != o.kind || v.num != o.num || v.str != o.str {
		return false
	}
	switch v.kind {
	case KindStringSlice:
		return slices.Equal(v.AsStrings(), o.AsStrings())
	case KindInt64Slice:
		return slices.Equal(v.AsInt64s(), o.AsInt64s())
	case KindFloat64Slice:
		return slices.Equal(v.AsFloat64s(), o.AsFloat64s())
	case KindBoolSlice:
		return slices.Equal(v.AsBools(), o.AsBools())
	}
	return true
}

// attributeJSON is the stable wire form of an Attribute: {"k":…,"t":…,"v":…}.
type attributeJSON struct {
	K string          `json:"k"`
	T string          `json:"t"`
	V json.RawMessage `json:"v"`
}

// MarshalJSON encodes the attribute with its type, so that a round trip keeps
// int64 and float64 apart. Non-finite floats, which JSON has no number for,
// are encoded as the strings "NaN", "+Inf" and "-Inf", alone or in an array.
func (a Attribute) MarshalJSON() ([]byte, error) {
	var raw []byte
	var err error
	switch a.Value.kind {
	case KindFloat64:
		raw = appendFloatJSON(nil, a.Value.AsFloat64())
	case KindFloat64Slice:
		raw = append(raw, '[')
		for i, f := range a.Value.AsFloat64s() {
			if i > 0 {
				raw = append(raw, ',')
			}
			raw = appendFloatJSON(raw, f)
		}
		raw = append(raw, ']')
	case KindInvalid:
		raw = []byte("null")
	default:
		raw, err = json.Marshal(a.Value.AsAny())
	}
	if err != nil {
		return nil, err
	}
	return json.Marshal(attributeJSON{K: a.Key, T: a.Value.kind.String(), V: raw})
}

// appendFloatJSON appends f as a JSON number, or as a string when it is not
// finite.
func appendFloatJSON(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return strconv.AppendQuote(b, strconv.FormatFloat(f, 'g', -1, 64))
	}
	j, _ := json.Marshal(f) // cannot fail for a finite float
	return append(b, j...)
}

// floatJSON reads what appendFloatJSON writes.
type floatJSON float64

func (f *floatJSON) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := strconv.ParseFloat(s, 64)
		*f = floatJSON(v)
		return err
	}
	var v float64
	err := json.Unmarshal(b, &v)
	*f = floatJSON(v)
	return err
}

// UnmarshalJSON is the inverse of MarshalJSON.
func (a *Attribute) UnmarshalJSON(b []byte) error {
	var aj attributeJSON
	if err := json.Unmarshal(b, &aj); err != nil {
		return err
	}
	var err error
	switch aj.T {
	case "string":
		var s string
		err = json.Unmarshal(aj.V, &s)
		*a = String(aj.K, s)
	case "int64":
		var n int64
		err = json.Unmarshal(aj.V, &n)
		*a = Int64(aj.K, n)
	case "float64":
		var f floatJSON
		err = json.Unmarshal(aj.V, &f)
		*a = Float64(aj.K, float64(f))
	case "bool":
		var v bool
		err = json.Unmarshal(aj.V, &v)
		*a = Bool(aj.K, v)
	case "string[]":
		var v []string
		err = json.Unmarshal(aj.V, &v)
		*a = Strings(aj.K, v)
	case "int64[]":
		var v []int64
		err = json.Unmarshal(aj.V, &v)
		*a = Int64s(aj.K, v)
	case "float64[]":
		var v []floatJSON
		err = json.Unmarshal(aj.V, &v)
		var fs []float64
		if v != nil {
			fs = make([]float64, len(v))
			for i, f := range v {
				fs[i] = float64(f)
			}
		}
		*a = Float64s(aj.K, fs)
	case "bool[]":
		var v []bool
		err = json.Unmarshal(aj.V, &v)
		*a = Bools(aj.K, v)
	default:
		return fmt.Errorf("attribute %q: unknown type %q", aj.K, aj.T)
	}
	if err != nil {
		return fmt.Errorf("attribute %q of type %s: %w", aj.K, aj.T, err)
	}
	return nil
}
