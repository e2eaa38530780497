// Package match decides which OSV records affect which packages: it looks
// each package up by (ecosystem, name) — OS packages by their source
// package — and checks its version against the records' ranges and version
// lists with osv-scalibr's ecosystem-specific version ordering.
package match

import (
	"fmt"
	"slices"
	"strings"

	"github.com/google/osv-scalibr/semantic"

	"github.com/shipshape-dev/shipshape/internal/inventory"
	"github.com/shipshape-dev/shipshape/internal/vuln/osv"
)

// Source is where records come from (a *db.DB).
type Source interface {
	Lookup(ecosystem, name string) ([]*osv.Record, error)
	Has(ecosystem string) bool
}

// Match is one package affected by one vulnerability (records that alias
// each other are merged into one Match).
type Match struct {
	// Package indexes the packages given to Packages.
	Package int
	// ID is the primary id; Aliases are the other ids of the merged
	// records and their aliases.
	ID      string
	Aliases []string
	Records []*osv.Record
	// Fixed lists the versions that fix it, above the installed one,
	// lowest first; empty when no fix exists.
	Fixed []string
	// QueryName and QueryVersion are what was matched (the source
	// package for Debian, Ubuntu and Alpine).
	QueryName, QueryVersion string
}

// Query returns the name and version a package is matched by.
func Query(p *inventory.Package) (name, version string) {
	name, version = p.Name, p.Version
	switch inventory.EcosystemBase(p.Ecosystem, p.Type) {
	case "Debian", "Ubuntu":
		if p.SourceName != "" {
			name = p.SourceName
		}
		if p.SourceVersion != "" {
			version = p.SourceVersion
		}
	case "Alpine", "Wolfi", "Chainguard":
		if p.SourceName != "" {
			name = p.SourceName
		}
	case "Go":
		if p.GoStdlib || name == "stdlib" {
			version = strings.TrimPrefix(version, "go")
			// Strip experiment suffixes ("1.22.1 X:boringcrypto").
			version, _, _ = strings.Cut(version, " ")
		}
	}
	return name, version
}

// Packages matches every package that has an ecosystem against src.
// Packages in ecosystems src has no data for are listed in missing.
func Packages(src Source, pkgs []inventory.Package) (matches []Match, missing []string, err error) {
	type key struct{ eco, name, version string }
	seenMissing := map[string]bool{}
	cache := map[key][]Match{}
	for i := range pkgs {
		p := &pkgs[i]
		if p.Ecosystem == "" || p.Version == "" {
			continue
		}
		if !src.Has(p.Ecosystem) {
			base := inventory.EcosystemBase(p.Ecosystem, p.Type)
			if !seenMissing[base] {
				seenMissing[base] = true
				missing = append(missing, base)
			}
			continue
		}
		name, version := Query(p)
		k := key{p.Ecosystem, name, version}
		ms, ok := cache[k]
		if !ok {
			recs, err := src.Lookup(p.Ecosystem, name)
			if err != nil {
				return nil, nil, fmt.Errorf("package %s %s: %w", name, version, err)
			}
			ms = matchRecords(recs, p.Ecosystem, name, version)
			cache[k] = ms
		}
		for _, m := range ms {
			m.Package = i
			matches = append(matches, m)
		}
	}
	slices.Sort(missing)
	return matches, missing, nil
}

// matchRecords returns the merged matches of the records affecting
// (eco, name) at version.
func matchRecords(recs []*osv.Record, eco, name, version string) []Match {
	var hits []*osv.Record
	fixed := map[string][]string{}
	for _, r := range recs {
		if r.Withdrawn != "" {
			continue
		}
		aff := false
		for _, a := range r.Affected {
			if osv.NormalizeEcosystem(a.Package.Ecosystem) != osv.NormalizeEcosystem(eco) ||
				osv.NormalizeName(eco, a.Package.Name) != osv.NormalizeName(eco, name) {
				continue
			}
			ok, fx := Affects(&a, eco, version)
			if ok {
				aff = true
				fixed[r.ID] = append(fixed[r.ID], fx...)
			}
		}
		if aff {
			hits = append(hits, r)
		}
	}
	return merge(hits, fixed, eco, name, version)
}

// merge groups records that share an id or alias.
func merge(hits []*osv.Record, fixed map[string][]string, eco, name, version string) []Match {
	var groups [][]*osv.Record
	idGroup := map[string]int{}
	for _, r := range hits {
		g := -1
		for _, id := range r.AllIDs() {
			if j, ok := idGroup[id]; ok {
				g = j
				break
			}
		}
		if g < 0 {
			g = len(groups)
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], r)
		for _, id := range r.AllIDs() {
			idGroup[id] = g
		}
	}
	var out []Match
	for _, g := range groups {
		slices.SortFunc(g, func(a, b *osv.Record) int { return strings.Compare(idRank(a.ID)+a.ID, idRank(b.ID)+b.ID) })
		m := Match{ID: g[0].ID, Records: g, QueryName: name, QueryVersion: version}
		seen := map[string]bool{m.ID: true}
		var fx []string
		for _, r := range g {
			for _, id := range r.AllIDs() {
				if !seen[id] {
					seen[id] = true
					m.Aliases = append(m.Aliases, id)
				}
			}
			fx = append(fx, fixed[r.ID]...)
		}
		slices.Sort(m.Aliases)
		m.Fixed = sortVersions(eco, fx)
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b Match) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// idRank prefers ecosystem advisories (GO-, DSA, GHSA) over bare CVEs as
// the primary id.
func idRank(id string) string {
	if strings.HasPrefix(id, "CVE-") {
		return "1"
	}
	return "0"
}

func sortVersions(eco string, vs []string) []string {
	slices.Sort(vs)
	vs = slices.Compact(vs)
	slices.SortStableFunc(vs, func(a, b string) int { return compare(eco, "", a, b) })
	return vs
}

// compare orders two versions of an ecosystem; rangeType SEMVER forces
// semver ordering. Unparsable versions compare as strings.
func compare(eco, rangeType, a, b string) int {
	if a == b {
		return 0
	}
	var va semantic.Version
	var err error
	if rangeType == "SEMVER" {
		va = semantic.ParseSemverVersion(a)
	} else {
		va, err = semantic.Parse(a, eco)
	}
	if err == nil {
		var c int
		if rangeType == "SEMVER" {
			c, err = va.Compare(semantic.ParseSemverVersion(b))
		} else {
			c, err = va.CompareStr(b)
		}
		if err == nil {
			return c
		}
	}
	return strings.Compare(a, b)
}

// Affects reports whether version of the package is affected by a, and the
// fixed versions above it.
func Affects(a *osv.Affected, eco, version string) (bool, []string) {
	affected := slices.Contains(a.Versions, version)
	var fixed []string
	for _, r := range a.Ranges {
		if r.Type != "SEMVER" && r.Type != "ECOSYSTEM" {
			continue // GIT ranges name commits, not versions
		}
		in, fx := inRange(eco, r, version)
		if in {
			affected = true
			fixed = append(fixed, fx...)
		}
	}
	return affected, fixed
}

// inRange evaluates one range's events in version order (OSV spec).
func inRange(eco string, r osv.Range, version string) (bool, []string) {
	type ev struct {
		kind byte // i, f, l, m(limit)
		v    string
	}
	var evs []ev
	var limits []string
	for _, e := range r.Events {
		switch {
		case e.Introduced != "":
			evs = append(evs, ev{'i', e.Introduced})
		case e.Fixed != "":
			evs = append(evs, ev{'f', e.Fixed})
		case e.LastAffected != "":
			evs = append(evs, ev{'l', e.LastAffected})
		case e.Limit != "":
			limits = append(limits, e.Limit)
		}
	}
	cmp := func(a, b string) int {
		if a == b {
			return 0
		}
		if a == "0" {
			return -1
		}
		if b == "0" {
			return 1
		}
		return compare(eco, r.Type, a, b)
	}
	slices.SortStableFunc(evs, func(a, b ev) int { return cmp(a.v, b.v) })
	affected := false
	var fixed []string
	for _, e := range evs {
		c := cmp(version, e.v)
		switch e.kind {
		case 'i':
			if c >= 0 {
				affected = true
			}
		case 'f':
			if c >= 0 {
				affected = false
			}
		case 'l':
			if c > 0 {
				affected = false
			}
		}
	}
	if affected {
		for _, l := range limits {
			if l != "*" && cmp(version, l) >= 0 {
				return false, nil
			}
		}
		for _, e := range evs {
			if e.kind == 'f' && cmp(version, e.v) < 0 {
				fixed = append(fixed, e.v)
				break // the first fix above the version closes its range
			}
		}
	}
	return affected, fixed
}
