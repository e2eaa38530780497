package pending

import (
	"strings"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/facts"
	"github.com/shipshape-dev/shipshape/internal/pkgdb"
)

func TestRelease(t *testing.T) {
	dpkg := []*facts.Database{{Kind: "dpkg", Packages: []pkgdb.Package{{Name: "libc6", Version: "1"}}}}
	apk := []*facts.Database{{Kind: "apk"}}
	tests := []struct {
		name                  string
		sys                   *facts.System
		distro, rel, whyMatch string
	}{
		{"debian codename", &facts.System{Databases: dpkg, Release: &facts.Release{ID: "debian", VersionID: "12", VersionCodename: "bookworm"}}, "debian", "bookworm", ""},
		{"debian number only", &facts.System{Databases: dpkg, Release: &facts.Release{ID: "debian", VersionID: "11"}}, "debian", "bullseye", ""},
		{"sid", &facts.System{Databases: dpkg, Release: &facts.Release{ID: "debian"}}, "debian", "", "no stable archive"},
		{"ubuntu", &facts.System{Databases: dpkg, Release: &facts.Release{ID: "ubuntu", VersionID: "24.04", VersionCodename: "noble"}}, "ubuntu", "noble", ""},
		{"alpine", &facts.System{Databases: apk, Release: &facts.Release{ID: "alpine", VersionID: "3.20.3"}}, "alpine", "v3.20", ""},
		{"alpine edge", &facts.System{Databases: apk, Release: &facts.Release{ID: "alpine", VersionID: "3.21_alpha20240807"}}, "alpine", "", "edge"},
		{"rhel", &facts.System{Databases: dpkg, Release: &facts.Release{ID: "rhel", VersionID: "9.4"}}, "rhel", "", "keeps no archive data for rhel"},
		{"no os-release", &facts.System{Databases: dpkg}, "", "", "no os-release"},
		{"no database", &facts.System{Release: &facts.Release{ID: "debian"}}, "", "", "no dpkg or apk"},
		{"database not read", &facts.System{Databases: []*facts.Database{{Kind: "dpkg", Path: pkgdb.DpkgStatus, Err: "more than 50000 packages"}}, Release: &facts.Release{ID: "debian", VersionID: "12"}}, "", "", "could not be read: more than 50000 packages"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, r, _, why := release(tt.sys)
			if d != tt.distro || r != tt.rel || (tt.whyMatch == "") != (why == "") || (tt.whyMatch != "" && !strings.Contains(why, tt.whyMatch)) {
				t.Errorf("release = %q %q %q; want %q %q %q", d, r, why, tt.distro, tt.rel, tt.whyMatch)
			}
		})
	}
}

func TestCompare(t *testing.T) {
	for _, tt := range []struct {
		eco, a, b string
		want      int
	}{
		{"Debian", "2.36-9+deb12u10", "2.36-9+deb12u9", 1},
		{"Debian", "1:1.0-1", "2.0-1", 1},
		{"Debian", "1.0~rc1-1", "1.0-1", -1},
		{"Alpine", "1.2.5-r10", "1.2.5-r9", 1},
		{"Alpine", "1.36.1-r29", "1.36.1-r29", 0},
	} {
		if got := compare(tt.eco, tt.a, tt.b); got != tt.want {
			t.Errorf("compare(%s, %s, %s) = %d, want %d", tt.eco, tt.a, tt.b, got, tt.want)
		}
	}
}

// TestRPMNotCompared: an image whose packages are in an rpm database has
// packages whose updates shipshape cannot tell: the check does not run,
// saying why, rather than find nothing to judge.
func TestRPMNotCompared(t *testing.T) {
	a := &Analyzer{}
	rocky := &facts.Release{ID: "rocky", VersionID: "9.3"}
	for _, tt := range []struct {
		name, status, why string
		sys               *facts.System
	}{
		{"rpm", "not-run", "the rpm database /var/lib/rpm/rpmdb.sqlite is not compared with an archive", &facts.System{Release: rocky, RPMDatabase: "/var/lib/rpm/rpmdb.sqlite"}},
		{"no database", "not-applicable", "no dpkg or apk", &facts.System{Release: rocky}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sp, _ := a.systemPackages(&analyze.Input{System: tt.sys})
			if sp.Status != tt.status || !strings.Contains(sp.Reason, tt.why) {
				t.Errorf("check %+v, want %s: %q", sp.Check, tt.status, tt.why)
			}
		})
	}
}
