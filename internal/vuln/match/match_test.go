package match

import (
	"slices"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/inventory"
	"github.com/shipshape-dev/shipshape/internal/vuln/osv"
)

func rng(typ string, evs ...osv.Event) osv.Range { return osv.Range{Type: typ, Events: evs} }

func TestAffects(t *testing.T) {
	intro := func(v string) osv.Event { return osv.Event{Introduced: v} }
	fixed := func(v string) osv.Event { return osv.Event{Fixed: v} }
	last := func(v string) osv.Event { return osv.Event{LastAffected: v} }
	limit := func(v string) osv.Event { return osv.Event{Limit: v} }
	cases := []struct {
		name      string
		eco       string
		aff       osv.Affected
		version   string
		want      bool
		wantFixed []string
	}{
		{"semver inside", "Go", osv.Affected{Ranges: []osv.Range{rng("SEMVER", intro("0"), fixed("0.3.8"))}}, "0.3.7", true, []string{"0.3.8"}},
		{"semver at fix", "Go", osv.Affected{Ranges: []osv.Range{rng("SEMVER", intro("0"), fixed("0.3.8"))}}, "0.3.8", false, nil},
		{"semver two ranges, second", "Go", osv.Affected{Ranges: []osv.Range{rng("SEMVER", intro("0"), fixed("1.2.0"), intro("1.3.0"), fixed("1.3.4"))}}, "1.3.1", true, []string{"1.3.4"}},
		{"semver between ranges", "Go", osv.Affected{Ranges: []osv.Range{rng("SEMVER", intro("0"), fixed("1.2.0"), intro("1.3.0"), fixed("1.3.4"))}}, "1.2.5", false, nil},
		{"events out of order", "npm", osv.Affected{Ranges: []osv.Range{rng("SEMVER", fixed("2.0.0"), intro("1.0.0"))}}, "1.5.0", true, []string{"2.0.0"}},
		{"semver prerelease below fix", "npm", osv.Affected{Ranges: []osv.Range{rng("SEMVER", intro("0"), fixed("2.0.0"))}}, "2.0.0-rc.1", true, []string{"2.0.0"}},
		{"last_affected inclusive", "PyPI", osv.Affected{Ranges: []osv.Range{rng("ECOSYSTEM", intro("1.0"), last("1.4"))}}, "1.4", true, nil},
		{"last_affected above", "PyPI", osv.Affected{Ranges: []osv.Range{rng("ECOSYSTEM", intro("1.0"), last("1.4"))}}, "1.4.post1", false, nil},
		{"pep440 prerelease", "PyPI", osv.Affected{Ranges: []osv.Range{rng("ECOSYSTEM", intro("0"), fixed("2.0"))}}, "2.0rc1", true, []string{"2.0"}},
		{"limit", "Go", osv.Affected{Ranges: []osv.Range{rng("SEMVER", intro("1.0.0"), limit("1.5.0"))}}, "1.6.0", false, nil},
		{"versions list", "PyPI", osv.Affected{Versions: []string{"1.0", "1.1"}}, "1.1", true, nil},
		{"versions list miss", "PyPI", osv.Affected{Versions: []string{"1.0", "1.1"}}, "1.2", false, nil},
		{"git ranges ignored", "Go", osv.Affected{Ranges: []osv.Range{rng("GIT", intro("0"), fixed("abc"))}}, "1.0.0", false, nil},
		{"debian epoch", "Debian:12", osv.Affected{Ranges: []osv.Range{rng("ECOSYSTEM", intro("0"), fixed("1:2.0-1"))}}, "2.5-1", true, []string{"1:2.0-1"}},
		{"debian epoch fixed", "Debian:12", osv.Affected{Ranges: []osv.Range{rng("ECOSYSTEM", intro("0"), fixed("1:2.0-1"))}}, "1:2.0-1", false, nil},
		{"debian tilde below", "Debian:12", osv.Affected{Ranges: []osv.Range{rng("ECOSYSTEM", intro("0"), fixed("3.0.11-1~deb12u2"))}}, "3.0.11-1~deb12u1", true, []string{"3.0.11-1~deb12u2"}},
		{"debian tilde sorts before release", "Debian:12", osv.Affected{Ranges: []osv.Range{rng("ECOSYSTEM", intro("0"), fixed("3.0.11-1"))}}, "3.0.11-1~deb12u2", true, []string{"3.0.11-1"}},
		{"alpine revision", "Alpine:v3.20", osv.Affected{Ranges: []osv.Range{rng("ECOSYSTEM", intro("0"), fixed("3.3.2-r1"))}}, "3.3.2-r0", true, []string{"3.3.2-r1"}},
		{"alpine letter", "Alpine:v3.20", osv.Affected{Ranges: []osv.Range{rng("ECOSYSTEM", intro("0"), fixed("1.1.1k-r0"))}}, "1.1.1l-r0", false, nil},
		{"maven qualifier", "Maven", osv.Affected{Ranges: []osv.Range{rng("ECOSYSTEM", intro("2.0"), fixed("2.17.1"))}}, "2.17.0", true, []string{"2.17.1"}},
		{"rubygems", "RubyGems", osv.Affected{Ranges: []osv.Range{rng("ECOSYSTEM", intro("0"), fixed("6.1.7.1"))}}, "6.1.7", true, []string{"6.1.7.1"}},
		{"introduced above", "Go", osv.Affected{Ranges: []osv.Range{rng("SEMVER", intro("2.0.0"), fixed("2.1.0"))}}, "1.9.0", false, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, fx := Affects(&c.aff, c.eco, c.version)
			if got != c.want || !slices.Equal(fx, c.wantFixed) {
				t.Errorf("Affects(%s %s) = %v %v, want %v %v", c.eco, c.version, got, fx, c.want, c.wantFixed)
			}
		})
	}
}

type fakeSource map[string][]*osv.Record

func (f fakeSource) Lookup(eco, name string) ([]*osv.Record, error) { return f[eco+"/"+name], nil }
func (f fakeSource) Has(eco string) bool                            { return osv.BaseEcosystem(eco) != "npm" }

func TestPackagesMergesAliasesAndUsesSourcePackages(t *testing.T) {
	deb := func(id string, aliases ...string) *osv.Record {
		return &osv.Record{ID: id, Aliases: aliases, Affected: []osv.Affected{{
			Package: osv.Package{Ecosystem: "Debian:12", Name: "openssl"},
			Ranges:  []osv.Range{rng("ECOSYSTEM", osv.Event{Introduced: "0"}, osv.Event{Fixed: "3.0.13-1~deb12u1"})},
		}}}
	}
	src := fakeSource{"Debian:12/openssl": {deb("CVE-2024-0727"), deb("DSA-5678-1", "CVE-2024-0727"), deb("DLA-1-1")}}
	pkgs := []inventory.Package{
		{Name: "libssl3", Version: "3.0.11-1~deb12u2", SourceName: "openssl", SourceVersion: "3.0.11-1~deb12u2", Ecosystem: "Debian:12", Type: "deb"},
		{Name: "left-pad", Version: "1.0.0", Ecosystem: "npm", Type: "npm"},
	}
	ms, missing, err := Packages(src, pkgs)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(missing, []string{"npm"}) {
		t.Errorf("missing = %v", missing)
	}
	if len(ms) != 2 {
		t.Fatalf("matches = %+v, want DSA-5678-1 (with CVE-2024-0727) and DLA-1-1", ms)
	}
	if ms[1].ID != "DSA-5678-1" || !slices.Equal(ms[1].Aliases, []string{"CVE-2024-0727"}) || len(ms[1].Records) != 2 {
		t.Errorf("merged = %s %v (%d records)", ms[1].ID, ms[1].Aliases, len(ms[1].Records))
	}
	if ms[0].QueryName != "openssl" || !slices.Equal(ms[0].Fixed, []string{"3.0.13-1~deb12u1"}) {
		t.Errorf("query %s, fixed %v", ms[0].QueryName, ms[0].Fixed)
	}
}

func TestQueryGoStdlib(t *testing.T) {
	n, v := Query(&inventory.Package{Name: "stdlib", Version: "go1.22.1 X:boringcrypto", Ecosystem: "Go", GoStdlib: true})
	if n != "stdlib" || v != "1.22.1" {
		t.Errorf("Query = %s %s", n, v)
	}
}

func TestGoStdlibByToolchain(t *testing.T) {
	std := &osv.Record{ID: "GO-2024-2598", Affected: []osv.Affected{{
		Package: osv.Package{Ecosystem: "Go", Name: "stdlib"},
		Ranges: []osv.Range{{Type: "SEMVER", Events: []osv.Event{
			{Introduced: "0"}, {Fixed: "1.21.8"}, {Introduced: "1.22.0-0"}, {Fixed: "1.22.1"},
		}}},
	}}}
	src := fakeSource{"Go/stdlib": {std}}
	for _, c := range []struct {
		version string
		fixed   string
	}{
		{"go1.21.7", "1.21.8"},
		{"1.22.0", "1.22.1"},
		{"1.22.1", ""},
		{"1.21.8", ""},
	} {
		ms, _, err := Packages(src, []inventory.Package{{Name: "stdlib", Version: c.version, Ecosystem: "Go", GoStdlib: true}})
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case c.fixed == "" && len(ms) != 0:
			t.Errorf("stdlib %s matched %v", c.version, ms)
		case c.fixed != "" && (len(ms) != 1 || !slices.Equal(ms[0].Fixed, []string{c.fixed})):
			t.Errorf("stdlib %s: %+v, want fixed %s", c.version, ms, c.fixed)
		}
	}
}

func TestRedHatByMajorRelease(t *testing.T) {
	rec := &osv.Record{ID: "RHSA-2024:0001", Affected: []osv.Affected{{
		Package: osv.Package{Ecosystem: "Red Hat:enterprise_linux:9::baseos", Name: "openssl"},
		Ranges:  []osv.Range{rng("ECOSYSTEM", osv.Event{Introduced: "0"}, osv.Event{Fixed: "1:3.0.7-25.el9_3"})},
	}}}
	src := fakeSource{"Red Hat:enterprise_linux:9/openssl": {rec}}
	pkgs := []inventory.Package{
		{Name: "openssl", Version: "1:3.0.7-24.el9", Ecosystem: "Red Hat:enterprise_linux:9", Type: "rpm"},
		{Name: "openssl", Version: "1:3.0.7-27.el9", Ecosystem: "Red Hat:enterprise_linux:9", Type: "rpm"},
	}
	ms, _, err := Packages(src, pkgs)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || ms[0].Package != 0 || !slices.Equal(ms[0].Fixed, []string{"1:3.0.7-25.el9_3"}) {
		t.Errorf("matches = %+v, want only the older openssl, fixed in 1:3.0.7-25.el9_3", ms)
	}
}
