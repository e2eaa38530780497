// Package policy reads .shipshape.yaml, the file in which a team states
// what it trusts and how strict each practice is: trusted registries,
// digest pinning, allowed and denied base images, per-practice thresholds,
// rules switched off or re-levelled, and accepted findings.
//
// Example (every key is optional; unknown keys are errors):
//
//	registries:
//	  trusted:                      # replaces the default list
//	    - docker.io/library/*
//	    - registry.example.com/platform/**
//	base:
//	  pinDigest: true               # FROM and base images must use @sha256:…
//	  allow: [docker.io/library/alpine, gcr.io/distroless/**]
//	  deny:  [docker.io/library/ubuntu:18.04]
//	practices:
//	  P2: {fail: medium}            # medium and above fail P2
//	  P8: {fail: critical, warn: medium}
//	rules:
//	  SS-DF-019: off                # switch a rule off
//	  SS-P9-007: {severity: info}   # or re-level it
//	  SS-DF-009: {off: true, reason: "slim images are built elsewhere"}
//	ignore:                         # same entries as .shipshapeignore
//	  - rule: SS-P2-004
//	    path: /usr/bin/ping
//	    reason: needs cap_net_raw
//	    expires: 2027-06-30
//	dependencies:                   # P4 (see Dependencies)
//	  maxMajorsBehind: 3
//	trust:                          # P6: who must have signed (see Trust)
//	  require:
//	    - repositories: [registry.example.com/**]
//	      signers: [{key: keys/release.pub}]
package policy

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/distribution/reference"
	"gopkg.in/yaml.v3"

	"github.com/shipshape-dev/shipshape/internal/ignore"
	"github.com/shipshape-dev/shipshape/internal/rules"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

// DefaultFile is the policy file looked for in the working directory.
const DefaultFile = ".shipshape.yaml"

// DefaultTrusted are the registries and repositories trusted when the
// policy does not list its own.
var DefaultTrusted = []string{
	"docker.io/library/*",
	"gcr.io/distroless/**",
	"cgr.dev/chainguard/**",
	"registry.access.redhat.com/**",
	"registry.redhat.io/**",
	"mcr.microsoft.com/**",
	"public.ecr.aws/docker/library/*",
	"public.ecr.aws/amazonlinux/*",
	"quay.io/centos/*",
}

// Policy is a parsed policy file.
type Policy struct {
	// File is where the policy came from ("" for the defaults).
	File string
	// Trusted are repository globs (* within a path component, ** across).
	Trusted []string
	// PinDigest requires base images to be referenced by digest.
	PinDigest bool
	// Allow, when not empty, lists the only base images allowed; Deny
	// lists forbidden ones. Globs match the repository or repository:tag.
	Allow, Deny []string
	// Practices holds per-practice thresholds.
	Practices map[scorecard.Practice]Threshold
	// Rules holds per-rule overrides.
	Rules map[string]RuleOverride
	// Ignore holds accepted findings.
	Ignore *ignore.File
	// Trust is the trust: section (P6); nil when the file has none.
	Trust *Trust
	// Dependencies holds the P4 thresholds (nil: DefaultDependencies).
	Dependencies *Dependencies
	// SecurityUpdateMaxAge is how long a security update of a system
	// package may stay pending before P3 fails (systemUpdates:
	// securityMaxAgeDays; 0: the analyzer's default, 30 days).
	SecurityUpdateMaxAge time.Duration

	trusted, allow, deny []*regexp.Regexp
	// ruleLines are the lines of the rules: keys, by rule id.
	ruleLines map[string]int
}

// imageRuleID matches the ids of the image rule table (internal/rules).
var imageRuleID = regexp.MustCompile(`^SS-P[2-9]-\d{3}$`)

// ruleKeyLines finds the line of every key under the top-level rules:.
func ruleKeyLines(doc *yaml.Node) map[string]int {
	out := map[string]int{}
	for i := 0; i+1 < len(doc.Content); i += 2 {
		if doc.Content[i].Value != "rules" || doc.Content[i+1].Kind != yaml.MappingNode {
			continue
		}
		m := doc.Content[i+1]
		for j := 0; j+1 < len(m.Content); j += 2 {
			out[m.Content[j].Value] = m.Content[j].Line
		}
	}
	return out
}

// CheckRuleIDs reports, with their lines, the rule ids that rules: and
// ignore: entries name and that known does not know. Parse already refuses
// unknown image rule ids (SS-P2…P9) and ids of no family; Dockerfile
// (SS-DF-…) and secret (SS-P1-…) ids are checked here, by the caller that
// holds those tables.
func (p *Policy) CheckRuleIDs(known func(id string) bool) error {
	return p.checkRuleIDs(func(id string) (bool, bool) {
		if imageRuleID.MatchString(id) {
			_, ok := rules.Lookup(id)
			return ok, true
		}
		return known(id), true
	})
}

func (p *Policy) checkRuleIDs(known func(id string) (known, decided bool)) error {
	type bad struct {
		line int
		msg  string
	}
	var errs []bad
	for id, o := range p.Rules {
		if ok, decided := known(id); decided && !ok {
			line := p.ruleLines[id]
			if line == 0 {
				line = o.Line
			}
			errs = append(errs, bad{line, fmt.Sprintf("line %d: rules.%s: unknown rule id", line, id)})
		}
	}
	if p.Ignore != nil {
		for _, r := range p.Ignore.Rules {
			if r.Rule == "" {
				continue
			}
			if ok, decided := known(r.Rule); decided && !ok {
				errs = append(errs, bad{r.Line(), fmt.Sprintf("line %d: ignore: rule %s: unknown rule id", r.Line(), r.Rule)})
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	slices.SortFunc(errs, func(a, b bad) int { return a.line - b.line })
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, e.msg)
	}
	return fmt.Errorf("policy %s: %s (image rules are listed in docs/image-checks.md; Dockerfile rules are SS-DF-NNN, secret rules SS-P1-…)", p.File, strings.Join(msgs, "; "))
}

// Threshold says which severities fail and warn a practice.
type Threshold struct {
	Fail scorecard.Severity
	Warn scorecard.Severity
}

// RuleOverride switches a rule off or changes its severity.
type RuleOverride struct {
	Off      bool
	Severity scorecard.Severity
	Reason   string
	Line     int
}

// Default returns the policy used when there is no file.
func Default() *Policy {
	p := &Policy{Trusted: DefaultTrusted}
	if err := p.compile(); err != nil {
		panic("policy: default: " + err.Error())
	}
	return p
}

// Load reads the policy at name. When name is "" it looks for DefaultFile
// in the working directory and returns Default if there is none.
func Load(name string) (*Policy, error) {
	explicit := name != ""
	if !explicit {
		name = DefaultFile
	}
	b, err := os.ReadFile(name)
	if err != nil {
		if !explicit && os.IsNotExist(err) {
			return Default(), nil
		}
		return nil, fmt.Errorf("policy %s: %w", name, err)
	}
	return Parse(name, b)
}

// schema lists the keys allowed at each level; "*" allows any key whose
// value is checked against the child schema.
type schema map[string]schema

var (
	severityKeys = schema{"fail": nil, "warn": nil}
	ruleKeys     = schema{"off": nil, "severity": nil, "reason": nil}
	topSchema    = schema{
		"registries":    {"trusted": nil},
		"base":          {"pinDigest": nil, "allow": nil, "deny": nil},
		"practices":     {"P1": severityKeys, "P2": severityKeys, "P3": severityKeys, "P4": severityKeys, "P5": severityKeys, "P6": severityKeys, "P7": severityKeys, "P8": severityKeys, "P9": severityKeys},
		"rules":         {"*": ruleKeys},
		"ignore":        nil,
		"trust":         nil, // checked by parseTrust
		"systemUpdates": {"securityMaxAgeDays": nil},
		"dependencies":  {"failOnYanked": nil, "failOnDeprecated": nil, "maxMajorsBehind": nil, "maxLibyears": nil},
	}
)

// checkKeys reports the first key not in the schema, with its line.
func checkKeys(n *yaml.Node, s schema, at string) error {
	if s == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		child, ok := s[k.Value]
		if !ok {
			child, ok = s["*"]
		}
		if !ok {
			keys := make([]string, 0, len(s))
			for key := range s {
				keys = append(keys, key)
			}
			slices.Sort(keys)
			where := ""
			if at != "" {
				where = " in " + at
			}
			return fmt.Errorf("line %d: unknown key %q%s (want one of %s)", k.Line, k.Value, where, strings.Join(keys, ", "))
		}
		if err := checkKeys(v, child, strings.TrimPrefix(at+"."+k.Value, ".")); err != nil {
			return err
		}
	}
	return nil
}

type fileYAML struct {
	Registries struct {
		Trusted []string `yaml:"trusted"`
	} `yaml:"registries"`
	Base struct {
		PinDigest bool     `yaml:"pinDigest"`
		Allow     []string `yaml:"allow"`
		Deny      []string `yaml:"deny"`
	} `yaml:"base"`
	Practices map[string]struct {
		Fail string `yaml:"fail"`
		Warn string `yaml:"warn"`
	} `yaml:"practices"`
	Rules         map[string]yaml.Node `yaml:"rules"`
	Ignore        []yaml.Node          `yaml:"ignore"`
	SystemUpdates struct {
		SecurityMaxAgeDays *int `yaml:"securityMaxAgeDays"`
	} `yaml:"systemUpdates"`
}

// Parse parses a policy file's content. Unknown keys, bad severities and
// bad globs are errors that name the line.
func Parse(name string, b []byte) (*Policy, error) {
	p := &Policy{File: name, Trusted: DefaultTrusted}
	if len(bytes.TrimSpace(b)) == 0 {
		return p, p.compile()
	}
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, fmt.Errorf("policy %s: %w", name, err)
	}
	if len(root.Content) == 0 {
		return p, p.compile()
	}
	doc := root.Content[0]
	if doc.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("policy %s: line %d: want a mapping at the top", name, doc.Line)
	}
	if err := checkKeys(doc, topSchema, ""); err != nil {
		return nil, fmt.Errorf("policy %s: %w", name, err)
	}
	var y fileYAML
	if err := doc.Decode(&y); err != nil {
		return nil, fmt.Errorf("policy %s: %w", name, err)
	}
	if y.Registries.Trusted != nil {
		p.Trusted = y.Registries.Trusted
	}
	p.PinDigest, p.Allow, p.Deny = y.Base.PinDigest, y.Base.Allow, y.Base.Deny
	if d := y.SystemUpdates.SecurityMaxAgeDays; d != nil {
		if *d < 1 {
			return nil, fmt.Errorf("policy %s: systemUpdates.securityMaxAgeDays: %d, want a number of days >= 1", name, *d)
		}
		p.SecurityUpdateMaxAge = time.Duration(*d) * 24 * time.Hour
	}
	for id, t := range y.Practices {
		th := Threshold{Fail: scorecard.Severity(strings.ToLower(t.Fail)), Warn: scorecard.Severity(strings.ToLower(t.Warn))}
		for _, s := range []scorecard.Severity{th.Fail, th.Warn} {
			if s != "" && s.Rank() < 0 {
				return nil, fmt.Errorf("policy %s: practices.%s: unknown severity %q (want critical, high, medium, low or info)", name, id, s)
			}
		}
		if p.Practices == nil {
			p.Practices = map[scorecard.Practice]Threshold{}
		}
		p.Practices[scorecard.Practice(id)] = th
	}
	for id, n := range y.Rules {
		o := RuleOverride{Line: n.Line}
		switch n.Kind {
		case yaml.ScalarNode:
			switch v := strings.ToLower(n.Value); {
			case v == "off" || v == "false":
				o.Off = true
			case scorecard.Severity(v).Rank() >= 0:
				o.Severity = scorecard.Severity(v)
			default:
				return nil, fmt.Errorf("policy %s: line %d: rules.%s: %q is neither off nor a severity", name, n.Line, id, n.Value)
			}
		case yaml.MappingNode:
			var m struct {
				Off      bool   `yaml:"off"`
				Severity string `yaml:"severity"`
				Reason   string `yaml:"reason"`
			}
			if err := n.Decode(&m); err != nil {
				return nil, fmt.Errorf("policy %s: line %d: rules.%s: %w", name, n.Line, id, err)
			}
			o.Off, o.Severity, o.Reason = m.Off, scorecard.Severity(strings.ToLower(m.Severity)), m.Reason
			if o.Severity != "" && o.Severity.Rank() < 0 {
				return nil, fmt.Errorf("policy %s: line %d: rules.%s: unknown severity %q", name, n.Line, id, m.Severity)
			}
		default:
			return nil, fmt.Errorf("policy %s: line %d: rules.%s: want off, a severity or a mapping", name, n.Line, id)
		}
		if p.Rules == nil {
			p.Rules = map[string]RuleOverride{}
		}
		p.Rules[id] = o
	}
	ig, err := ignore.ParseEntries(name, y.Ignore)
	if err != nil {
		return nil, err
	}
	p.Ignore = ig
	for i := 0; i+1 < len(doc.Content); i += 2 {
		if doc.Content[i].Value == "dependencies" {
			if p.Dependencies, err = parseDependencies(doc.Content[i+1]); err != nil {
				return nil, fmt.Errorf("policy %s: %w", name, err)
			}
		}
		if doc.Content[i].Value != "trust" {
			continue
		}
		if p.Trust, err = parseTrust(name, doc.Content[i+1]); err != nil {
			return nil, fmt.Errorf("policy %s: %w", name, err)
		}
	}
	p.ruleLines = ruleKeyLines(doc)
	if err := p.checkRuleIDs(func(id string) (known, decided bool) {
		if imageRuleID.MatchString(id) {
			_, ok := rules.Lookup(id)
			return ok, true
		}
		if strings.HasPrefix(id, "SS-DF-") || strings.HasPrefix(id, "SS-P1-") {
			return false, false // CheckRuleIDs decides, with those tables
		}
		return false, true
	}); err != nil {
		return nil, err
	}
	if err := p.compile(); err != nil {
		return nil, fmt.Errorf("policy %s: %w", name, err)
	}
	return p, nil
}

func (p *Policy) compile() error {
	c := func(globs []string, what string) ([]*regexp.Regexp, error) {
		var out []*regexp.Regexp
		for _, g := range globs {
			re, err := ignore.CompileGlob(g)
			if err != nil {
				return nil, fmt.Errorf("%s %q: %w", what, g, err)
			}
			out = append(out, re)
		}
		return out, nil
	}
	var err error
	if p.trusted, err = c(p.Trusted, "registries.trusted"); err != nil {
		return err
	}
	if p.allow, err = c(p.Allow, "base.allow"); err != nil {
		return err
	}
	p.deny, err = c(p.Deny, "base.deny")
	return err
}

// Ref is an image reference split into what the policy checks.
type Ref struct {
	// Name is the normalised repository ("docker.io/library/alpine").
	Name   string
	Tag    string
	Digest string
}

// String renders the reference in normalised form.
func (r Ref) String() string {
	s := r.Name
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// ParseRef normalises an image reference the way Docker does ("alpine" is
// docker.io/library/alpine).
func ParseRef(s string) (Ref, error) {
	n, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return Ref{}, fmt.Errorf("image reference %q: %w", s, err)
	}
	r := Ref{Name: n.Name()}
	if t, ok := n.(reference.Tagged); ok {
		r.Tag = t.Tag()
	}
	if d, ok := n.(reference.Digested); ok {
		r.Digest = d.Digest().String()
	}
	return r, nil
}

// Trusted reports whether the repository comes from a trusted registry or
// repository glob.
func (p *Policy) TrustedRef(r Ref) bool {
	for _, re := range p.trusted {
		if re.MatchString(r.Name) {
			return true
		}
	}
	return false
}

// BaseAllowed checks a base image against base.allow and base.deny. It
// returns the reason when the image is not allowed.
func (p *Policy) BaseAllowed(r Ref) (bool, string) {
	cands := []string{r.Name}
	if r.Tag != "" {
		cands = append(cands, r.Name+":"+r.Tag)
	}
	match := func(res []*regexp.Regexp, globs []string) string {
		for i, re := range res {
			for _, c := range cands {
				if re.MatchString(c) {
					return globs[i]
				}
			}
		}
		return ""
	}
	if g := match(p.deny, p.Deny); g != "" {
		return false, fmt.Sprintf("denied by base.deny %q in %s", g, p.File)
	}
	if len(p.allow) > 0 && match(p.allow, p.Allow) == "" {
		return false, fmt.Sprintf("not in base.allow of %s", p.File)
	}
	return true, ""
}

// Apply applies rule overrides, practice thresholds and ignore entries to
// a scan's findings and coverage. Findings of rules switched off are moved
// to the suppressed list with the policy line as source.
func (p *Policy) Apply(fs []scorecard.Finding, cov []scorecard.Coverage, now time.Time) ([]scorecard.Finding, []scorecard.Coverage, []scorecard.Suppressed, []string) {
	if p == nil {
		return fs, cov, nil, nil
	}
	var sup []scorecard.Suppressed
	out := fs[:0:0]
	for _, f := range fs {
		o, ok := p.Rules[f.Rule]
		if ok && o.Off {
			reason := o.Reason
			if reason == "" {
				reason = "rule switched off by policy"
			}
			sup = append(sup, scorecard.Suppressed{Rule: f.Rule, Path: f.Path, Reason: reason, Source: fmt.Sprintf("%s:%d", p.File, o.Line)})
			continue
		}
		if ok && o.Severity != "" {
			if f.Evidence == nil {
				f.Evidence = map[string]any{}
			}
			f.Evidence["policySeverityFrom"] = string(f.Severity)
			f.Severity = o.Severity
		}
		out = append(out, f)
	}
	cov = slices.Clone(cov)
	for i := range cov {
		if t, ok := p.Practices[cov[i].Practice]; ok {
			if t.Fail != "" {
				cov[i].FailAt = t.Fail
			}
			if t.Warn != "" {
				cov[i].WarnAt = t.Warn
			}
		}
	}
	var warns []string
	if p.Ignore != nil {
		var s []scorecard.Suppressed
		out, s, warns = p.Ignore.Apply(out, now)
		sup = append(sup, s...)
	}
	scorecard.SortFindings(out)
	return out, cov, sup, warns
}

// Enabled reports whether a rule is not switched off, for rules that are
// off by default unless the policy gives them a severity.
func (p *Policy) Enabled(rule string, byDefault bool) bool {
	if p == nil {
		return byDefault
	}
	o, ok := p.Rules[rule]
	if !ok {
		return byDefault
	}
	return !o.Off
}
