package imagecfg

import (
	"fmt"
	"strings"
	"time"

	"github.com/shipshape-dev/shipshape/internal/eol"
	sysfacts "github.com/shipshape-dev/shipshape/internal/facts"
	"github.com/shipshape-dev/shipshape/internal/fstree"
	"github.com/shipshape-dev/shipshape/internal/humanize"
	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/pkgdb"
	"github.com/shipshape-dev/shipshape/internal/rules"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
	"github.com/shipshape-dev/shipshape/internal/shellcmd"
)

// OSRelease is the image's operating system, from os-release.
type OSRelease struct {
	ID        string `json:"id"`
	VersionID string `json:"versionID,omitempty"`
	Pretty    string `json:"prettyName,omitempty"`
	Cycle     string `json:"cycle,omitempty"`
	EOL       string `json:"eol,omitempty"`
	Extended  string `json:"extendedSupport,omitempty"`
	EOLKnown  bool   `json:"eolKnown"`
	Path      string `json:"path"`
}

// historyEntry is one config history entry with its layer (0: empty)
// and its instruction.
type historyEntry struct {
	image.HistoryEntry
	Instr, Arg string
}

func (st *state) history() []historyEntry {
	var out []historyEntry
	for _, h := range st.in.Image.History() {
		e := historyEntry{HistoryEntry: h}
		e.Instr, e.Arg = shellcmd.History(h.CreatedBy)
		out = append(out, e)
	}
	return out
}

// versions maps package names to their versions.
func versions(ps []pkgdb.Package) map[string]string {
	m := make(map[string]string, len(ps))
	for _, p := range ps {
		m[p.Name] = p.Version
	}
	return m
}

func (st *state) release() {
	var osr *OSRelease
	for _, p := range osReleasePaths {
		if s, e, ok := st.text(p); ok {
			kv := sysfacts.ParseOSRelease(s)
			osr = &OSRelease{ID: kv["ID"], VersionID: kv["VERSION_ID"], Pretty: kv["PRETTY_NAME"], Path: fstree.Display(e.Path())}
			st.osEntry = e
			break
		}
	}
	cov := scorecard.Coverage{Practice: scorecard.P3, Ran: true}
	var summary []string
	if osr == nil {
		summary = append(summary, "no os-release: operating system unknown (distroless or scratch)")
	} else {
		st.out.Sections["os"] = osr
		table := st.a.EOL
		if table == nil {
			table = eol.Builtin()
		}
		d, c, ok := table.Lookup(osr.ID, osr.VersionID)
		name := strings.TrimSpace(osr.ID + " " + osr.VersionID)
		if !ok {
			summary = append(summary, name+" (end of life unknown)")
			cov.Partial = "the end of life of " + name + " is not in shipshape's release table (update shipshape)"
			st.add(rules.Finding("SS-P3-003", scorecard.Finding{
				Title:    fmt.Sprintf("End of life of %s is not in shipshape's release table", name),
				Evidence: map[string]any{"id": osr.ID, "versionID": osr.VersionID},
				Fix:      "Check the distribution's support dates by hand, or update shipshape.",
			}))
		} else {
			osr.Cycle, osr.EOL, osr.Extended, osr.EOLKnown = c.Cycle, c.EOL, c.Extended, true
			f := scorecard.Finding{Path: osr.Path,
				Evidence: map[string]any{"os": name, "cycle": c.Cycle, "eol": c.EOL}}
			if c.Extended != "" {
				f.Evidence["extendedSupport"] = c.Extended
			}
			inLTS := d.FreeExtended && !c.ExtendedDate().IsZero() && c.ExtendedDate().After(st.now)
			switch left := c.EOLDate().Sub(st.now); {
			case left < 0 && inLTS:
				// Debian LTS: security updates go on, for fewer packages,
				// from the same archive.
				f = rules.Finding("SS-P3-001", f)
				f.Severity = scorecard.Medium // the table's note: while free LTS lasts
				f.Title = fmt.Sprintf("%s %s left regular support on %s; LTS security updates run until %s", d.Name, c.Cycle, c.EOL, c.Extended)
				f.Description = "Long-term support still publishes security updates, from the same archive, but for fewer packages and with less care for the rest."
				f.Fix = fmt.Sprintf("Plan the move to a newer %s release (update the FROM tag) before %s.", d.Name, c.Extended)
				summary = append(summary, fmt.Sprintf("%s in LTS until %s", name, c.Extended))
			case left < 0:
				f = rules.Finding("SS-P3-001", f)
				f.Title = fmt.Sprintf("%s %s reached end of life on %s", d.Name, c.Cycle, c.EOL)
				f.Description = "The distribution no longer publishes security updates for this release: its packages stay vulnerable however often the image is rebuilt."
				if !c.ExtendedDate().IsZero() && c.ExtendedDate().After(st.now) {
					f.Description += fmt.Sprintf(" Extended (paid or LTS) support runs until %s.", c.Extended)
				}
				f.Fix = fmt.Sprintf("Rebuild on a supported %s release (update the FROM tag) and re-test.", d.Name)
				summary = append(summary, fmt.Sprintf("%s is end of life since %s", name, c.EOL))
			case left < 180*24*time.Hour:
				f = rules.Finding("SS-P3-002", f)
				f.Title = fmt.Sprintf("%s %s reaches end of life on %s", d.Name, c.Cycle, c.EOL)
				f.Description = "Security updates stop in less than six months."
				f.Fix = fmt.Sprintf("Plan the move to a newer %s release.", d.Name)
				summary = append(summary, fmt.Sprintf("%s supported until %s", name, c.EOL))
			default:
				summary = append(summary, fmt.Sprintf("%s supported until %s", name, c.EOL))
			}
			if f.Rule != "" {
				if st.osEntry != nil {
					st.in.Locate(&f, st.osEntry)
				}
				st.add(f)
			}
		}
	}
	summary = append(summary, st.upgrades()...)
	cov.Summary = strings.Join(summary, "; ")
	st.caches()
	p3 := 0
	for _, f := range st.out.Findings {
		if f.Practice == scorecard.P3 {
			p3++
		}
	}
	switch {
	case st.in.Empty():
		cov = scorecard.Coverage{Practice: scorecard.P3, Reason: scorecard.NothingToJudge}
	case osr == nil && p3 == 0:
		// Without a distribution there is no release to date and no
		// package manager whose updates could be missing: nothing earned.
		cov.Ran = false
		cov.Reason = "operating system unknown: the image has no /etc/os-release or /usr/lib/os-release (scratch or distroless), " +
			"so the age of its base and system packages cannot be judged; P4/P5 cover the packages shipshape can identify"
	}
	st.out.Coverage = append(st.out.Coverage, cov)
}

// upgrades decides whether the build upgraded the system packages, from
// the history and from the package databases of the base and final image.
func (st *state) upgrades() []string {
	h := st.history()
	baseN := st.in.Image.BaseLayers()
	st.baseLayers = baseN
	var upgradeLines []string
	for _, e := range h {
		if e.Instr != "RUN" {
			continue
		}
		s, err := shellcmd.Parse(e.Arg)
		if err != nil {
			continue
		}
		if u := s.Upgrades(); len(u) > 0 && e.Layer > baseN {
			upgradeLines = append(upgradeLines, strings.Join(u[0].Args, " "))
		}
		// apt-get update without an install in the same RUN.
		var update, install bool
		for _, c := range s.Find("apt-get", "apt") {
			switch c.Sub() {
			case "update":
				update = true
			case "install", "upgrade", "dist-upgrade", "full-upgrade", "build-dep":
				install = true
			}
		}
		if update && !install {
			f := rules.Finding("SS-P3-005", scorecard.Finding{
				Field:       fmt.Sprintf("History[%d]", e.Index),
				Title:       "apt-get update runs in a RUN of its own",
				Description: "The layer with the package index is cached: a later RUN apt-get install reuses the stale index from the cache and installs old, vulnerable versions (or fails when they vanish from the mirror).",
				Fix:         "Run apt-get update && apt-get install -y … && rm -rf /var/lib/apt/lists/* in one RUN instruction.",
			})
			st.in.LocateLayer(&f, e.Layer)
			f.CreatedBy = e.CreatedBy
			st.add(f)
		}
	}
	// Package databases: compare the base layers' versions with the final.
	var changed, total int
	var db, unread string
	for _, kind := range []string{"apk", "dpkg"} {
		d := st.in.System.Database(kind)
		if d == nil {
			continue
		}
		db = d.Path
		if d.Err != "" {
			unread = d.Path + ": " + d.Err
			break
		}
		final := versions(d.Packages)
		var base map[string]string
		for i := min(baseN, len(st.facts)); i >= 1; i-- {
			if pk, ok := d.InLayer[i]; ok {
				base = versions(pk)
				break
			}
		}
		for name, v := range base {
			if fv, ok := final[name]; ok {
				total++
				if fv != v {
					changed++
				}
			}
		}
		st.out.Sections["packageDB"] = map[string]any{"path": d.Path, "packages": len(final), "lastWrittenInLayer": d.Entry.Layer, "baseLayers": baseN, "basePackagesUpgraded": changed}
		break
	}
	var out []string
	switch {
	case len(upgradeLines) > 0:
		out = append(out, "the build upgrades system packages ("+upgradeLines[0]+")")
	case unread != "":
		out = append(out, "package database not read ("+unread+")")
	case changed > 0:
		out = append(out, fmt.Sprintf("%d of %d base packages were upgraded by the build", changed, total))
	case db == "" && st.in.System != nil && st.in.System.RPMDatabase != "":
		// Read by the inventory, not by the facts this check compares.
		out = append(out, "the rpm database ("+st.in.System.RPMDatabase+") is not compared with the base's (this check reads dpkg and apk databases)")
	case db == "":
		out = append(out, "no package database")
	case len(st.in.Image.Layers) <= baseN:
		out = append(out, "image is its base (no build layers)")
	default:
		st.add(rules.Finding("SS-P3-004", scorecard.Finding{
			Title:       "The build did not upgrade the base image's system packages",
			Description: fmt.Sprintf("No upgrade command in the history and none of the %d base packages in %s changed version: the image ships whatever the base had when it was built.", total, db),
			Fix:         "Rebuild on a fresh base regularly, or run the package manager's upgrade (apk upgrade --no-cache / apt-get upgrade -y) in the build.",
			Evidence:    map[string]any{"packageDB": db, "basePackages": total, "baseLayers": baseN},
		}))
		out = append(out, "no system package upgrade after the base")
	}
	return out
}

// cacheDirs are package-manager caches that have no use at run time.
var cacheDirs = []struct {
	dir   string
	index bool // holds a package index that goes stale
	name  string
}{
	{"/var/lib/apt/lists", true, "apt package lists"},
	{"/var/cache/apk", true, "apk cache"},
	{"/var/cache/apt", false, "apt cache"},
	{"/var/cache/yum", true, "yum cache"},
	{"/var/cache/dnf", true, "dnf cache"},
	{"/var/cache/zypp", true, "zypper cache"},
}

func (st *state) caches() {
	type acc struct {
		bytes int64
		files int
		last  *fstree.Entry
	}
	accs := make([]acc, len(cacheDirs))
	// One walk of the final tree; cache directories are disjoint.
	_ = st.in.Tree.Walk(func(e *fstree.Entry) error {
		if e.Type != fstree.Regular || !e.HasPathPrefix("/var/") {
			return nil
		}
		p := e.Path()
		for i, c := range cacheDirs {
			if !strings.HasPrefix(p, c.dir+"/") {
				continue
			}
			base := p[strings.LastIndex(p, "/")+1:]
			if base == "lock" || strings.Contains(p, "/partial/") {
				return nil
			}
			a := &accs[i]
			a.bytes += e.Size
			a.files++
			if a.last == nil || e.Layer > a.last.Layer {
				a.last = e
			}
			return nil
		}
		return nil
	})
	for i, c := range cacheDirs {
		bytes, files, last := accs[i].bytes, accs[i].files, accs[i].last
		if files == 0 {
			continue
		}
		ev := map[string]any{"dir": c.dir, "files": files, "bytes": bytes}
		if c.index {
			f := rules.Finding("SS-P3-006", scorecard.Finding{
				Title:       fmt.Sprintf("Stale %s left in %s", c.name, c.dir),
				Description: "The package index is frozen at build time; anything that installs from it later gets outdated versions.",
				Fix:         "Clean it in the RUN that installs: rm -rf /var/lib/apt/lists/* (apt) or apk add --no-cache (apk), dnf clean all (dnf).",
				Evidence:    ev,
			})
			st.in.LocateLayer(&f, int(last.Layer))
			f.Path = c.dir
			f.Fingerprint = "SS-P3-006:" + c.dir
			st.add(f)
		}
		f := rules.Finding("SS-P8-010", scorecard.Finding{
			Title:       fmt.Sprintf("%s of %s shipped in the image", humanize.Bytes(bytes), c.name),
			Description: fmt.Sprintf("%d cache files under %s serve no purpose at run time.", files, c.dir),
			Fix:         "Remove package-manager caches in the same RUN that fills them.",
			Evidence:    ev,
		})
		st.in.LocateLayer(&f, int(last.Layer))
		f.Path = c.dir
		f.Fingerprint = "SS-P8-010:" + c.dir
		st.add(f)
	}
}
