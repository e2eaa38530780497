package ignore

import (
	"strings"
	"testing"
	"time"

	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

func TestParseErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ignore:\n  - rule: X\n", "line 2: entry has no reason"},
		{"ignore:\n  - reason: r\n", "line 2: entry matches nothing"},
		{"ignore:\n  - rule: X\n    reason: r\n    expires: tomorrow\n", `line 2: expires "tomorrow": want YYYY-MM-DD`},
		{"ignore:\n  - rule: X\n    reason: r\n    colour: red\n", `line 4: unknown key "colour"`},
		{"ignores: []\n", "field ignores not found"},
		{"ignore:\n  - path: '[x'\n    reason: r\n", "syntax error in pattern"},
	}
	for _, tt := range tests {
		_, err := Parse(".shipshapeignore", []byte(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), ".shipshapeignore") {
			t.Errorf("Parse(%q) = %v, want an error naming the file and %q", tt.in, err, tt.want)
		}
	}
}

func TestApply(t *testing.T) {
	f, err := Parse("ign", []byte(`ignore:
  - rule: SS-P1-AWS
    path: /app/tests/**
    reason: fixtures
  - id: cve-2024-0001
    reason: not reachable
    expires: 2030-01-01
  - rule: SS-P8-001
    reason: stale
    expires: 2020-01-01
`))
	if err != nil {
		t.Fatal(err)
	}
	fs := []scorecard.Finding{
		{Rule: "SS-P1-AWS", Path: "/app/tests/deep/key.txt"},
		{Rule: "SS-P1-AWS", Path: "/app/src/key.txt"},
		{Rule: "SS-P5-VULN", Evidence: map[string]any{"id": "GHSA-xxxx", "aliases": []any{"CVE-2024-0001"}}},
		{Rule: "SS-P8-001"},
	}
	out, sup, warns := f.Apply(fs, time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC))
	if len(out) != 2 || out[0].Path != "/app/src/key.txt" || out[1].Rule != "SS-P8-001" {
		t.Errorf("remaining = %+v", out)
	}
	if len(sup) != 2 || sup[0].Source != "ign:2" || sup[1].Reason != "not reachable" {
		t.Errorf("suppressed = %+v", sup)
	}
	if len(warns) != 1 || !strings.Contains(warns[0], "ign:8: ignore entry expired on 2020-01-01") {
		t.Errorf("warnings = %v", warns)
	}
	m := must(SkipPaths([]string{"/usr/share/doc/**", "*.pem"})).Matcher()
	for p, want := range map[string]bool{"/usr/share/doc/a/b": true, "/usr/share/docs": false, "x.pem": true, "/etc/x.pem": false} {
		if m(p) != want {
			t.Errorf("skip(%s) = %v", p, !want)
		}
	}
}

func must(f *File, err error) *File {
	if err != nil {
		panic(err)
	}
	return f
}
