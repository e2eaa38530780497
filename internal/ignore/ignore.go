// Package ignore reads .shipshapeignore files and suppresses the findings
// they name. Every entry needs a reason; an entry past its expiry date
// suppresses nothing and is reported, so that accepted risks are looked at
// again.
//
// The file is YAML:
//
//	ignore:
//	  - rule: SS-P1-AWS-KEY          # a rule id
//	    path: /app/tests/**          # and/or a path glob (** crosses directories)
//	    reason: test fixture, not a live key
//	    expires: 2027-03-01
//	  - id: CVE-2024-1234            # a vulnerability id or alias
//	    reason: not reachable from our code
//	  - fingerprint: 3f1c…           # one exact finding
//	    reason: rotated on 2026-10-02
package ignore

import (
	"bytes"
	"fmt"
	"os"
	"path"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

// DefaultFile is the ignore file looked for in the working directory.
const DefaultFile = ".shipshapeignore"

// Rule is one ignore entry. All the fields that are set must match.
type Rule struct {
	Rule        string `yaml:"rule"`
	Path        string `yaml:"path"`
	ID          string `yaml:"id"`
	Fingerprint string `yaml:"fingerprint"`
	Practice    string `yaml:"practice"`
	Reason      string `yaml:"reason"`
	Expires     string `yaml:"expires"`

	line    int
	expires time.Time
	pathRE  *regexp.Regexp
}

// File is a parsed ignore file.
type File struct {
	Name  string
	Rules []*Rule
}

type fileYAML struct {
	Ignore []yaml.Node `yaml:"ignore"`
}

// Load reads an ignore file. A missing file is an empty File when optional.
func Load(name string, optional bool) (*File, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		if optional && os.IsNotExist(err) {
			return &File{Name: name}, nil
		}
		return nil, fmt.Errorf("ignore file %s: %w", name, err)
	}
	return Parse(name, b)
}

// Parse parses an ignore file's content. Unknown keys, entries without a
// reason or without anything to match, and bad dates are errors that name
// the line.
func Parse(name string, b []byte) (*File, error) {
	f := &File{Name: name}
	if len(bytes.TrimSpace(b)) == 0 {
		return f, nil
	}
	var doc fileYAML
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("ignore file %s: %w", name, err)
	}
	return ParseEntries(name, doc.Ignore)
}

// ParseEntries parses ignore entries that are part of another YAML file
// (the policy file's ignore list), with the same checks as Parse.
func ParseEntries(name string, entries []yaml.Node) (*File, error) {
	f := &File{Name: name}
	for _, n := range entries {
		var r Rule
		if err := n.Decode(&r); err != nil {
			return nil, fmt.Errorf("ignore file %s: line %d: %w", name, n.Line, err)
		}
		if err := strictKeys(&n); err != nil {
			return nil, fmt.Errorf("ignore file %s: %w", name, err)
		}
		r.line = n.Line
		if r.Rule == "" && r.Path == "" && r.ID == "" && r.Fingerprint == "" {
			return nil, fmt.Errorf("ignore file %s: line %d: entry matches nothing: set rule, path, id or fingerprint", name, n.Line)
		}
		if strings.TrimSpace(r.Reason) == "" {
			return nil, fmt.Errorf("ignore file %s: line %d: entry has no reason", name, n.Line)
		}
		if r.Expires != "" {
			t, err := time.Parse("2006-01-02", r.Expires)
			if err != nil {
				return nil, fmt.Errorf("ignore file %s: line %d: expires %q: want YYYY-MM-DD", name, n.Line, r.Expires)
			}
			r.expires = t.Add(24 * time.Hour) // the whole expiry day counts
		}
		if r.Path != "" {
			re, err := globRE(r.Path)
			if err != nil {
				return nil, fmt.Errorf("ignore file %s: line %d: path %q: %w", name, n.Line, r.Path, err)
			}
			r.pathRE = re
		}
		f.Rules = append(f.Rules, &r)
	}
	return f, nil
}

var knownKeys = map[string]bool{"rule": true, "path": true, "id": true, "fingerprint": true, "practice": true, "reason": true, "expires": true}

func strictKeys(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: entry is not a mapping", n.Line)
	}
	for i := 0; i < len(n.Content); i += 2 {
		k := n.Content[i]
		if !knownKeys[k.Value] {
			return fmt.Errorf("line %d: unknown key %q", k.Line, k.Value)
		}
	}
	return nil
}

// CompileGlob compiles a path glob for --skip-path and ignore entries.
func CompileGlob(g string) (*regexp.Regexp, error) { return globRE(g) }

// globRE compiles a path glob: * and ? stay within a path component, **
// crosses them.
func globRE(g string) (*regexp.Regexp, error) {
	if _, err := path.Match(strings.ReplaceAll(g, "**", "*"), ""); err != nil {
		return nil, err
	}
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(g); i++ {
		switch c := g[i]; c {
		case '*':
			if i+1 < len(g) && g[i+1] == '*' {
				b.WriteString(".*")
				i++
			} else {
				b.WriteString("[^/]*")
			}
		case '?':
			b.WriteString("[^/]")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}

// Line is the line of the entry in its file.
func (r *Rule) Line() int { return r.line }

// Matches reports whether the rule suppresses f.
func (r *Rule) Matches(f *scorecard.Finding) bool {
	if r.Rule != "" && r.Rule != f.Rule {
		return false
	}
	if r.Practice != "" && r.Practice != string(f.Practice) {
		return false
	}
	if r.Fingerprint != "" && r.Fingerprint != f.Fingerprint {
		return false
	}
	if r.pathRE != nil && !r.pathRE.MatchString(f.Path) {
		return false
	}
	if r.ID != "" && !matchesID(r.ID, f) {
		return false
	}
	return true
}

// matchesID compares a vulnerability id with the finding's id and aliases
// (Evidence "id" and "aliases").
func matchesID(id string, f *scorecard.Finding) bool {
	if v, ok := f.Evidence["id"].(string); ok && strings.EqualFold(v, id) {
		return true
	}
	switch as := f.Evidence["aliases"].(type) {
	case []string:
		for _, a := range as {
			if strings.EqualFold(a, id) {
				return true
			}
		}
	case []any:
		for _, a := range as {
			if s, ok := a.(string); ok && strings.EqualFold(s, id) {
				return true
			}
		}
	}
	return strings.EqualFold(f.Rule, id)
}

// Apply removes the findings the file suppresses at time now. It returns the
// remaining findings, what was suppressed, and a warning for each expired
// entry (which suppresses nothing).
func (f *File) Apply(fs []scorecard.Finding, now time.Time) ([]scorecard.Finding, []scorecard.Suppressed, []string) {
	if f == nil || len(f.Rules) == 0 {
		return fs, nil, nil
	}
	var warnings []string
	var active []*Rule
	for _, r := range f.Rules {
		if !r.expires.IsZero() && now.After(r.expires) {
			warnings = append(warnings, fmt.Sprintf("%s:%d: ignore entry expired on %s; it no longer suppresses anything", f.Name, r.line, r.Expires))
			continue
		}
		active = append(active, r)
	}
	out := fs[:0:0]
	var sup []scorecard.Suppressed
	for i := range fs {
		var hit *Rule
		for _, r := range active {
			if r.Matches(&fs[i]) {
				hit = r
				break
			}
		}
		if hit == nil {
			out = append(out, fs[i])
			continue
		}
		sup = append(sup, scorecard.Suppressed{Rule: fs[i].Rule, Path: fs[i].Path, Reason: hit.Reason, Expires: hit.Expires, Source: fmt.Sprintf("%s:%d", f.Name, hit.line)})
	}
	return out, sup, warnings
}

// SkipPaths turns --skip-path globs into an ignore file with one entry per
// glob.
func SkipPaths(globs []string) (*File, error) {
	f := &File{Name: "--skip-path"}
	for i, g := range globs {
		re, err := globRE(g)
		if err != nil {
			return nil, fmt.Errorf("--skip-path %q: %w", g, err)
		}
		f.Rules = append(f.Rules, &Rule{Path: g, Reason: "skipped with --skip-path", line: i + 1, pathRE: re})
	}
	return f, nil
}

// Matcher returns a function reporting whether a path matches any entry's
// path glob; nil when the file has no path entries.
func (f *File) Matcher() func(string) bool {
	var res []*regexp.Regexp
	for _, r := range f.Rules {
		if r.pathRE != nil {
			res = append(res, r.pathRE)
		}
	}
	if len(res) == 0 {
		return nil
	}
	return func(p string) bool {
		for _, re := range res {
			if re.MatchString(p) {
				return true
			}
		}
		return false
	}
}
