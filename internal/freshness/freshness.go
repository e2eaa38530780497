// Package freshness judges P4 — up-to-date third-party dependencies — from
// the registry data internal/upstream keeps: for each language package an
// image carries, the installed version against the latest release in the
// same major and overall, how many releases and how much time (libyears)
// it is behind, and whether the registry yanked or deprecated it. It plugs
// into the inventory (inventory.FreshnessJudge), so the packages are read
// once in the layer pass.
package freshness

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/humanize"
	"github.com/shipshape-dev/shipshape/internal/inventory"
	"github.com/shipshape-dev/shipshape/internal/policy"
	"github.com/shipshape-dev/shipshape/internal/rules"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
	"github.com/shipshape-dev/shipshape/internal/upstream"
)

// Rules of P4 findings.
const (
	RuleYanked     = "SS-P4-001"
	RuleDeprecated = "SS-P4-002"
	RuleMajors     = "SS-P4-003"
	RuleBehind     = "SS-P4-004"
	RuleLibyears   = "SS-P4-005"
)

// MaxDataAge is how old registry data may be before P4 cannot pass on it:
// a month-old answer misses a month of releases and yanks.
const MaxDataAge = 30 * 24 * time.Hour

// SectionName is the report section of the freshness details ("freshness"
// is P3's system package section).
const SectionName = "dependencyFreshness"

// Judge judges the inventory's freshness.
type Judge struct {
	// Store holds the registry data.
	Store *upstream.Store
	// Updater, when set, fetches missing or stale data before judging
	// (scan --online-freshness); nil judges from the store alone.
	Updater *upstream.Updater
	// Policy gives the thresholds.
	Policy policy.Dependencies
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Dependency is one language package judged.
type Dependency struct {
	Ecosystem string `json:"ecosystem"`
	Name      string `json:"name"`
	Installed string `json:"installed"`
	PURL      string `json:"purl,omitempty"`
	// Direct is "yes", "no" or "unknown" (the image does not say: Go
	// binaries list every module of the build alike).
	Direct string `json:"direct"`
	// Status: "current", "behind", "no-data" (nothing stored: run db
	// update), "skipped" (not asked: SkipReason), "not-found" (the
	// registry lacks it: a private or renamed package).
	Status        string `json:"status"`
	SkipReason    string `json:"skipReason,omitempty"`
	LatestInMajor string `json:"latestInMajor,omitempty"`
	Latest        string `json:"latest,omitempty"`
	// ReleasesBehind counts the stable releases after Installed up to Latest.
	ReleasesBehind int `json:"releasesBehind"`
	MajorsBehind   int `json:"majorsBehind"`
	// Libyears is the time between Installed's release and Latest's, in
	// years; absent when a date is unknown.
	Libyears          *float64   `json:"libyears,omitempty"`
	InstalledReleased *time.Time `json:"installedReleased,omitempty"`
	LatestReleased    *time.Time `json:"latestReleased,omitempty"`
	Yanked            bool       `json:"yanked,omitempty"`
	YankedReason      string     `json:"yankedReason,omitempty"`
	YankedInferred    bool       `json:"yankedInferred,omitempty"`
	Deprecated        string     `json:"deprecated,omitempty"`
	Locations         []string   `json:"locations"`
	Layer             int        `json:"layer,omitempty"`
	// FetchedAt is when the registry was asked.
	FetchedAt *time.Time `json:"fetchedAt,omitempty"`
}

// Ecosystem sums up one ecosystem.
type Ecosystem struct {
	Ecosystem string `json:"ecosystem"`
	// Packages judged (with data); Behind of them; Libyears summed.
	Packages int     `json:"packages"`
	Behind   int     `json:"behind"`
	Libyears float64 `json:"libyears"`
	NoData   int     `json:"noData,omitempty"`
	Skipped  int     `json:"skipped,omitempty"`
	NotFound int     `json:"notFound,omitempty"`
	// Fix upgrades every package behind to its latest release in the
	// same major (one command).
	Fix string `json:"fix,omitempty"`
}

// Section is the report section "dependencyFreshness".
type Section struct {
	Ecosystems   []Ecosystem  `json:"ecosystems"`
	Dependencies []Dependency `json:"dependencies"`
	// Libyears is the sum over every dependency.
	Libyears float64 `json:"libyears"`
	// OldestData is when the oldest registry answer used was fetched.
	OldestData *time.Time `json:"oldestData,omitempty"`
	// Thresholds are the policy's.
	Thresholds policy.Dependencies `json:"thresholds"`
	// Updated reports a fetch during the scan (--online-freshness).
	Updated []upstream.Result `json:"updated,omitempty"`
}

// ecosystemOf maps an inventory package to a registry ecosystem ("" for
// those no registry judges: OS packages, Go's standard library, the main
// module of a Go binary, declared-only lock file entries).
func ecosystemOf(p *inventory.Package) string {
	if p.GoStdlib || p.Declared || !p.InFinal() {
		return ""
	}
	eco := inventory.EcosystemBase(p.Ecosystem, p.Type)
	if !slices.Contains(upstream.Ecosystems, eco) {
		return ""
	}
	if eco == upstream.Go && (p.Version == "" || p.Version == "(devel)") {
		return ""
	}
	return eco
}

// installed is a package's version as its registry writes it.
func installed(eco, v string) string {
	if eco == upstream.Go {
		return upstream.GoVersion(v)
	}
	return v
}

// Wants lists the registry requests an inventory needs.
func Wants(inv *inventory.Inventory) []upstream.Want {
	var out []upstream.Want
	for i := range inv.Packages {
		p := &inv.Packages[i]
		eco := ecosystemOf(p)
		if eco == "" || p.Version == "" {
			continue
		}
		out = append(out, upstream.Want{Ecosystem: eco, Name: p.Name, Versions: []string{installed(eco, p.Version)}})
	}
	return out
}

// Command is what fetches the data P4 needs, for an image reference.
func Command(ref string) string {
	if ref == "" {
		ref = "IMAGE"
	}
	return "shipshape db update --for " + ref
}

// JudgeFreshness implements inventory.FreshnessJudge: base is the
// inventory's own P4 line (its summary and metrics stay as information).
func (j *Judge) JudgeFreshness(ctx context.Context, in *analyze.Input, inv *inventory.Inventory, base scorecard.Coverage) (*analyze.Output, error) {
	now := time.Now
	if j.Now != nil {
		now = j.Now
	}
	ref := ""
	if in.Image != nil {
		ref = in.Image.Reference
	}
	wants := Wants(inv)
	out := &analyze.Output{}
	if len(wants) == 0 {
		base.Reason = "no language packages to judge: P4 compares Go modules, npm, PyPI, Maven, RubyGems, crates.io, NuGet and Packagist packages with their registries (system packages are P3's)"
		if len(inv.Errors) > 0 {
			// Files not read may hold some: "none" is only what was read.
			// (How many were not read is the inventory's summary, on the
			// same line.)
			base.Reason = "no language packages found to judge in the package files read, but not every one could be read (sections.packages.errors): P4 compares Go modules, npm, PyPI, Maven, RubyGems, crates.io, NuGet and Packagist packages with their registries (system packages are P3's)"
		}
		out.Coverage = []scorecard.Coverage{base}
		return out, nil
	}
	sec := &Section{Thresholds: j.Policy}
	if j.Updater != nil {
		res, err := j.Updater.Update(ctx, wants)
		if err != nil {
			return nil, fmt.Errorf("freshness: %w", err)
		}
		sec.Updated = res
	}
	stored := map[string]map[string]*upstream.Info{}
	for _, w := range wants {
		if _, ok := stored[w.Ecosystem]; ok {
			continue
		}
		m, err := j.Store.Load(w.Ecosystem)
		if err != nil {
			// A damaged file costs P4, not the scan.
			base.Reason = fmt.Sprintf("freshness data unreadable: %v", err)
			out.Coverage = []scorecard.Coverage{base}
			return out, nil
		}
		stored[w.Ecosystem] = m
	}
	sec.Dependencies = dependencies(inv, stored)
	withData := 0
	for _, d := range sec.Dependencies {
		if d.Status == "current" || d.Status == "behind" {
			withData++
		}
	}
	if withData == 0 {
		base.Reason = fmt.Sprintf("no freshness data for the image's %s: run `%s` (it asks each package's registry and keeps the answers beside the vulnerability database; `scan --online-freshness` does both at once)",
			humanize.Count(len(sec.Dependencies), "language package"), Command(ref))
		if skipped := countStatus(sec.Dependencies, "skipped"); skipped > 0 {
			base.Reason += fmt.Sprintf("; %d not asked: %s", skipped, firstSkip(sec.Dependencies))
		}
		out.Coverage = []scorecard.Coverage{base}
		out.Sections = map[string]any{SectionName: sec}
		return out, nil
	}
	out.Findings = j.findings(in, sec)
	sec.Ecosystems = summarize(sec.Dependencies)
	for _, e := range sec.Ecosystems {
		sec.Libyears += e.Libyears
	}
	sec.Libyears = round2(sec.Libyears)
	for _, d := range sec.Dependencies {
		if d.FetchedAt != nil && (sec.OldestData == nil || d.FetchedAt.Before(*sec.OldestData)) {
			t := *d.FetchedAt
			sec.OldestData = &t
		}
	}
	out.Findings = append(out.Findings, j.summaryFindings(sec)...)
	cov := scorecard.Coverage{Practice: scorecard.P4, Ran: true, FailAt: scorecard.High, WarnAt: scorecard.Medium}
	var parts []string
	for _, e := range sec.Ecosystems {
		if e.Packages == 0 {
			parts = append(parts, fmt.Sprintf("%s: no data (%s)", e.Ecosystem, humanize.Count(e.NoData+e.Skipped+e.NotFound, unit(e.Ecosystem))))
			continue
		}
		parts = append(parts, fmt.Sprintf("%s: %s, %d behind, %.1f libyears", e.Ecosystem, humanize.Count(e.Packages, unit(e.Ecosystem)), e.Behind, e.Libyears))
	}
	cov.Summary = strings.Join(parts, "; ")
	if sec.OldestData != nil {
		cov.Summary += fmt.Sprintf(" (registry data of %s)", sec.OldestData.Format(time.DateOnly))
	}
	if base.Summary != "" {
		cov.Summary += "; " + base.Summary
	}
	cov.Metrics = map[string]any{"libyears": sec.Libyears, "dependencies": withData, "dependenciesBehind": countStatus(sec.Dependencies, "behind")}
	for k, v := range base.Metrics {
		cov.Metrics[k] = v
	}
	if sec.OldestData != nil {
		cov.Metrics["freshnessDataAgeDays"] = int(now().Sub(*sec.OldestData).Hours() / 24)
	}
	var partial []string
	if n := countStatus(sec.Dependencies, "no-data"); n > 0 {
		partial = append(partial, fmt.Sprintf("%s without freshness data (run `%s`)", humanize.Count(n, "package"), Command(ref)))
	}
	if n := countStatus(sec.Dependencies, "skipped"); n > 0 {
		partial = append(partial, fmt.Sprintf("%s not asked (%s)", humanize.Count(n, "package"), firstSkip(sec.Dependencies)))
	}
	if n := countStatus(sec.Dependencies, "not-found"); n > 0 {
		partial = append(partial, fmt.Sprintf("%s unknown to the registry", humanize.Count(n, "package")))
	}
	if sec.OldestData != nil && now().Sub(*sec.OldestData) > MaxDataAge {
		partial = append(partial, fmt.Sprintf("registry data from %s is older than %d days (run `%s`)", sec.OldestData.Format(time.DateOnly), int(MaxDataAge.Hours()/24), Command(ref)))
	}
	cov.Partial = strings.Join(partial, "; ")
	out.Coverage = []scorecard.Coverage{cov}
	out.Sections = map[string]any{SectionName: sec}
	return out, nil
}

func unit(eco string) string {
	if eco == upstream.Go {
		return "module"
	}
	return "package"
}

func countStatus(ds []Dependency, s string) int {
	n := 0
	for _, d := range ds {
		if d.Status == s {
			n++
		}
	}
	return n
}

func firstSkip(ds []Dependency) string {
	for _, d := range ds {
		if d.SkipReason != "" {
			return d.SkipReason
		}
	}
	return ""
}

// dependencies judges every package (one entry per ecosystem, name and
// version, with all its locations).
func dependencies(inv *inventory.Inventory, stored map[string]map[string]*upstream.Info) []Dependency {
	byKey := map[string]*Dependency{}
	var order []string
	for i := range inv.Packages {
		p := &inv.Packages[i]
		eco := ecosystemOf(p)
		if eco == "" || p.Version == "" {
			continue
		}
		v := installed(eco, p.Version)
		k := eco + "\x00" + p.Name + "\x00" + v
		if d, ok := byKey[k]; ok {
			for _, l := range p.Locations {
				if !slices.Contains(d.Locations, l) {
					d.Locations = append(d.Locations, l)
				}
			}
			continue
		}
		d := &Dependency{Ecosystem: eco, Name: p.Name, Installed: v, PURL: p.PURL, Direct: "unknown", Locations: slices.Clone(p.Locations), Layer: p.Layer}
		judge(d, stored[eco][p.Name])
		byKey[k] = d
		order = append(order, k)
	}
	out := make([]Dependency, 0, len(order))
	for _, k := range order {
		out = append(out, *byKey[k])
	}
	slices.SortFunc(out, func(a, b Dependency) int {
		return cmp.Or(cmp.Compare(a.Ecosystem, b.Ecosystem), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Installed, b.Installed))
	})
	return out
}

// judge fills a dependency from its registry data.
func judge(d *Dependency, info *upstream.Info) {
	switch {
	case info == nil:
		d.Status = "no-data"
		return
	case info.Skipped != "":
		d.Status, d.SkipReason = "skipped", info.Skipped
		return
	case info.NotFound:
		d.Status = "not-found"
		t := info.FetchedAt
		d.FetchedAt = &t
		return
	}
	t := info.FetchedAt
	d.FetchedAt = &t
	d.Latest = upstream.LatestOverall(info)
	d.LatestInMajor = upstream.LatestInMajor(info, d.Installed)
	d.Deprecated = info.Deprecated
	if rel := info.Release(d.Installed); rel != nil {
		d.Yanked, d.YankedReason, d.YankedInferred = rel.Yanked, rel.YankedReason, rel.YankedInferred
		if rel.Deprecated != "" {
			d.Deprecated = rel.Deprecated
		}
		if !rel.Time.IsZero() {
			rt := rel.Time
			d.InstalledReleased = &rt
		}
	}
	d.Status = "current"
	if d.Latest == "" || upstream.Compare(d.Ecosystem, d.Installed, d.Latest) >= 0 {
		if d.Latest == "" {
			d.Latest = d.Installed
		}
		zero := 0.0
		if d.InstalledReleased != nil {
			d.Libyears = &zero
		}
		return
	}
	d.Status = "behind"
	d.ReleasesBehind = upstream.Behind(info, d.Installed, d.Latest)
	if mi, ml := upstream.Major(d.Installed), upstream.Major(d.Latest); mi >= 0 && ml > mi {
		d.MajorsBehind = ml - mi
	}
	if rel := info.Release(d.Latest); rel != nil && !rel.Time.IsZero() {
		lt := rel.Time
		d.LatestReleased = &lt
		if d.InstalledReleased != nil {
			y := math.Max(0, lt.Sub(*d.InstalledReleased).Hours()/24/365.25)
			y = round2(y)
			d.Libyears = &y
		}
	}
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

// summarize sums up each ecosystem and builds its fix line.
func summarize(ds []Dependency) []Ecosystem {
	m := map[string]*Ecosystem{}
	for _, d := range ds {
		e := m[d.Ecosystem]
		if e == nil {
			e = &Ecosystem{Ecosystem: d.Ecosystem}
			m[d.Ecosystem] = e
		}
		switch d.Status {
		case "no-data":
			e.NoData++
			continue
		case "skipped":
			e.Skipped++
			continue
		case "not-found":
			e.NotFound++
			continue
		}
		e.Packages++
		if d.Status == "behind" {
			e.Behind++
		}
		if d.Libyears != nil {
			e.Libyears += *d.Libyears
		}
	}
	var out []Ecosystem
	for _, k := range slices.Sorted(maps.Keys(m)) {
		e := m[k]
		e.Libyears = round2(e.Libyears)
		e.Fix = FixLine(k, upgrades(ds, k))
		out = append(out, *e)
	}
	return out
}

// target is the version a dependency should move to: the latest release
// in its major when there is a newer one (no breaking change), else the
// latest overall.
func target(d *Dependency) string {
	if d.LatestInMajor != "" && upstream.Compare(d.Ecosystem, d.LatestInMajor, d.Installed) > 0 {
		return d.LatestInMajor
	}
	return d.Latest
}

// upgrades lists name@version pairs for the dependencies of eco behind.
func upgrades(ds []Dependency, eco string) [][2]string {
	var out [][2]string
	for i := range ds {
		d := &ds[i]
		if d.Ecosystem != eco || (d.Status != "behind" && !d.Yanked) {
			continue
		}
		if t := target(d); t != "" && t != d.Installed {
			out = append(out, [2]string{d.Name, t})
		}
	}
	return out
}

// FixLine is the one upgrade command of an ecosystem ("" when nothing is
// behind).
func FixLine(eco string, ups [][2]string) string {
	if len(ups) == 0 {
		return ""
	}
	var args []string
	for _, u := range ups {
		switch eco {
		case upstream.Go, upstream.Npm:
			args = append(args, u[0]+"@"+u[1])
		case upstream.PyPI:
			args = append(args, "'"+u[0]+"=="+u[1]+"'")
		case upstream.RubyGems:
			args = append(args, u[0]+":"+u[1])
		case upstream.Crates:
			args = append(args, u[0]+"@"+u[1])
		case upstream.Packagist:
			args = append(args, u[0]+":"+u[1])
		case upstream.Maven:
			args = append(args, u[0]+":"+u[1])
		case upstream.NuGet:
			args = append(args, u[0]+" --version "+u[1])
		}
	}
	switch eco {
	case upstream.Go:
		return "go get " + strings.Join(args, " ") + " && go mod tidy"
	case upstream.Npm:
		return "npm install " + strings.Join(args, " ")
	case upstream.PyPI:
		return "pip install " + strings.Join(args, " ")
	case upstream.RubyGems:
		return "bundle update --conservative " + strings.Join(names(ups), " ") + "  # to " + strings.Join(args, " ")
	case upstream.Crates:
		return "cargo update " + prefixEach("-p ", args)
	case upstream.Packagist:
		return "composer require " + strings.Join(args, " ")
	case upstream.Maven:
		return "set these versions in pom.xml (or: mvn versions:use-latest-releases): " + strings.Join(args, " ")
	case upstream.NuGet:
		var cmds []string
		for _, a := range args {
			cmds = append(cmds, "dotnet add package "+a)
		}
		return strings.Join(cmds, " && ")
	}
	return ""
}

func names(ups [][2]string) []string {
	var out []string
	for _, u := range ups {
		out = append(out, u[0])
	}
	return out
}

func prefixEach(p string, args []string) string {
	var out []string
	for _, a := range args {
		out = append(out, p+a)
	}
	return strings.Join(out, " ")
}

// fixFor is the upgrade command of one dependency.
func fixFor(d *Dependency) string {
	t := target(d)
	if t == "" || t == d.Installed {
		return ""
	}
	return FixLine(d.Ecosystem, [][2]string{{d.Name, t}})
}

// ref names a dependency as finding evidence.
func ref(d *Dependency) *scorecard.PackageRef {
	return &scorecard.PackageRef{Name: d.Name, Version: d.Installed, Ecosystem: d.Ecosystem, PURL: d.PURL}
}

// findings are the per-dependency findings: yanked, deprecated, majors
// behind.
func (j *Judge) findings(in *analyze.Input, sec *Section) []scorecard.Finding {
	var out []scorecard.Finding
	for i := range sec.Dependencies {
		d := &sec.Dependencies[i]
		locate := func(f scorecard.Finding) scorecard.Finding {
			f.Package = ref(d)
			if len(d.Locations) > 0 {
				f.Path = d.Locations[0]
			}
			if in.Image != nil {
				in.LocateLayer(&f, d.Layer)
			}
			if f.Evidence == nil {
				f.Evidence = map[string]any{}
			}
			f.Evidence["installed"] = d.Installed
			f.Evidence["latest"] = d.Latest
			if d.LatestInMajor != "" {
				f.Evidence["latestInMajor"] = d.LatestInMajor
			}
			f.Evidence["direct"] = d.Direct
			if d.Libyears != nil {
				f.Evidence["libyears"] = *d.Libyears
			}
			f.Fix = fixFor(d)
			return f
		}
		if d.Yanked {
			f := scorecard.Finding{Title: fmt.Sprintf("%s %s %s was yanked", d.Ecosystem, d.Name, d.Installed)}
			if !j.Policy.FailOnYanked || d.YankedInferred {
				// An inference (the version is missing from the list) warns.
				f.Severity = scorecard.Medium
			}
			if d.YankedReason != "" {
				f.Description = "The registry says: " + d.YankedReason
				f.Title = fmt.Sprintf("%s %s %s was yanked (%s)", d.Ecosystem, d.Name, d.Installed, firstLine(d.YankedReason))
			}
			out = append(out, rules.Finding(RuleYanked, locate(f)))
		}
		if d.Deprecated != "" {
			f := scorecard.Finding{Title: fmt.Sprintf("%s %s is deprecated: %s", d.Ecosystem, d.Name, firstLine(d.Deprecated)),
				Description: "The registry says: " + d.Deprecated}
			if !j.Policy.FailOnDeprecated {
				f.Severity = scorecard.Medium
			}
			out = append(out, rules.Finding(RuleDeprecated, locate(f)))
		}
		if max := j.Policy.MaxMajorsBehind; max > 0 && d.MajorsBehind >= max {
			f := scorecard.Finding{Title: fmt.Sprintf("%s %s %s is %d major versions behind %s", d.Ecosystem, d.Name, d.Installed, d.MajorsBehind, d.Latest)}
			switch d.Direct {
			case "unknown":
				f.Severity = scorecard.Medium
				f.Description = "The image does not say whether this is a direct dependency, so this warns instead of failing."
			case "no":
				f.Severity = scorecard.Low
			}
			out = append(out, rules.Finding(RuleMajors, locate(f)))
		}
	}
	return out
}

// summaryFindings are one finding per ecosystem with packages behind, and
// the total libyears.
func (j *Judge) summaryFindings(sec *Section) []scorecard.Finding {
	var out []scorecard.Finding
	for _, e := range sec.Ecosystems {
		if e.Behind == 0 {
			continue
		}
		var behind []map[string]any
		for _, d := range sec.Dependencies {
			if d.Ecosystem != e.Ecosystem || d.Status != "behind" {
				continue
			}
			b := map[string]any{"name": d.Name, "installed": d.Installed, "latest": d.Latest, "releasesBehind": d.ReleasesBehind}
			if d.LatestInMajor != "" {
				b["latestInMajor"] = d.LatestInMajor
			}
			if d.Libyears != nil {
				b["libyears"] = *d.Libyears
			}
			behind = append(behind, b)
		}
		f := scorecard.Finding{
			Title:    fmt.Sprintf("%s: %d of %s behind, %.1f libyears", e.Ecosystem, e.Behind, humanize.Count(e.Packages, unit(e.Ecosystem)), e.Libyears),
			Evidence: map[string]any{"ecosystem": e.Ecosystem, "behind": behind, "libyears": e.Libyears},
			Fix:      e.Fix,
		}
		out = append(out, rules.Finding(RuleBehind, f))
	}
	if max := j.Policy.MaxLibyears; max > 0 && sec.Libyears > max {
		out = append(out, rules.Finding(RuleLibyears, scorecard.Finding{
			Title:    fmt.Sprintf("dependencies are %.1f libyears behind (policy: at most %g)", sec.Libyears, max),
			Evidence: map[string]any{"libyears": sec.Libyears, "maxLibyears": max},
			Fix:      "upgrade the dependencies furthest behind first (see the " + RuleBehind + " findings for the commands)",
		}))
	}
	return out
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}
