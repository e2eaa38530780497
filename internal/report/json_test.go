package report

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestWriteJSONAsEncoder holds writeJSON (compact, then indented in one
// buffer) to the bytes an indenting json.Encoder without HTML escaping
// writes: the JSON report's layout is part of what users diff and grep.
func TestWriteJSONAsEncoder(t *testing.T) {
	for name, v := range map[string]any{
		"report": map[string]any{
			"schemaVersion": "1.3",
			"findings": []map[string]any{
				{"path": "/app/<secret>&.env", "severity": "HIGH", "score": 9.8, "inFinalImage": true, "layer": 2},
				{"path": "/etc/caf\xc3\xa9\xff", "evidence": map[string]any{}, "layers": []int{}},
			},
			"empty":     []string{},
			"nothing":   nil,
			"big":       1e21,
			"small":     1e-7,
			"unicode":   "\u2028 \u2029 \t\n",
			"nestedRaw": json.RawMessage(`{"a" : [1, 2,3]}`),
		},
		"tricky strings": map[string]any{
			`k"{[,:]}\`: []any{`"`, `\`, `\"`, `{}`, `[]`, `,:`, "", "a\u0000b\x01", `\\"x"`},
			"":          map[string]any{"": []any{map[string]any{}, []any{[]any{}}, -1.5, 0, true, false}},
		},
		"struct": struct {
			A string            `json:"a"`
			B []int             `json:"b,omitempty"`
			C map[string]string `json:"c"`
			D *int              `json:"d"`
		}{A: "x", C: map[string]string{"z": "}", "y": "]"}},
		"scalar": "just a string",
		"array":  []any{1, "two", []any{}, map[string]any{}},
	} {
		checkWriteJSON(t, name, v)
	}
}

// checkWriteJSON compares writeJSON's bytes for v with an indenting
// encoder's.
func checkWriteJSON(t *testing.T, name string, v any) {
	t.Helper()
	var want bytes.Buffer
	enc := json.NewEncoder(&want)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := writeJSON(&got, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Errorf("%s: writeJSON wrote\n%s\nan indenting encoder writes\n%s", name, got.Bytes(), want.Bytes())
	}
}

// FuzzWriteJSON holds writeJSON to the indenting encoder on strings the
// fuzzer picks, as keys and values at several depths.
func FuzzWriteJSON(f *testing.F) {
	for _, s := range []string{"", `"`, `\`, "{[,:]}", "\xff\xfe", "\u2028", "<&>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkWriteJSON(t, "fuzz", map[string]any{s: []any{s, map[string]any{s: s, "n": []any{}}, []string{s}}, "m": map[string]any{}})
	})
}
