package freshness

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/inventory"
	"github.com/shipshape-dev/shipshape/internal/policy"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
	"github.com/shipshape-dev/shipshape/internal/upstream"
)

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

var now = day("2026-11-30")

func rel(v, d string) upstream.Release {
	r := upstream.Release{Version: v}
	if d != "" {
		r.Time = day(d)
	}
	return r
}

// testStore holds registry data for the inventory below.
func testStore(t *testing.T) *upstream.Store {
	t.Helper()
	st := upstream.NewStore(t.TempDir())
	fetched := day("2026-11-29")
	goData := map[string]*upstream.Info{
		"golang.org/x/text": {Ecosystem: upstream.Go, Name: "golang.org/x/text", FetchedAt: fetched, Latest: "v0.44.0",
			Releases: []upstream.Release{rel("v0.3.7", "2021-08-10"), rel("v0.3.8", ""), rel("v0.4.0", ""), rel("v0.44.0", "2026-11-09")}},
		"gopkg.in/yaml.v2": {Ecosystem: upstream.Go, Name: "gopkg.in/yaml.v2", FetchedAt: fetched,
			Releases: []upstream.Release{rel("v2.4.0", "2020-11-17")}},
		"example.com/old": {Ecosystem: upstream.Go, Name: "example.com/old", FetchedAt: fetched, Deprecated: "use example.com/new instead.",
			Releases: []upstream.Release{{Version: "v1.1.0", Time: day("2023-06-01"), Yanked: true, YankedReason: "retracted: corrupts data"}, rel("v1.2.0", "2024-01-10")}},
		"corp.example/lib": {Ecosystem: upstream.Go, Name: "corp.example/lib", FetchedAt: fetched, Skipped: "private module (GOPRIVATE/GONOPROXY): not asked of any proxy"},
	}
	npmData := map[string]*upstream.Info{
		"@acme/widget": {Ecosystem: upstream.Npm, Name: "@acme/widget", FetchedAt: fetched, Latest: "3.1.0",
			Releases: []upstream.Release{rel("1.4.2", "2021-02-01"), rel("1.5.0", "2021-06-01"), rel("2.0.0", "2022-03-01"), rel("3.1.0", "2024-02-01"), {Version: "4.0.0-beta.1", Prerelease: true}}},
	}
	if err := st.Save(upstream.Go, goData); err != nil {
		t.Fatal(err)
	}
	if err := st.Save(upstream.Npm, npmData); err != nil {
		t.Fatal(err)
	}
	return st
}

func pkg(eco, typ, name, version string) inventory.Package {
	return inventory.Package{Ecosystem: eco, Type: typ, Name: name, Version: version, Locations: []string{"/app/" + name}, Layer: 1}
}

func testInventory() *inventory.Inventory {
	return &inventory.Inventory{Packages: []inventory.Package{
		{Ecosystem: "Debian:12", Type: "deb", Name: "libc6", Version: "2.36-9"},
		{Ecosystem: "Go", Type: "golang", Name: "stdlib", Version: "1.22.0", GoStdlib: true},
		{Ecosystem: "Go", Type: "golang", Name: "example.com/app", Version: "(devel)"},
		pkg("Go", "golang", "golang.org/x/text", "0.3.7"),
		pkg("Go", "golang", "gopkg.in/yaml.v2", "2.4.0"),
		pkg("Go", "golang", "example.com/old", "1.1.0"),
		pkg("Go", "golang", "corp.example/lib", "1.0.0"),
		pkg("npm", "npm", "@acme/widget", "1.4.2"),
		pkg("PyPI", "pypi", "requests", "2.32.0"),
		{Ecosystem: "npm", Type: "npm", Name: "declared-only", Version: "1.0.0", Declared: true},
	}}
}

func input() *analyze.Input {
	return &analyze.Input{Image: &image.Image{Reference: "docker-archive:app.tar"}}
}

func judgeIt(t *testing.T, j *Judge, inv *inventory.Inventory) (*analyze.Output, scorecard.PracticeResult) {
	t.Helper()
	base := inventory.Coverage(inv, false)
	out, err := j.JudgeFreshness(context.Background(), input(), inv, base)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range scorecard.Evaluate(out.Findings, out.Coverage) {
		if r.ID == scorecard.P4 {
			return out, r
		}
	}
	t.Fatal("no P4")
	return nil, scorecard.PracticeResult{}
}

func TestNoDataIsNotRunWithTheCommand(t *testing.T) {
	j := &Judge{Store: upstream.NewStore(t.TempDir()), Policy: policy.DefaultDependencies, Now: func() time.Time { return now }}
	_, r := judgeIt(t, j, testInventory())
	if r.Status != scorecard.NotRun || !strings.Contains(r.Reason, "`shipshape db update --for docker-archive:app.tar`") {
		t.Errorf("P4 = %+v", r)
	}
	// Only OS packages: nothing for a registry to judge, and no pass.
	_, r = judgeIt(t, j, &inventory.Inventory{Packages: testInventory().Packages[:1]})
	if r.Status != scorecard.NotRun || !strings.Contains(r.Reason, "no language packages") {
		t.Errorf("OS only: P4 = %+v", r)
	}
	// Nothing found, but a jar was not read: "none" is not said.
	_, r = judgeIt(t, j, &inventory.Inventory{Packages: testInventory().Packages[:1], Errors: []string{"/app/x.jar: java/archive: more than 524288 entries: larger than the limit for an archive, not read"}})
	if r.Status != scorecard.NotRun || !strings.Contains(r.Reason, "no language packages found to judge in the package files read, but not every one could be read (sections.packages.errors)") {
		t.Errorf("a jar not read: P4 = %+v", r)
	}
	// How many were not read is said once on the line, by the inventory.
	if line := r.Reason + "; " + r.Summary; strings.Count(line, "could not be read") != 1 || !strings.Contains(line, "1 package file could not be read") {
		t.Errorf("a jar not read: P4's line says %q", line)
	}
}

func TestJudge(t *testing.T) {
	j := &Judge{Store: testStore(t), Policy: policy.DefaultDependencies, Now: func() time.Time { return now }}
	out, r := judgeIt(t, j, testInventory())
	if r.Status != scorecard.Fail {
		t.Errorf("status %s, want fail (yanked, deprecated)", r.Status)
	}
	for _, want := range []string{"Go: 3 modules, 2 behind, 5.9 libyears", "PyPI: no data (1 package)", "npm: 1 package, 1 behind, 3.0 libyears", "1 package without freshness data", "1 package not asked (private module"} {
		if !strings.Contains(r.Summary, want) {
			t.Errorf("summary %q lacks %q", r.Summary, want)
		}
	}
	sec := out.Sections[SectionName].(*Section)
	byRule := map[string][]scorecard.Finding{}
	for _, f := range out.Findings {
		byRule[f.Rule] = append(byRule[f.Rule], f)
	}
	if fs := byRule[RuleYanked]; len(fs) != 1 || fs[0].Severity != scorecard.High || fs[0].Package.Name != "example.com/old" || !strings.Contains(fs[0].Title, "retracted") || fs[0].Fix != "go get example.com/old@v1.2.0 && go mod tidy" {
		t.Errorf("yanked: %+v", fs)
	}
	if fs := byRule[RuleDeprecated]; len(fs) != 1 || !strings.Contains(fs[0].Title, "use example.com/new") {
		t.Errorf("deprecated: %+v", fs)
	}
	// Two majors behind, but nothing says the npm package is direct: warns.
	if fs := byRule[RuleMajors]; len(fs) != 1 || fs[0].Severity != scorecard.Medium || fs[0].Evidence["direct"] != "unknown" || fs[0].Fix != "npm install @acme/widget@1.5.0" {
		t.Errorf("majors: %+v", fs)
	}
	behind := byRule[RuleBehind]
	if len(behind) != 2 || behind[0].Fix != "go get golang.org/x/text@v0.44.0 example.com/old@v1.2.0 && go mod tidy" && behind[0].Fix != "go get example.com/old@v1.2.0 golang.org/x/text@v0.44.0 && go mod tidy" {
		t.Errorf("behind: %+v", behind)
	}
	if fs := byRule[RuleLibyears]; len(fs) != 1 || fs[0].Severity != scorecard.Medium {
		t.Errorf("libyears: %+v", fs)
	}
	var text *Dependency
	for i := range sec.Dependencies {
		if sec.Dependencies[i].Name == "golang.org/x/text" {
			text = &sec.Dependencies[i]
		}
	}
	if text == nil || text.Installed != "v0.3.7" || text.Latest != "v0.44.0" || text.ReleasesBehind != 3 || text.Libyears == nil || *text.Libyears != 5.25 {
		t.Errorf("x/text: %+v", text)
	}
	if len(sec.Dependencies) != 6 {
		t.Errorf("dependencies: %d, want 6 (no stdlib, main module, OS or declared-only packages)", len(sec.Dependencies))
	}
	if sec.Libyears != 8.86 {
		t.Errorf("libyears %v", sec.Libyears)
	}
}

func TestPolicyThresholds(t *testing.T) {
	j := &Judge{Store: testStore(t), Now: func() time.Time { return now },
		Policy: policy.Dependencies{FailOnYanked: false, FailOnDeprecated: false, MaxMajorsBehind: 0, MaxLibyears: 0}}
	out, r := judgeIt(t, j, testInventory())
	if r.Status != scorecard.Warn {
		t.Errorf("status %s, want warn", r.Status)
	}
	for _, f := range out.Findings {
		if f.Rule == RuleMajors || f.Rule == RuleLibyears {
			t.Errorf("threshold 0 still reports %s", f.Rule)
		}
		if (f.Rule == RuleYanked || f.Rule == RuleDeprecated) && f.Severity != scorecard.Medium {
			t.Errorf("%s: %s", f.Rule, f.Severity)
		}
	}
}

func TestFixLines(t *testing.T) {
	for _, c := range []struct {
		eco  string
		want string
	}{
		{upstream.Go, "go get a@v1 b@v2 && go mod tidy"},
		{upstream.Npm, "npm install a@v1 b@v2"},
		{upstream.PyPI, "pip install 'a==v1' 'b==v2'"},
		{upstream.Crates, "cargo update -p a@v1 -p b@v2"},
		{upstream.Packagist, "composer require a:v1 b:v2"},
		{upstream.NuGet, "dotnet add package a --version v1 && dotnet add package b --version v2"},
	} {
		if got := FixLine(c.eco, [][2]string{{"a", "v1"}, {"b", "v2"}}); got != c.want {
			t.Errorf("%s: %q, want %q", c.eco, got, c.want)
		}
	}
}

// TestDamagedStore: a damaged data file makes P4 not-run, naming the file
// and the fix; the scan goes on.
func TestDamagedStore(t *testing.T) {
	st := testStore(t)
	if err := os.WriteFile(filepath.Join(st.Dir, "Go.json"), []byte(`{"version": 1, "packages": {"x": [`), 0o644); err != nil {
		t.Fatal(err)
	}
	j := &Judge{Store: st, Policy: policy.DefaultDependencies}
	_, r := judgeIt(t, j, testInventory())
	if r.Status != scorecard.NotRun || !strings.Contains(r.Reason, "Go.json") || !strings.Contains(r.Reason, "db update --for") {
		t.Errorf("P4 = %+v", r)
	}
}

// TestOldDataCannotPass: data older than MaxDataAge makes P4 warn at best.
func TestOldDataCannotPass(t *testing.T) {
	st := upstream.NewStore(t.TempDir())
	st.Save(upstream.Go, map[string]*upstream.Info{"golang.org/x/text": {Ecosystem: upstream.Go, Name: "golang.org/x/text", FetchedAt: day("2026-01-01"),
		Releases: []upstream.Release{rel("v0.3.7", "2021-08-10")}}})
	inv := &inventory.Inventory{Packages: []inventory.Package{pkg("Go", "golang", "golang.org/x/text", "0.3.7")}}
	for _, c := range []struct {
		now  time.Time
		want scorecard.Status
	}{{day("2026-01-15"), scorecard.Pass}, {day("2026-11-30"), scorecard.Warn}} {
		j := &Judge{Store: st, Policy: policy.DefaultDependencies, Now: func() time.Time { return c.now }}
		_, r := judgeIt(t, j, inv)
		if r.Status != c.want {
			t.Errorf("%v: %s (%s), want %s", c.now, r.Status, r.Summary, c.want)
		}
	}
}
