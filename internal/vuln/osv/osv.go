// Package osv is the part of the OSV schema (https://ossf.github.io/osv-schema/)
// that shipshape stores and matches: ids and aliases, severities, and the
// affected packages with their version ranges.
package osv

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Record is one OSV vulnerability record.
type Record struct {
	ID       string   `json:"id"`
	Aliases  []string `json:"aliases,omitempty"`
	Upstream []string `json:"upstream,omitempty"`
	// Related are ids of closely related but distinct vulnerabilities.
	Related   []string   `json:"related,omitempty"`
	Summary   string     `json:"summary,omitempty"`
	Details   string     `json:"details,omitempty"`
	Modified  string     `json:"modified,omitempty"`
	Published string     `json:"published,omitempty"`
	Withdrawn string     `json:"withdrawn,omitempty"`
	Severity  []Severity `json:"severity,omitempty"`
	Affected  []Affected `json:"affected,omitempty"`
	// DatabaseSpecific carries the source's own fields; only its
	// "severity" is kept (GitHub's LOW…CRITICAL, Alpine/Debian urgency).
	DatabaseSpecific *DatabaseSpecific `json:"database_specific,omitempty"`
}

// DatabaseSpecific is the subset of database_specific (and
// ecosystem_specific) shipshape keeps: the source's own rating.
type DatabaseSpecific struct {
	Severity string `json:"severity,omitempty"`
	// Imports are the affected packages and symbols of a Go module
	// (ecosystem_specific.imports of the Go vulnerability database).
	Imports []Import `json:"imports,omitempty"`
}

// Import is one affected package of a Go module and its affected symbols
// (none: every symbol of the package).
type Import struct {
	Path    string   `json:"path"`
	Symbols []string `json:"symbols,omitempty"`
	GOOS    []string `json:"goos,omitempty"`
	GOARCH  []string `json:"goarch,omitempty"`
}

// UnmarshalJSON keeps only a string "severity" (GitHub, Ubuntu) or
// "urgency" (Debian) of the free-form object, and Go's "imports".
func (d *DatabaseSpecific) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil // not an object: ignore, it is free-form
	}
	if raw, ok := m["imports"]; ok {
		var imps []Import
		if json.Unmarshal(raw, &imps) == nil {
			for _, im := range imps {
				if im.Path != "" {
					d.Imports = append(d.Imports, im)
				}
			}
		}
	}
	for _, k := range []string{"severity", "urgency"} {
		var s string
		if raw, ok := m[k]; ok && json.Unmarshal(raw, &s) == nil && s != "" {
			d.Severity = s
			return nil
		}
	}
	return nil
}

// Severity is a scored severity: a CVSS vector or an ecosystem rating.
type Severity struct {
	Type  string `json:"type"`
	Score string `json:"score"`
}

// Affected is one affected package with its versions.
type Affected struct {
	Package  Package    `json:"package"`
	Ranges   []Range    `json:"ranges,omitempty"`
	Versions []string   `json:"versions,omitempty"`
	Severity []Severity `json:"severity,omitempty"`
	// DatabaseSpecific of an affected entry (Ubuntu and others put the
	// severity here).
	DatabaseSpecific *DatabaseSpecific `json:"database_specific,omitempty"`
	// EcosystemSpecific is dropped on import except its "severity"
	// (Debian's urgency, Ubuntu's priority).
	EcosystemSpecific *DatabaseSpecific `json:"ecosystem_specific,omitempty"`
}

// Package names an affected package.
type Package struct {
	Ecosystem string `json:"ecosystem"`
	Name      string `json:"name"`
	PURL      string `json:"purl,omitempty"`
}

// Range is a range of affected versions.
type Range struct {
	Type   string  `json:"type"`
	Events []Event `json:"events"`
}

// Event is one event of a range; exactly one field is set.
type Event struct {
	Introduced   string `json:"introduced,omitempty"`
	Fixed        string `json:"fixed,omitempty"`
	LastAffected string `json:"last_affected,omitempty"`
	Limit        string `json:"limit,omitempty"`
}

// Parse decodes one OSV JSON record and checks that it has an id.
func Parse(b []byte) (*Record, error) {
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	if r.ID == "" {
		return nil, fmt.Errorf("record without id")
	}
	return &r, nil
}

// NormalizeEcosystem maps an OSV ecosystem to the key packages are looked
// up by: release suffixes that do not change versions are dropped
// ("Ubuntu:22.04:LTS" → "Ubuntu:22.04"), and so are Red Hat's repository
// variants, which share one version stream per product and release
// ("Red Hat:enterprise_linux:9::appstream" → "Red Hat:enterprise_linux:9").
func NormalizeEcosystem(eco string) string {
	if strings.HasPrefix(eco, "Red Hat:") {
		eco, _, _ = strings.Cut(eco, "::")
		return eco
	}
	return strings.TrimSuffix(eco, ":LTS")
}

// BaseEcosystem is an ecosystem without its release ("Debian:12" →
// "Debian"): the name of its OSV export.
func BaseEcosystem(eco string) string {
	base, _, _ := strings.Cut(eco, ":")
	return base
}

// NormalizeName maps a package name to its lookup key in an ecosystem:
// PyPI names are case- and separator-insensitive (PEP 503).
func NormalizeName(eco, name string) string {
	if BaseEcosystem(eco) == "PyPI" {
		name = strings.ToLower(name)
		return strings.NewReplacer("_", "-", ".", "-").Replace(name)
	}
	return name
}

// AllIDs returns the record's id followed by its aliases and upstream ids.
func (r *Record) AllIDs() []string {
	out := append([]string{r.ID}, r.Aliases...)
	return append(out, r.Upstream...)
}
