package redact

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

func TestValue(t *testing.T) {
	for in, want := range map[string]string{
		"ghp_abcdefghijklmnopqrstuvwxyz0123456789": "ghp_…6789",
		"hT7#kP2qZ9wL": "hT…wL",
		"short":        "*****",
		"-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nxyzw1234\n-----END RSA PRIVATE KEY-----\n": "-----BEGIN RSA PRIVATE KEY----- MIIE…1234",
	} {
		if got := Value(in); got != want {
			t.Errorf("Value(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestString(t *testing.T) {
	s := New("npm_0123456789abcdefghijklmnopqrstuvwxyz", "npm_0123456789", "pw1", "", "hunter22")
	tests := []struct{ in, want string }{
		{"RUN |1 NPM_TOKEN=npm_0123456789abcdefghijklmnopqrstuvwxyz sh -c x", "RUN |1 NPM_TOKEN=npm_…wxyz sh -c x"},
		// The shorter value inside the longer one does not split it.
		{"a npm_0123456789 b", "a np…89 b"},
		// Values under MinLen are left alone.
		{"x=pw1", "x=pw1"},
		{"pw=hunter22 and hunter22", "pw=******** and ********"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := s.String(tt.in); got != tt.want {
			t.Errorf("String(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	var nilSet *Set
	if nilSet.String("hunter22") != "hunter22" || !New().Empty() || !New("abc").Empty() {
		t.Error("an empty set must change nothing")
	}
}

func TestReport(t *testing.T) {
	const v = "s3cr3t-Value-XYZ"
	shared := map[string]any{"value": v}
	r := &scorecard.Report{
		Image: scorecard.ImageInfo{Layers: []scorecard.LayerInfo{{CreatedBy: "RUN |1 A=" + v + " sh"}}},
		Findings: []scorecard.Finding{{
			Title: "token " + v, Description: v, CreatedBy: "ARG " + v, Path: "/x/" + v, Field: "Env[" + v + "]", Fix: "rotate " + v,
			Package:  &scorecard.PackageRef{Name: v},
			Source:   &scorecard.Source{File: v},
			Evidence: map[string]any{"secret": v, "n": 3, "list": []string{v}, "any": []any{v, 1}, "nested": shared, "ms": map[string]string{"k": v}},
		}},
		Practices:  []scorecard.PracticeResult{{Summary: v, Reason: v}},
		Warnings:   []string{"warn " + v},
		Suppressed: []scorecard.Suppressed{{Path: v, Reason: v}},
	}
	New(v).Report(r)
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), v) {
		t.Errorf("value left in report: %s", b)
	}
	if !strings.Contains(string(b), Value(v)) {
		t.Errorf("redacted form missing: %s", b)
	}
	if shared["value"] != v {
		t.Error("an evidence map shared with the caller was modified in place")
	}
	if r.Findings[0].Evidence["n"] != 3 {
		t.Error("non-string evidence changed")
	}
	// Nothing to hide: the report is untouched.
	r2 := &scorecard.Report{Warnings: []string{v}}
	New().Report(r2)
	if r2.Warnings[0] != v {
		t.Error("empty set redacted")
	}
}

// TestReplacesFixRedaction: what `fix secrets` does by hand (a whole-value
// scan, then its report redacted for output) is New(values +
// EvidenceValues).Report.
func TestReplacesFixRedaction(t *testing.T) {
	const tok, key = "ghp_R8kX2vQ9mL4zT7bN1wS5yU3eO6aD0fC2gH8j", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU=\n-----END OPENSSH PRIVATE KEY-----\n"
	r := &scorecard.Report{
		Image: scorecard.ImageInfo{Layers: []scorecard.LayerInfo{{CreatedBy: "RUN |1 NPM_TOKEN=npm_abcdefgh12345678 sh"}}},
		Findings: []scorecard.Finding{
			{CreatedBy: "RUN |1 NPM_TOKEN=npm_abcdefgh12345678 sh", Evidence: map[string]any{"secret": tok}},
			{Path: "/root/.ssh/id_ed25519", Evidence: map[string]any{"secret": key}},
		},
	}
	New(append([]string{"npm_abcdefgh12345678"}, EvidenceValues(r.Findings)...)...).Report(r)
	b, _ := json.Marshal(r)
	for _, v := range []string{tok, "npm_abcdefgh12345678", "b3BlbnNzaC1rZXktdjEAAAAABG5vbmU="} {
		if strings.Contains(string(b), v) {
			t.Errorf("left in clear: %.12s…", v)
		}
	}
	if r.Findings[0].Evidence["secret"] != Value(tok) || r.Findings[1].Evidence["secret"] != Value(key) {
		t.Errorf("evidence = %v, %v", r.Findings[0].Evidence["secret"], r.Findings[1].Evidence["secret"])
	}
}

func TestReportSections(t *testing.T) {
	type layer struct {
		CreatedBy string
		Paths     []string
		hidden    string
	}
	type section struct {
		Layers []layer
		ByName map[string]*layer
		Any    any
		N      int
	}
	const secret = "npm_Xk29PqLmZ7vB4nR8tW1sY5uE3oD6aF0cG2hJ"
	line := "RUN |1 NPM_TOKEN=" + secret + " /bin/sh -c make"
	shared := &layer{CreatedBy: line, hidden: "kept"}
	orig := section{
		Layers: []layer{{CreatedBy: line, Paths: []string{"/app", secret}}},
		ByName: map[string]*layer{"x": shared},
		Any:    map[string]any{"line": line, "list": []any{line, 3}},
		N:      7,
	}
	r := &scorecard.Report{Sections: map[string]any{"own": orig, "ptr": shared}}
	New(secret).Report(r)
	b, err := json.Marshal(r.Sections)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), secret) {
		t.Errorf("a section still shows the secret: %s", b)
	}
	got, ok := r.Sections["own"].(section)
	if !ok || got.N != 7 || len(got.Layers) != 1 || got.Layers[0].Paths[0] != "/app" {
		t.Errorf("the section lost its type or values: %#v", r.Sections["own"])
	}
	if shared.CreatedBy != line || got.ByName["x"].hidden != "kept" {
		t.Error("redaction changed the analyzer's own value, or dropped an unexported field")
	}
}

func TestHider(t *testing.T) {
	find := func(text []byte) []string {
		if i := strings.Index(string(text), "tok_"); i >= 0 {
			return []string{string(text[i : i+len("tok_0123456789abcdef")])}
		}
		return nil
	}
	hide := Hider(find)
	for in, want := range map[string]string{
		"":                                   "",
		"nothing here":                       "nothing here",
		"key tok_0123456789abcdef in output": "key " + Value("tok_0123456789abcdef") + " in output",
	} {
		if got := hide(in); got != want {
			t.Errorf("Hider(%q) = %q, want %q", in, got, want)
		}
	}
}
