package policy

import (
	"strings"
	"testing"
	"time"

	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

const example = `registries:
  trusted:
    - docker.io/library/*
    - registry.example.com/platform/**
base:
  pinDigest: true
  allow: [docker.io/library/alpine, "docker.io/library/debian:12*"]
  deny: ["docker.io/library/alpine:3.12"]
practices:
  P2: {fail: medium}
  P8: {fail: critical, warn: medium}
rules:
  SS-DF-019: off
  SS-P9-003: {severity: info}
  SS-P2-006: {off: true, reason: slim images are built elsewhere}
ignore:
  - rule: SS-P2-004
    path: /usr/bin/ping
    reason: needs cap_net_raw
    expires: 2027-06-30
`

func TestParseExample(t *testing.T) {
	p, err := Parse("x.yaml", []byte(example))
	if err != nil {
		t.Fatal(err)
	}
	if !p.PinDigest || len(p.Trusted) != 2 || p.Practices["P2"].Fail != "medium" || p.Practices["P8"].Warn != "medium" {
		t.Errorf("parsed %+v", p)
	}
	if o := p.Rules["SS-DF-019"]; !o.Off || o.Line != 13 {
		t.Errorf("SS-DF-019: %+v", o)
	}
	for _, tc := range []struct {
		ref     string
		trusted bool
		allowed bool
	}{
		{"alpine:3.20", true, true},
		{"alpine:3.12", true, false},
		{"debian:12-slim", true, true},
		{"ubuntu:24.04", true, false},
		{"registry.example.com/platform/base/go:1", true, false},
		{"ghcr.io/someone/alpine", false, false},
		{"docker.io/library/x/y", false, false},
	} {
		r, err := ParseRef(tc.ref)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.TrustedRef(r); got != tc.trusted {
			t.Errorf("%s: trusted %v, want %v", tc.ref, got, tc.trusted)
		}
		if got, why := p.BaseAllowed(r); got != tc.allowed {
			t.Errorf("%s: allowed %v (%s), want %v", tc.ref, got, why, tc.allowed)
		}
	}
}

func TestUnknownKeys(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{"registries:\n  trusted: []\n  truzted: []\n", `line 3: unknown key "truzted" in registries`},
		{"bases:\n  pinDigest: true\n", `line 1: unknown key "bases"`},
		{"practices:\n  P2: {fail: high, pass: low}\n", `unknown key "pass" in practices.P2`},
		{"practices:\n  P10: {fail: high}\n", `unknown key "P10" in practices`},
		{"rules:\n  SS-DF-001: {of: true}\n", `unknown key "of" in rules.SS-DF-001`},
		{"rules:\n  SS-DF-001: sometimes\n", `line 2: rules.SS-DF-001: "sometimes" is neither off nor a severity`},
		{"practices:\n  P2: {fail: severe}\n", `unknown severity "severe"`},
		{"ignore:\n  - rule: X\n", `line 2: entry has no reason`},
		{"registries:\n  trusted: ['[']\n", `registries.trusted "["`},
	} {
		_, err := Parse("p.yaml", []byte(tc.doc))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to contain %q", tc.doc, err, tc.want)
		}
	}
}

func TestDefaults(t *testing.T) {
	p, err := Parse("empty", nil)
	if err != nil {
		t.Fatal(err)
	}
	for ref, want := range map[string]bool{
		"alpine": true,
		"gcr.io/distroless/static-debian12:nonroot": true,
		"cgr.dev/chainguard/go":                     true,
		"quay.io/evil/alpine":                       false,
		"docker.io/someone/alpine":                  false,
	} {
		r, _ := ParseRef(ref)
		if got := p.TrustedRef(r); got != want {
			t.Errorf("%s: trusted %v, want %v", ref, got, want)
		}
	}
}

func TestApply(t *testing.T) {
	p, err := Parse("x.yaml", []byte(example))
	if err != nil {
		t.Fatal(err)
	}
	fs := []scorecard.Finding{
		{Rule: "SS-DF-019", Practice: "P3", Severity: scorecard.Info},
		{Rule: "SS-P9-003", Practice: "P9", Severity: scorecard.Medium},
		{Rule: "SS-P2-004", Practice: "P2", Severity: scorecard.Medium, Path: "/usr/bin/ping"},
		{Rule: "SS-P2-004", Practice: "P2", Severity: scorecard.Medium, Path: "/usr/bin/other"},
	}
	cov := []scorecard.Coverage{{Practice: "P2", Ran: true}, {Practice: "P9", Ran: true}, {Practice: "P3", Ran: true}}
	out, cov, sup, warns := p.Apply(fs, cov, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
	if len(out) != 2 || len(sup) != 2 || len(warns) != 0 {
		t.Fatalf("out %+v sup %+v warns %v", out, sup, warns)
	}
	res := scorecard.Evaluate(out, cov)
	// P2: a medium finding fails at fail: medium; P9's finding is now info.
	if res[1].Status != scorecard.Fail || res[8].Status != scorecard.Pass {
		t.Errorf("P2 %s, P9 %s", res[1].Status, res[8].Status)
	}
	if sup[0].Source != "x.yaml:13" {
		t.Errorf("suppressed source %q", sup[0].Source)
	}
	// After expiry the ignore entry suppresses nothing and warns.
	_, _, _, warns = p.Apply(fs, cov, time.Date(2027, 8, 1, 0, 0, 0, 0, time.UTC))
	if len(warns) != 1 {
		t.Errorf("warnings after expiry: %v", warns)
	}
}

// TestDocumentedExample keeps the documented example valid.
func TestDocumentedExample(t *testing.T) {
	p, err := Load("../../docs/shipshape.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !p.PinDigest || len(p.Trusted) != 3 || len(p.Rules) != 4 || len(p.Ignore.Rules) != 1 {
		t.Errorf("example parsed as %+v", p)
	}
}

// Unknown rule ids are errors with their line, like unknown keys.
func TestUnknownRuleIDs(t *testing.T) {
	tests := []struct {
		name, yaml string
		wantErr    []string // "" = accepted
	}{
		{"unknown image rule", "rules:\n  SS-P2-001: low\n  SS-P9-999: off\n", []string{"line 3: rules.SS-P9-999: unknown rule id"}},
		{"unknown image rule as a mapping", "rules:\n  SS-P8-777:\n    off: true\n    reason: x\n", []string{"line 2: rules.SS-P8-777"}},
		{"no family", "rules:\n  SS-P9-002: high\n  CVE-2024-1: off\n", []string{"line 3: rules.CVE-2024-1"}},
		{"ignore entry", "ignore:\n  - rule: SS-P2-404\n    reason: x\n", []string{"line 2: ignore: rule SS-P2-404"}},
		{"known ids", "rules:\n  SS-P9-007: high\n  SS-P8-013: off\n  SS-DF-019: low\n  SS-P1-private-key: medium\n", nil},
	}
	for _, tt := range tests {
		_, err := Parse("p.yaml", []byte(tt.yaml))
		if tt.wantErr == nil {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: accepted", tt.name)
			continue
		}
		for _, w := range tt.wantErr {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v, want %q", tt.name, err, w)
			}
		}
	}
	// Dockerfile and secret ids are checked by the caller, which has
	// those tables.
	p, err := Parse("p.yaml", []byte("rules:\n  SS-DF-999: off\n  SS-DF-001: low\n"))
	if err != nil {
		t.Fatal(err)
	}
	err = p.CheckRuleIDs(func(id string) bool { return id == "SS-DF-001" })
	if err == nil || !strings.Contains(err.Error(), "line 2: rules.SS-DF-999: unknown rule id") || strings.Contains(err.Error(), "SS-DF-001") {
		t.Errorf("CheckRuleIDs = %v", err)
	}
}

func TestSystemUpdatesPolicy(t *testing.T) {
	p, err := Parse("p.yaml", []byte("systemUpdates:\n  securityMaxAgeDays: 7\n"))
	if err != nil || p.SecurityUpdateMaxAge != 7*24*time.Hour {
		t.Fatalf("%v, %v", p, err)
	}
	for _, bad := range []string{"systemUpdates:\n  securityMaxAgeDays: 0\n", "systemUpdates:\n  maxAge: 3\n", "systemUpdates:\n  securityMaxAgeDays: soon\n"} {
		if _, err := Parse("p.yaml", []byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
