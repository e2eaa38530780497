// Package pending judges how far behind an image's system packages and
// base image are (P3): the updates its own distribution release has
// published for the installed dpkg/apk packages — from the archive
// indexes `shipshape db update` keeps (internal/archive), offline — and,
// online, whether the base image's tag has been rebuilt since the image
// was built on it.
package pending

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/osv-scalibr/semantic"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/archive"
	"github.com/shipshape-dev/shipshape/internal/facts"
	"github.com/shipshape-dev/shipshape/internal/pkgdb"
	"github.com/shipshape-dev/shipshape/internal/policy"
	"github.com/shipshape-dev/shipshape/internal/rules"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

// Section is the report section the analyzer writes.
const Section = "freshness"

// DefaultSecurityMaxAge is how long a security update may stay pending
// before P3 fails, when the policy does not say.
const DefaultSecurityMaxAge = 30 * 24 * time.Hour

// staleArchive is the age of archive data past which the summary says to
// refresh it.
const staleArchive = 7 * 24 * time.Hour

// Analyzer is the P3 freshness analyzer.
type Analyzer struct {
	analyze.NoFiles
	// DBDir is the database directory holding the archive indexes.
	DBDir string
	// DBDirFlag is the --db-dir value to repeat in fix commands ("" for
	// the default).
	DBDirFlag string
	Policy    *policy.Policy
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Remote, when set, is how registries are asked what a base image's
	// tag points to now; nil offline (the check is then not run).
	Remote      []remote.Option
	NameOptions []name.Option
	// DockerfileBase is the final stage's FROM of --dockerfile, when
	// given: the base when the image does not record one.
	DockerfileBase string
}

// BaseRef is the base image an image was built on.
type BaseRef struct {
	Name, Digest, Source string
}

// Name implements analyze.Analyzer.
func (a *Analyzer) Name() string { return "system-freshness" }

// Version implements analyze.Analyzer.
func (a *Analyzer) Version() string { return "1" }

func (a *Analyzer) now() time.Time {
	if a.Now != nil {
		return a.Now().UTC()
	}
	return time.Now().UTC()
}

func (a *Analyzer) maxAge() time.Duration {
	if a.Policy != nil && a.Policy.SecurityUpdateMaxAge > 0 {
		return a.Policy.SecurityUpdateMaxAge
	}
	return DefaultSecurityMaxAge
}

// Update is one pending update of an installed package.
type Update struct {
	Package   string `json:"package"`
	Source    string `json:"source,omitempty"`
	Installed string `json:"installed"`
	Candidate string `json:"candidate"`
	Suite     string `json:"suite"`
	Security  bool   `json:"security"`
	// PendingSince is when shipshape first saw the candidate (or the
	// oldest newer security version) in the archive.
	PendingSince time.Time `json:"pendingSince,omitzero"`
	Layer        int       `json:"layer,omitempty"`
}

// Check is the outcome of one part of the freshness check.
type Check struct {
	// Status is "ran", "not-run" or "not-applicable".
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
	// Command is the command that makes a not-run check run.
	Command string `json:"command,omitempty"`
}

// SystemPackages is the pending-update part of the section.
type SystemPackages struct {
	Check
	Distro        string          `json:"distro,omitempty"`
	Release       string          `json:"release,omitempty"`
	Arch          string          `json:"arch,omitempty"`
	Installed     int             `json:"installed"`
	NotInArchive  int             `json:"notInArchive,omitempty"`
	Pending       int             `json:"pending"`
	Security      int             `json:"security"`
	OldestPending time.Time       `json:"oldestPendingSince,omitzero"`
	ArchiveDate   time.Time       `json:"archiveUpdatedAt,omitzero"`
	Suites        []archive.Suite `json:"suites,omitempty"`
	Updates       []Update        `json:"updates,omitempty"`
	// SecurityKnown is false for distributions whose archive does not
	// tell security updates apart (Alpine).
	SecurityKnown bool   `json:"securityKnown"`
	Fix           string `json:"fix,omitempty"`
}

// Report is the freshness section of the report.
type Report struct {
	SystemPackages SystemPackages `json:"systemPackages"`
	Base           BaseFreshness  `json:"base"`
}

// Finish implements analyze.Analyzer.
func (a *Analyzer) Finish(ctx context.Context, in *analyze.Input) (*analyze.Output, error) {
	out := &analyze.Output{Sections: map[string]any{}}
	rep := &Report{}
	cov := scorecard.Coverage{Practice: scorecard.P3, Ran: true, Metrics: map[string]any{}}
	var partial []string

	sp, fs := a.systemPackages(in)
	rep.SystemPackages = sp
	out.Findings = append(out.Findings, fs...)
	switch sp.Status {
	case "not-run":
		msg := "pending system updates: " + sp.Reason
		if sp.Command != "" {
			msg += " (run `" + sp.Command + "`)"
		}
		partial = append(partial, msg)
	case "ran":
		cov.Summary = sp.summary()
		if age := a.now().Sub(sp.ArchiveDate); age > staleArchive {
			cov.Summary += fmt.Sprintf("; archive data %d days old: run `%s`", int(age.Hours()/24), a.updateCommand(in))
		}
		cov.Metrics["pendingUpdates"] = sp.Pending
		if sp.SecurityKnown {
			cov.Metrics["pendingSecurityUpdates"] = sp.Security
		}
		if !sp.OldestPending.IsZero() {
			cov.Metrics["oldestPendingSince"] = sp.OldestPending.Format(time.DateOnly)
		}
	}

	bf, bfs := a.baseFreshness(ctx, in)
	rep.Base = bf
	out.Findings = append(out.Findings, bfs...)
	switch bf.Status {
	case "not-run":
		partial = append(partial, "base image freshness: "+bf.Reason)
	case "ran":
		if s := bf.summary(); s != "" {
			if cov.Summary != "" {
				cov.Summary += "; "
			}
			cov.Summary += s
		}
		cov.Metrics["baseRebuilt"] = bf.Rebuilt
	}
	cov.Partial = strings.Join(partial, "; ")
	if sp.Status != "not-applicable" || bf.Status != "not-applicable" {
		// Nothing to judge (no package database, no known base) is no
		// check: the other P3 checks decide, or P3 did not run.
		out.Coverage = []scorecard.Coverage{cov}
	}
	out.Sections[Section] = rep
	return out, nil
}

func (sp *SystemPackages) summary() string {
	if sp.Pending == 0 {
		return fmt.Sprintf("no pending system updates (%s:%s archive of %s)", sp.Distro, sp.Release, sp.ArchiveDate.Format(time.DateOnly))
	}
	s := fmt.Sprintf("%d pending system updates", sp.Pending)
	if sp.SecurityKnown {
		s += fmt.Sprintf(" (%d security", sp.Security)
	} else {
		s += " (security not told apart by " + sp.Distro
	}
	if !sp.OldestPending.IsZero() {
		s += ", oldest pending since " + sp.OldestPending.Format(time.DateOnly)
	}
	return s + ")"
}

// release finds the distribution and release of the image as the
// archives name them.
func release(sys *facts.System) (distro, rel string, db *facts.Database, reason string) {
	for _, k := range []string{"dpkg", "apk"} {
		if d := sys.Database(k); d != nil {
			db = d
			break
		}
	}
	if db == nil {
		return "", "", nil, "no dpkg or apk package database in the image"
	}
	if db.Err != "" {
		return "", "", db, fmt.Sprintf("the package database %s could not be read: %s", db.Path, db.Err)
	}
	if sys.Release == nil {
		return "", "", db, "the image has no os-release file: its release is unknown"
	}
	r := sys.Release
	distro = strings.ToLower(r.ID)
	switch distro {
	case "debian":
		rel = r.VersionCodename
		if rel == "" {
			rel = archive.DebianCodename(r.VersionID)
		}
	case "ubuntu":
		rel = r.VersionCodename
	case "alpine":
		if strings.Contains(r.VersionID, "_") {
			return distro, "", db, "Alpine edge (" + r.VersionID + ") has no stable archive to compare with"
		}
		rel = archive.NormalizeRelease("alpine", r.VersionID)
	default:
		return distro, "", db, fmt.Sprintf("shipshape keeps no archive data for %s (it does for %s)", r.ID, strings.Join(archive.Distros, ", "))
	}
	if rel == "" || rel == "sid" {
		return distro, "", db, fmt.Sprintf("%s release %q has no stable archive to compare with", r.ID, r.VersionID)
	}
	return distro, archive.NormalizeRelease(distro, rel), db, ""
}

func (a *Analyzer) updateCommand(in *analyze.Input) string {
	ref := "IMAGE"
	if in.Image != nil && in.Image.Reference != "" {
		ref = in.Image.Reference
	}
	cmd := "shipshape db update --for " + shellQuote(ref)
	if a.DBDirFlag != "" {
		cmd += " --db-dir " + shellQuote(a.DBDirFlag)
	}
	return cmd
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:@=+,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func (a *Analyzer) systemPackages(in *analyze.Input) (SystemPackages, []scorecard.Finding) {
	sp := SystemPackages{}
	distro, rel, db, reason := release(in.System)
	if db == nil && in.System != nil && in.System.RPMDatabase != "" {
		// Packages there are, and whether updates are pending is not known.
		sp.Check = Check{Status: "not-run", Reason: fmt.Sprintf("the rpm database %s is not compared with an archive: shipshape keeps archive data for %s", in.System.RPMDatabase, strings.Join(archive.Distros, ", "))}
		return sp, nil
	}
	if db == nil {
		sp.Check = Check{Status: "not-applicable", Reason: reason}
		return sp, nil
	}
	sp.Distro, sp.Release, sp.Installed = distro, rel, len(db.Packages)
	if reason != "" {
		sp.Check = Check{Status: "not-run", Reason: reason}
		return sp, nil
	}
	arch, variant := "amd64", ""
	if in.Image != nil && in.Image.Config != nil && in.Image.Config.Architecture != "" {
		arch, variant = in.Image.Config.Architecture, in.Image.Config.Variant
	}
	sp.Arch = archive.ArchFor(distro, arch, variant)
	key := archive.Key{Distro: distro, Release: rel, Arch: sp.Arch}
	names := make(map[string]bool, len(db.Packages))
	for _, p := range db.Packages {
		names[p.Name] = true
	}
	ix, err := archive.OpenFor(a.DBDir, key, names)
	if err != nil {
		why := fmt.Sprintf("no archive data for %s:%s (%s) in %s", distro, rel, sp.Arch, a.DBDir)
		if !errors.Is(err, archive.ErrNotFound) {
			why = fmt.Sprintf("archive data for %s unreadable: %v", key, err)
		}
		sp.Check = Check{Status: "not-run", Reason: why, Command: a.updateCommand(in)}
		return sp, nil
	}
	sp.Check = Check{Status: "ran"}
	sp.ArchiveDate, sp.Suites = ix.UpdatedAt, ix.Suites
	eco := map[string]string{"debian": "Debian", "ubuntu": "Ubuntu", "alpine": "Alpine"}[distro]
	sp.SecurityKnown = distro != "alpine"
	now := a.now()
	var findings []scorecard.Finding
	for _, p := range db.Packages {
		if p.Arch != "" && distro != "alpine" && p.Arch != "all" && p.Arch != sp.Arch {
			continue // a foreign-architecture package: another index
		}
		cands := ix.Lookup(p.Name)
		if len(cands) == 0 {
			sp.NotInArchive++
			continue
		}
		var best *archive.Package
		var sec *archive.Package
		for i := range cands {
			c := &cands[i]
			if compare(eco, c.Version, p.Version) <= 0 {
				continue
			}
			if best == nil || compare(eco, c.Version, best.Version) > 0 {
				best = c
			}
			if ix.Suites[c.Suite].Kind == archive.KindSecurity && (sec == nil || compare(eco, c.Version, sec.Version) < 0) {
				sec = c // the oldest security version above the installed one
			}
		}
		if best == nil {
			continue
		}
		up := Update{Package: p.Name, Source: best.Source, Installed: p.Version, Candidate: best.Version,
			Suite: ix.Suites[best.Suite].Name, Security: sec != nil, PendingSince: ix.SeenSince(best.Name, best.Version),
			Layer: installedIn(db, p)}
		if sec != nil {
			up.PendingSince = ix.SeenSince(sec.Name, sec.Version)
		}
		sp.Pending++
		if up.Security {
			sp.Security++
		}
		if !up.PendingSince.IsZero() && (sp.OldestPending.IsZero() || up.PendingSince.Before(sp.OldestPending)) {
			sp.OldestPending = up.PendingSince
		}
		sp.Updates = append(sp.Updates, up)
		findings = append(findings, a.finding(in, db, distro, up, now))
	}
	sp.Fix = upgradeAll(distro)
	return sp, findings
}

// installedIn is the first layer in which the package had its installed
// version.
func installedIn(db *facts.Database, p pkgdb.Package) int {
	layers := make([]int, 0, len(db.InLayer))
	for l := range db.InLayer {
		layers = append(layers, l)
	}
	slices.Sort(layers)
	for _, l := range layers {
		for _, q := range db.InLayer[l] {
			if q.Name == p.Name && q.Version == p.Version {
				return l
			}
		}
	}
	return 0
}

func upgradeAll(distro string) string {
	if distro == "alpine" {
		return "RUN apk upgrade --no-cache"
	}
	return "RUN apt-get update && apt-get upgrade -y && rm -rf /var/lib/apt/lists/*"
}

func upgradeOne(distro string, u Update) string {
	if distro == "alpine" {
		return fmt.Sprintf("RUN apk add --no-cache --upgrade %s", u.Package)
	}
	return fmt.Sprintf("RUN apt-get update && apt-get install -y --only-upgrade %s && rm -rf /var/lib/apt/lists/*", u.Package)
}

func (a *Analyzer) finding(in *analyze.Input, db *facts.Database, distro string, u Update, now time.Time) scorecard.Finding {
	since := ""
	if !u.PendingSince.IsZero() {
		since = ", pending since " + u.PendingSince.Format(time.DateOnly)
	}
	ev := map[string]any{"installed": u.Installed, "candidate": u.Candidate, "suite": u.Suite, "security": u.Security}
	if !u.PendingSince.IsZero() {
		ev["pendingSince"] = u.PendingSince.Format(time.RFC3339)
		ev["pendingDays"] = int(now.Sub(u.PendingSince).Hours() / 24)
	}
	if u.Source != "" && u.Source != u.Package {
		ev["source"] = u.Source
	}
	eco := map[string]string{"debian": "deb", "ubuntu": "deb", "alpine": "apk"}[distro]
	f := scorecard.Finding{
		Path:     db.Path,
		Package:  &scorecard.PackageRef{Name: u.Package, Version: u.Installed, Ecosystem: eco},
		Evidence: ev,
		Fix:      upgradeOne(distro, u) + " (or upgrade every package: " + upgradeAll(distro) + ")",
	}
	if u.Layer > 0 {
		in.LocateLayer(&f, u.Layer)
	}
	if !u.Security {
		f.Title = fmt.Sprintf("Update pending for %s: %s → %s (%s%s)", u.Package, u.Installed, u.Candidate, u.Suite, since)
		return rules.Finding("SS-P3-008", f)
	}
	f.Title = fmt.Sprintf("Security update pending for %s: %s → %s (%s%s)", u.Package, u.Installed, u.Candidate, u.Suite, since)
	max := a.maxAge()
	ev["maxAgeDays"] = int(max.Hours() / 24)
	if !u.PendingSince.IsZero() && now.Sub(u.PendingSince) > max {
		f.Severity = scorecard.High
		f.Description = fmt.Sprintf("The release's security archive has had a fix for %d days, more than the policy's %d.", int(now.Sub(u.PendingSince).Hours()/24), int(max.Hours()/24))
	} else {
		f.Severity = scorecard.Medium
	}
	return rules.Finding("SS-P3-007", f)
}

// compare orders two versions of the ecosystem (osv-scalibr's dpkg and
// apk rules); unparsable versions compare as strings.
func compare(eco, a, b string) int {
	if a == b {
		return 0
	}
	v, err := semantic.Parse(a, eco)
	if err == nil {
		if c, err := v.CompareStr(b); err == nil {
			return c
		}
	}
	return strings.Compare(a, b)
}
