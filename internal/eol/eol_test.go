package eol

import (
	"testing"
	"time"
)

func TestLookup(t *testing.T) {
	tb := Builtin()
	for _, tc := range []struct {
		id, version, cycle, eol string
	}{
		{"alpine", "3.20.3", "3.20", "2026-04-01"},
		{"alpine", "3.12.12", "3.12", "2022-05-01"},
		{"debian", "12", "12", "2026-06-10"},
		{"ubuntu", "22.04", "22.04", "2027-06-01"},
		{"rhel", "9.4", "9", "2032-05-31"},
		{"sles", "15.5", "15.5", "2024-12-31"},
		{"amzn", "2023", "2023", "2029-06-30"},
		{"amzn", "2", "2", "2026-06-30"},
	} {
		_, c, ok := tb.Lookup(tc.id, tc.version)
		if !ok {
			t.Errorf("%s %s: not found", tc.id, tc.version)
			continue
		}
		if c.Cycle != tc.cycle || c.EOLDate().Format(time.DateOnly) != tc.eol {
			t.Errorf("%s %s: got cycle %s eol %s, want %s %s", tc.id, tc.version, c.Cycle, c.EOL, tc.cycle, tc.eol)
		}
	}
	for _, tc := range [][2]string{{"alpine", "3.2"}, {"alpine", "3.200"}, {"plan9", "4"}, {"debian", ""}} {
		if _, c, ok := tb.Lookup(tc[0], tc[1]); ok {
			t.Errorf("%v: unexpected match %s", tc, c.Cycle)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, b := range []string{
		`{"distros": {"x": {"cycles": [{"cycle": "1", "eol": "soon"}]}}}`,
		`{"distros": {}, "extra": 1}`,
		`not json`,
	} {
		if _, err := Parse([]byte(b)); err == nil {
			t.Errorf("Parse(%s): no error", b)
		}
	}
}
