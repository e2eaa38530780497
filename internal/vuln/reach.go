package vuln

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/shipshape-dev/shipshape/internal/inventory"
	"github.com/shipshape-dev/shipshape/internal/vuln/match"
	"github.com/shipshape-dev/shipshape/internal/vuln/osv"
)

// Reachability values.
const (
	ReachableYes     = "yes"
	ReachableNo      = "no"
	ReachableUnknown = "unknown"
)

// goReach judges Go vulnerabilities against the function tables of the
// binaries holding each package, as govulncheck -mode binary does: a
// vulnerability is reachable when one of its affected symbols
// (ecosystem_specific.imports[].symbols; every function of the package
// when none are listed) is linked into the binary.
func goReach(tables map[string]*inventory.GoSymbolTable) func(*inventory.Package, *match.Match) (Reach, bool) {
	return func(p *inventory.Package, m *match.Match) (Reach, bool) {
		if p.Type != "golang" || p.Declared {
			return Reach{}, false
		}
		var imports []osv.Import
		for _, r := range m.Records {
			for _, a := range r.Affected {
				if osv.BaseEcosystem(a.Package.Ecosystem) == "Go" && a.Package.Name == m.QueryName && a.EcosystemSpecific != nil {
					imports = append(imports, a.EcosystemSpecific.Imports...)
				}
			}
		}
		if len(imports) == 0 {
			// The record names the module only: nothing to look for.
			return Reach{Reachable: ReachableUnknown}, true
		}
		var sought []string
		found := map[string][]string{} // by package path
		known := true
		for _, loc := range p.Locations {
			t := tables[loc]
			if t == nil || t.Err != "" {
				known = false
				continue
			}
			for _, im := range imports {
				if len(im.Symbols) == 0 {
					sought = append(sought, im.Path)
					if t.Has(im.Path, "") {
						found[im.Path] = append(found[im.Path], im.Path)
					}
					continue
				}
				for _, s := range im.Symbols {
					name := im.Path + "." + s
					sought = append(sought, name)
					if t.Has(im.Path, s) {
						found[im.Path] = append(found[im.Path], s)
					}
				}
			}
		}
		switch {
		case len(found) > 0:
			return Reach{Reachable: ReachableYes, Symbols: reported(found)}, true
		case known:
			slices.Sort(sought)
			return Reach{Reachable: ReachableNo, Symbols: slices.Compact(sought)}, true
		}
		return Reach{Reachable: ReachableUnknown}, true
	}
}

// reported lists the symbols found as govulncheck reports them: per
// package, the exported ones when there are any (the unexported ones are
// what they call), else the unexported ones; "path.Symbol", sorted.
func reported(found map[string][]string) []string {
	var out []string
	for path, syms := range found {
		exported := slices.ContainsFunc(syms, isExported)
		for _, s := range syms {
			if s == path {
				out = append(out, path) // every symbol of the package
			} else if !exported || isExported(s) {
				out = append(out, path+"."+s)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// isExported reports whether the last element of "T.M" or "F" is
// exported.
func isExported(sym string) bool {
	if i := strings.LastIndexByte(sym, '.'); i >= 0 {
		sym = sym[i+1:]
	}
	r, _ := utf8.DecodeRuneInString(sym)
	return unicode.IsUpper(r)
}
