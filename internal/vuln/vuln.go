// Package vuln reports known vulnerabilities (P5): it takes the package
// inventory of an image, matches it against the local OSV database and
// turns each affected package into a finding with its ids, severity,
// fixed versions and fix.
package vuln

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/fstree"
	"github.com/shipshape-dev/shipshape/internal/humanize"
	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/inventory"
	"github.com/shipshape-dev/shipshape/internal/rules"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
	"github.com/shipshape-dev/shipshape/internal/vuln/match"
	"github.com/shipshape-dev/shipshape/internal/vuln/osv"
)

// Rules of P5 findings.
const (
	RuleFixable = "SS-P5-001" // a fixed version exists
	RuleUnfixed = "SS-P5-002" // no fixed version yet
)

// Analyzer builds the inventory (P4) and matches it (P5). It shares the
// inventory analyzer's name and version, so cached layer facts serve both
// `scan` and `sbom`.
type Analyzer struct {
	Inventory *inventory.Analyzer
	// DB is the vulnerability database; nil reports P5 as not-run with
	// NoDBReason.
	DB         match.Source
	NoDBReason string
	// IgnoreUnfixed drops vulnerabilities without a fixed version.
	IgnoreUnfixed bool
	// VEX statements suppress findings.
	VEX *VEX
	// FailAt is the lowest severity of a fixable vulnerability that fails
	// P5 (default high); unfixable ones only warn.
	FailAt scorecard.Severity
	// Priority, when set (a tier of Priorities), makes P5 fail only on
	// findings at FailAt or above whose priority tier is this one or a
	// more urgent one, fixable or not ("exploited": only known-exploited
	// vulnerabilities fail). Empty: fixable ones fail.
	Priority string
	// InUse, when set, is what a slim run of this image saw it open at
	// run time: findings say whether a file of the vulnerable package
	// was opened ("in use").
	InUse *InUse

	// reach judges whether a matched Go vulnerability is reachable in
	// the binaries holding the package (set by Finish).
	reach func(*inventory.Package, *match.Match) (Reach, bool)
	// used judges whether a package was in use (set by Findings).
	used func(*inventory.Package) (string, []string)
}

// Reach is whether a vulnerability's affected symbols are linked into
// the binaries that hold the package.
type Reach struct {
	// Reachable is "yes", "no" or "unknown".
	Reachable string
	// Symbols are the affected symbols found (yes) or looked for (no).
	Symbols []string
}

// Name implements analyze.Analyzer.
func (a *Analyzer) Name() string { return a.Inventory.Name() }

// Version implements analyze.Analyzer.
func (a *Analyzer) Version() string { return a.Inventory.Version() }

// Wants implements analyze.Analyzer.
func (a *Analyzer) Wants(e *fstree.Entry) (bool, int64) { return a.Inventory.Wants(e) }

// NewLayer implements analyze.Analyzer.
func (a *Analyzer) NewLayer(l *image.Layer) analyze.LayerScanner { return a.Inventory.NewLayer(l) }

// Section is the report section "vulnerabilities".
type Section struct {
	// MissingEcosystems have packages but no database.
	MissingEcosystems []string `json:"missingEcosystems,omitempty"`
	// VEXSuppressed lists the findings a VEX statement removed.
	VEXSuppressed []VEXSuppressed `json:"vexSuppressed,omitempty"`
}

// VEXSuppressed is a finding removed by an OpenVEX statement.
type VEXSuppressed struct {
	ID            string `json:"id"`
	Package       string `json:"package"`
	Version       string `json:"version"`
	Status        string `json:"status"`
	Justification string `json:"justification,omitempty"`
	Source        string `json:"source"`
}

// Finish implements analyze.Analyzer.
func (a *Analyzer) Finish(ctx context.Context, in *analyze.Input) (*analyze.Output, error) {
	inv, err := inventory.Build(in)
	if err != nil {
		return nil, err
	}
	out, err := a.Inventory.P4(ctx, in, inv)
	if err != nil {
		return nil, err
	}
	out.Sections[inventory.SectionName] = inv
	if in.Empty() {
		out.Coverage = append(out.Coverage, scorecard.Coverage{Practice: scorecard.P5, Reason: scorecard.NothingToJudge})
		return out, nil
	}
	if a.DB == nil {
		reason := a.NoDBReason
		if reason == "" {
			reason = "no vulnerability database: run `shipshape db update`"
		}
		out.Coverage = append(out.Coverage, scorecard.Coverage{Practice: scorecard.P5, Reason: reason})
		return out, nil
	}
	findings, sec, err := a.Findings(in, inv)
	if err != nil {
		return nil, err
	}
	out.Sections["vulnerabilities"] = sec
	if checked := matchable(inv, a.DB); checked == 0 && len(sec.MissingEcosystems) > 0 {
		out.Coverage = append(out.Coverage, scorecard.Coverage{Practice: scorecard.P5,
			Reason: "the vulnerability database has no data for " + strings.Join(sec.MissingEcosystems, ", ") + ": run `shipshape db update`"})
		return out, nil
	} else if checked == 0 {
		// No package could be looked up: zero vulnerabilities found in zero
		// packages is no evidence.
		reason := "no packages found that the vulnerability database covers"
		if u := unreadDatabases(in); len(u) > 0 {
			reason = "the package database could not be read (" + strings.Join(u, "; ") + "): its packages are unknown"
		} else if len(inv.Packages) == 0 && len(inv.Errors) > 0 {
			// Files not read may hold some (an rpm database past the
			// bounds): "none" is only what was read.
			reason = "no packages found in the package files read, but not every one could be read (sections.packages.errors): their packages are unknown"
		} else if len(inv.Packages) == 0 {
			reason = "no packages found: nothing to look up (a static binary without build info, or package metadata removed from the image)"
		} else {
			reason += " (" + humanize.Count(len(inv.Packages), "package") + " without a known ecosystem)"
		}
		out.Coverage = append(out.Coverage, scorecard.Coverage{Practice: scorecard.P5, Reason: reason})
		return out, nil
	}
	out.Findings = append(out.Findings, findings...)
	c := a.coverage(inv, findings, sec)
	if u := unreadDatabases(in); len(u) > 0 {
		// The language packages were checked; the system's were not.
		c.Partial = strings.TrimPrefix(c.Partial+"; the package database could not be read ("+strings.Join(u, "; ")+"): its packages were not checked", "; ")
	}
	out.Coverage = append(out.Coverage, c)
	return out, nil
}

// unreadDatabases are the final image's package databases that could not
// be read ("PATH: reason").
func unreadDatabases(in *analyze.Input) []string {
	var out []string
	if in.System == nil {
		return nil
	}
	for _, d := range in.System.Databases {
		if d.Err != "" {
			out = append(out, d.Path+": "+d.Err)
		}
	}
	return out
}

// matchable counts the packages whose ecosystem the database holds.
func matchable(inv *inventory.Inventory, src match.Source) int {
	n := 0
	for _, p := range inv.Packages {
		if p.Ecosystem != "" && src.Has(p.Ecosystem) {
			n++
		}
	}
	return n
}

func (a *Analyzer) coverage(inv *inventory.Inventory, findings []scorecard.Finding, sec *Section) scorecard.Coverage {
	counts := map[scorecard.Severity]int{}
	fixable, exploited, reachable, unreachable, inUse, notInUse := 0, 0, 0, 0, 0, 0
	for _, f := range findings {
		counts[f.Severity]++
		if f.Rule == RuleFixable {
			fixable++
		}
		if f.Evidence["knownExploited"] == true {
			exploited++
		}
		switch f.Evidence["reachable"] {
		case "yes":
			reachable++
		case "no":
			unreachable++
		}
		switch f.Evidence["inUse"] {
		case InUseYes:
			inUse++
		case InUseNo:
			notInUse++
		}
	}
	summary := fmt.Sprintf("%s in %s checked (%d fixable", humanize.Count(len(findings), "vulnerability", "vulnerabilities"), humanize.Count(matchable(inv, a.DB), "package"), fixable)
	intel, _ := a.DB.(Intel)
	if hasKEV(intel) {
		summary += fmt.Sprintf(", %d known exploited", exploited)
	}
	if reachable+unreachable > 0 {
		summary += fmt.Sprintf(", %d reachable, %d not reachable", reachable, unreachable)
	}
	if inUse+notInUse > 0 {
		summary += fmt.Sprintf(", %d in use at run time, %d not", inUse, notInUse)
	}
	summary += ")"
	if a.InUse != nil {
		summary += "; in use from a " + a.InUse.Source
	} else {
		summary += "; in use not judged (no `shipshape slim` run of this image in the cache)"
	}
	if !hasKEV(intel) {
		summary += "; not checked against the CISA KEV catalog (`shipshape db update`, or `db import known_exploited_vulnerabilities.json`)"
	}
	failIf := func(f scorecard.Finding) bool { return f.Rule == RuleFixable }
	if gate := PriorityTier(a.Priority); gate > 0 {
		failIf = func(f scorecard.Finding) bool {
			p, _ := f.Evidence["priority"].(string)
			return PriorityTier(p) >= gate
		}
		summary += "; fails only on priority " + a.Priority + " or above"
	}
	if len(sec.MissingEcosystems) > 0 {
		summary += "; no database for " + strings.Join(sec.MissingEcosystems, ", ") + " (run `shipshape db update`)"
	}
	failAt := a.FailAt
	if failAt == "" {
		failAt = scorecard.High
	}
	partial := ""
	if len(sec.MissingEcosystems) > 0 {
		partial = "no vulnerability data for " + strings.Join(sec.MissingEcosystems, ", ") + ": run `shipshape db update`"
	}
	return scorecard.Coverage{
		Practice: scorecard.P5,
		Ran:      true,
		Partial:  partial,
		Summary:  summary,
		FailAt:   failAt,
		FailIf:   failIf,
		Metrics: map[string]any{
			"vulnerabilities":   len(findings),
			"fixable":           fixable,
			"knownExploited":    exploited,
			"reachable":         reachable,
			"notReachable":      unreachable,
			"inUse":             inUse,
			"notInUse":          notInUse,
			"missingEcosystems": sec.MissingEcosystems,
		},
	}
}

// Findings matches the final packages of inv.
func (a *Analyzer) Findings(in *analyze.Input, inv *inventory.Inventory) ([]scorecard.Finding, *Section, error) {
	matches, missing, err := match.Packages(a.DB, inv.Packages)
	if err != nil {
		return nil, nil, fmt.Errorf("matching vulnerabilities: %w", err)
	}
	if in.Facts != nil {
		tables, err := inventory.GoSymbolTables(in)
		if err != nil {
			return nil, nil, err
		}
		a.reach = goReach(tables)
	}
	if a.InUse != nil {
		a.used = a.InUse.judge(in.System)
	}
	sec := &Section{MissingEcosystems: missing}
	var refs []string
	if in.Image != nil {
		refs = append(refs, in.Image.Reference)
		refs = append(refs, in.Image.RepoTags...)
		if in.Image.Digest.Hex != "" {
			refs = append(refs, in.Image.Digest.String())
		}
	}
	var findings []scorecard.Finding
	for _, m := range matches {
		p := &inv.Packages[m.Package]
		if a.IgnoreUnfixed && len(m.Fixed) == 0 {
			continue
		}
		ids := append([]string{m.ID}, m.Aliases...)
		if st := a.VEX.Suppresses(ids, p.PURL, refs); st != nil {
			sec.VEXSuppressed = append(sec.VEXSuppressed, VEXSuppressed{
				ID: m.ID, Package: p.Name, Version: p.Version, Status: st.Status, Justification: st.Justification, Source: a.VEX.Source,
			})
			continue
		}
		findings = append(findings, a.finding(in, inv, p, &m, baseLayers(in.Image)))
	}
	return findings, sec, nil
}

func (a *Analyzer) finding(in *analyze.Input, inv *inventory.Inventory, p *inventory.Package, m *match.Match, base int) scorecard.Finding {
	var affected []osv.Affected
	for _, r := range m.Records {
		for _, af := range r.Affected {
			if osv.NormalizeEcosystem(af.Package.Ecosystem) == osv.NormalizeEcosystem(p.Ecosystem) &&
				osv.NormalizeName(p.Ecosystem, af.Package.Name) == osv.NormalizeName(p.Ecosystem, m.QueryName) {
				affected = append(affected, af)
			}
		}
	}
	intel, _ := a.DB.(Intel)
	ids := append([]string{m.ID}, m.Aliases...)
	rating, ratedBy := rateWithAliases(intel, ids, Rate(m.Records, affected))
	rk := &risk{fixable: len(m.Fixed) > 0, severity: rating.Severity}
	rk.kev, rk.epss = exploitation(intel, ids)
	if a.reach != nil {
		if r, ok := a.reach(p, m); ok {
			rk.reachable, rk.symbols = r.Reachable, r.Symbols
		}
	}
	var usedFiles []string
	if a.used != nil {
		rk.inUse, usedFiles = a.used(p)
	}
	summary := ""
	for _, r := range m.Records {
		if r.Summary != "" {
			summary = r.Summary
			break
		}
	}
	if summary == "" {
		for _, r := range m.Records {
			if r.Details != "" {
				summary = firstLine(r.Details)
				break
			}
		}
	}
	rule := RuleUnfixed
	title := fmt.Sprintf("%s in %s %s (no fix yet)", m.ID, p.Name, p.Version)
	if len(m.Fixed) > 0 {
		rule = RuleFixable
		title = fmt.Sprintf("%s in %s %s (fixed in %s)", m.ID, p.Name, p.Version, m.Fixed[0])
	}
	ev := map[string]any{
		"id":               m.ID,
		"installedVersion": p.Version,
		"severitySource":   rating.Source,
	}
	if len(m.Aliases) > 0 {
		ev["aliases"] = m.Aliases
	}
	if len(m.Fixed) > 0 {
		ev["fixedVersions"] = m.Fixed
	}
	if rating.Vector != "" {
		ev["cvssScore"] = rating.Score
		ev["cvssVector"] = rating.Vector
	}
	if ratedBy != "" {
		ev["severityRecord"] = ratedBy
	}
	if hasKEV(intel) {
		// Only a verdict when the KEV catalog was imported.
		ev["knownExploited"] = rk.kev != nil
	}
	if rk.kev != nil {
		ev["kevDateAdded"] = rk.kev.DateAdded
		if rk.kev.Ransomware == "Known" {
			ev["knownRansomwareUse"] = true
		}
	}
	if rel := relatedExploited(intel, m.Records, ids); len(rel) > 0 {
		ev["relatedKnownExploited"] = rel
	}
	if rk.epss != nil {
		ev["epss"] = rk.epss.Score
		ev["epssPercentile"] = rk.epss.Percentile
	}
	if rk.reachable != "" {
		ev["reachable"] = rk.reachable
		switch {
		case rk.reachable == ReachableYes:
			ev["reachableSymbols"] = rk.symbols // found in the binary
		case len(rk.symbols) > 0:
			ev["checkedSymbols"] = rk.symbols // looked for, not found
		}
	}
	if rk.inUse != "" {
		ev["inUse"] = rk.inUse
		ev["inUseSource"] = a.InUse.Source
		if len(usedFiles) > 0 {
			ev["inUseFiles"] = usedFiles
		}
	}
	ev["priority"] = rk.priority()
	ev["priorityScore"] = rk.score()
	if p.Declared {
		// From a lock file: declared, maybe not installed.
		ev["declaredOnly"] = true
		title += " [declared in " + p.Locations[0] + "]"
	}
	if m.QueryName != p.Name {
		ev["sourcePackage"] = m.QueryName
		ev["sourceVersion"] = m.QueryVersion
	}
	if rk.kev != nil {
		title += " [known exploited]"
	}
	f := rules.Finding(rule, scorecard.Finding{
		Severity:    rating.Severity,
		Title:       title,
		Description: summary,
		Package:     &scorecard.PackageRef{Name: p.Name, Version: p.Version, Ecosystem: p.Ecosystem, PURL: p.PURL},
		Evidence:    ev,
		Fix:         fixText(p, m, base),
		Fingerprint: fmt.Sprintf("%s:%s:%s:%s", m.ID, p.Ecosystem, p.Name, p.Version),
	})
	in.LocateLayer(&f, p.Layer)
	if len(p.Locations) > 0 {
		f.Path = p.Locations[0]
		f.InFinalImage = scorecard.Bool(true)
	}
	return f
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// fixText says how to remove the vulnerability.
func fixText(p *inventory.Package, m *match.Match, base int) string {
	name := p.Name
	if len(m.Fixed) == 0 {
		return fmt.Sprintf("No fixed version of %s is known yet: remove %s if the image does not need it, or record the accepted risk (with a reason and an expiry) in .shipshapeignore or a VEX document.", m.QueryName, name)
	}
	fix := m.Fixed[0]
	switch p.Type {
	case "deb", "apk", "rpm":
		upgrade := map[string]string{"deb": "apt-get update && apt-get install --only-upgrade " + name, "apk": "apk upgrade --no-cache " + name, "rpm": "dnf upgrade -y " + name}[p.Type]
		s := fmt.Sprintf("Upgrade %s to ≥ %s", name, fix)
		if m.QueryName != name {
			s += fmt.Sprintf(" (source package %s)", m.QueryName)
		}
		if p.Layer <= base {
			return s + ": it comes from the base image's layers — rebuild on a newer base image (or run `" + upgrade + "` in the Dockerfile)."
		}
		return s + " (`" + upgrade + "`)."
	case "golang":
		if p.GoStdlib {
			return fmt.Sprintf("Rebuild the binary %s with Go ≥ %s.", strings.Join(p.Locations, ", "), fix)
		}
		return fmt.Sprintf("Upgrade %s to ≥ %s (`go get %s@v%s`) and rebuild %s.", name, fix, name, strings.TrimPrefix(fix, "v"), strings.Join(p.Locations, ", "))
	}
	if slices.Contains([]string{"npm", "pypi", "maven", "gem", "cargo", "composer", "nuget"}, p.Type) {
		return fmt.Sprintf("Upgrade the %s package %s to ≥ %s and rebuild the image.", p.Type, name, fix)
	}
	return fmt.Sprintf("Upgrade %s to ≥ %s.", name, fix)
}

// baseLayers is the number of layers from the base image (at least 1).
func baseLayers(img *image.Image) int {
	if img == nil || img.Config == nil {
		return 1
	}
	return max(1, img.BaseLayers())
}
