package analysis

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// ConfigChange is one setting that differs between two run configurations.
// Key is the setting's path with nested objects flattened by dots and array
// elements by index ("retrieval.top_k", "stages[1].name"). Baseline and
// Candidate are the values as compact JSON ("10", "\"gpt-4o\""); an empty
// value means the setting is absent on that side (a JSON value is never
// empty text).
type ConfigChange struct {
	Key       string `json:"key"`
	Baseline  string `json:"baseline,omitempty"`
	Candidate string `json:"candidate,omitempty"`
}

// String prints the change for people: `top_k: 10 → 20`, `seed: (absent) → 3`.
func (c ConfigChange) String() string {
	v := func(s string) string {
		if s == "" {
			return "(absent)"
		}
		return s
	}
	return fmt.Sprintf("%s: %s → %s", c.Key, v(c.Baseline), v(c.Candidate))
}

// DiffConfigs lists the settings that differ between two run configurations
// (JSON documents, usually objects), sorted by key. An empty document is an
// empty configuration. Numbers compare by value (10 and 10.0 are equal).
func DiffConfigs(baseline, candidate []byte) ([]ConfigChange, error) {
	b, err := flattenConfig(baseline)
	if err != nil {
		return nil, fmt.Errorf("cannot read the baseline config: %w", err)
	}
	c, err := flattenConfig(candidate)
	if err != nil {
		return nil, fmt.Errorf("cannot read the candidate config: %w", err)
	}
	keys := slices.Sorted(maps.Keys(b))
	for k := range c {
		if _, ok := b[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	out := []ConfigChange{}
	for _, k := range keys {
		if b[k] != c[k] {
			out = append(out, ConfigChange{Key: k, Baseline: b[k], Candidate: c[k]})
		}
	}
	return out, nil
}

// flattenConfig maps each leaf of a JSON document to its compact JSON text.
func flattenConfig(doc []byte) (map[string]string, error) {
	out := map[string]string{}
	if len(bytes.TrimSpace(doc)) == 0 {
		return out, nil
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("more than one JSON value")
	}
	flattenInto(out, "", v)
	return out, nil
}

func flattenInto(out map[string]string, key string, v any) {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 && key != "" {
			out[key] = "{}"
		}
		for k, e := range x {
			if key != "" {
				k = key + "." + k
			}
			flattenInto(out, k, e)
		}
	case []any:
		if len(x) == 0 {
			out[key] = "[]"
		}
		for i, e := range x {
			flattenInto(out, key+"["+strconv.Itoa(i)+"]", e)
		}
	case json.Number:
		if f, err := strconv.ParseFloat(x.String(), 64); err == nil {
			out[key] = strconv.FormatFloat(f, 'g', -1, 64)
		} else {
			out[key] = x.String()
		}
	default:
		b, _ := json.Marshal(x) // strings, booleans and null always marshal
		out[key] = string(b)
	}
}

// summariseConfigDiff names up to three changed settings for a sentence.
func summariseConfigDiff(diff []ConfigChange) string {
	var parts []string
	for i, c := range diff {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("and %d more", len(diff)-3))
			break
		}
		parts = append(parts, c.String())
	}
	return strings.Join(parts, "; ")
}
