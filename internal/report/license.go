package report

import (
	_ "embed"
	"encoding/json"
	"strings"
	"sync"

	"github.com/github/go-spdx/v2/spdxexp"
)

// licenseKind says how a package's licence string reads as SPDX.
type licenseKind int

const (
	// licenseName is not SPDX: only its text can be given.
	licenseName licenseKind = iota
	// licenseID is one SPDX licence identifier.
	licenseID
	// licenseExpression is a valid SPDX licence expression of more than
	// one identifier (or an identifier WITH an exception).
	licenseExpression
)

// licenseRead is a licence string read as SPDX: its kind and, for ids and
// expressions, the normalised form (the list's spelling: "mit" → "MIT").
type licenseRead struct {
	kind licenseKind
	text string // normalised for ids and expressions, as found for names
}

// debianLicenses maps the short names of Debian machine-readable copyright
// files (DEP-5, "Standalone License Paragraph" names) to the SPDX
// identifier they denote exactly where it differs from the SPDX spelling.
// DEP-5's "GPL-2" is version 2 only and "GPL-2+" version 2 or later;
// names that are already SPDX ids (Apache-2.0, BSD-3-clause, MPL-2.0,
// Zlib, …) are read by the SPDX list (case-insensitively); names whose
// SPDX counterpart is not exact (Artistic, GFDL without its invariant
// sections stated, public-domain, Perl) are absent and stay names.
var debianLicenses = map[string]string{
	"Expat":     "MIT",
	"Apache-2":  "Apache-2.0", // not DEP-5's spelling, but found; one Apache 2
	"CC0":       "CC0-1.0",    // CC0 has one version
	"GPL-1":     "GPL-1.0-only",
	"GPL-1+":    "GPL-1.0-or-later",
	"GPL-2":     "GPL-2.0-only",
	"GPL-2+":    "GPL-2.0-or-later",
	"GPL-3":     "GPL-3.0-only",
	"GPL-3+":    "GPL-3.0-or-later",
	"LGPL-2":    "LGPL-2.0-only",
	"LGPL-2+":   "LGPL-2.0-or-later",
	"LGPL-2.1":  "LGPL-2.1-only",
	"LGPL-2.1+": "LGPL-2.1-or-later",
	"LGPL-3":    "LGPL-3.0-only",
	"LGPL-3+":   "LGPL-3.0-or-later",
	"AGPL-3":    "AGPL-3.0-only",
	"AGPL-3+":   "AGPL-3.0-or-later",
	"GFDL-1.3+": "GFDL-1.3-or-later",
	"GFDL-1.2+": "GFDL-1.2-or-later",
	"Zope-2.1":  "ZPL-2.1",
}

// readLicense reads one licence string as SPDX. A Debian short name maps
// to its exact SPDX id; a string the SPDX licence list (github.com/github/
// go-spdx, list version spdxlicenses.LicenseListVersion) knows as one id
// is that id; a valid SPDX expression is an expression; anything else is
// a name.
func readLicense(s string) licenseRead {
	s = strings.TrimSpace(s)
	if id, ok := debianLicenses[s]; ok {
		return licenseRead{kind: licenseID, text: id}
	}
	if s == "" || strings.EqualFold(s, "NOASSERTION") || strings.EqualFold(s, "NONE") {
		return licenseRead{kind: licenseName, text: s}
	}
	if e, ok := dep5Expression(s); ok {
		return licenseRead{kind: licenseExpression, text: e}
	}
	norm, bad := spdxexp.ValidateAndNormalizeLicensesWithOptions([]string{s}, spdxexp.ValidateLicensesOptions{})
	if len(bad) > 0 || len(norm) != 1 {
		return licenseRead{kind: licenseName, text: s}
	}
	if strings.ContainsAny(norm[0], " ()") {
		return licenseRead{kind: licenseExpression, text: norm[0]}
	}
	// One id of the list, current or deprecated ("GPL-2.0+"), or a
	// LicenseRef-.
	return licenseRead{kind: licenseID, text: norm[0]}
}

// dep5Expression reads a DEP-5 licence expression of one kind of
// operator ("GPL-2+ or Artistic-2.0", "BSD-3-clause and Expat": DEP-5
// writes the operators in lower case) whose every operand is an exact
// SPDX id or Debian name, as an SPDX expression ("GPL-2.0-or-later OR
// Artistic-2.0"). Mixed operators (whose grouping DEP-5 marks with
// commas), exceptions and unknown operands are not read.
func dep5Expression(s string) (string, bool) {
	words := strings.Fields(s)
	if len(words) < 3 || len(words)%2 == 0 || strings.Contains(s, ",") {
		return "", false
	}
	op := words[1]
	if op != "or" && op != "and" {
		return "", false
	}
	ids := make([]string, 0, len(words)/2+1)
	for i, w := range words {
		if i%2 == 1 {
			if w != op {
				return "", false
			}
			continue
		}
		id, ok := debianLicenses[w]
		if !ok {
			var active bool
			if active, id = spdxexp.ActiveLicense(w); !active {
				return "", false
			}
		}
		ids = append(ids, id)
	}
	return strings.Join(ids, " "+strings.ToUpper(op)+" "), true
}

// cdxSPDXSchema is the licence-id enumeration the CycloneDX 1.6 schema
// accepts in "license.id" (the schema's spdx.schema.json, kept in
// testdata for the schema tests; see testdata/README.md).
//
//go:embed testdata/spdx.schema.json
var cdxSPDXSchema []byte

var cdxIDs = sync.OnceValue(func() map[string]bool {
	var s struct {
		Enum []string `json:"enum"`
	}
	m := map[string]bool{}
	if err := json.Unmarshal(cdxSPDXSchema, &s); err == nil {
		for _, id := range s.Enum {
			m[id] = true
		}
	}
	return m
})

// cdxLicenses turns a package's licences into CycloneDX licence choices:
// {"license": {"id"}} for SPDX ids CycloneDX 1.6 enumerates, one
// {"expression"} for valid SPDX expressions (and ids newer than
// CycloneDX's list), {"license": {"name"}} otherwise. CycloneDX allows
// either licences or a single expression, not both: several licences of
// which one is an expression are joined with AND when all are SPDX, and
// listed by id or name when some are not.
func cdxLicenses(ls []string) []cdxLicense {
	var read []licenseRead
	for _, l := range ls {
		if r := readLicense(l); r.text != "" {
			read = append(read, r)
		}
	}
	if len(read) == 0 {
		return nil
	}
	allSPDX, anyExpr := true, false
	for i, r := range read {
		if r.kind == licenseID && !cdxIDs()[r.text] {
			read[i].kind = licenseExpression
		}
		allSPDX = allSPDX && read[i].kind != licenseName
		anyExpr = anyExpr || read[i].kind == licenseExpression
	}
	if anyExpr && allSPDX {
		return []cdxLicense{{expression: spdxAnd(read)}}
	}
	out := make([]cdxLicense, 0, len(read))
	for _, r := range read {
		switch r.kind {
		case licenseID:
			out = append(out, cdxLicense{id: r.text})
		default:
			out = append(out, cdxLicense{name: r.text})
		}
	}
	return out
}

// cdxLicense is one CycloneDX licence choice: exactly one field is set.
type cdxLicense struct{ id, name, expression string }

// spdxAnd joins SPDX ids and expressions with AND, parenthesising
// compound expressions.
func spdxAnd(rs []licenseRead) string {
	if len(rs) == 1 {
		return rs[0].text
	}
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.text
		if strings.Contains(r.text, " ") {
			parts[i] = "(" + r.text + ")"
		}
	}
	return strings.Join(parts, " AND ")
}
