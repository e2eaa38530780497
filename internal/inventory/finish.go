package inventory

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/package-url/packageurl-go"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/facts"
	"github.com/shipshape-dev/shipshape/internal/fstree"
	"github.com/shipshape-dev/shipshape/internal/humanize"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

// Finish implements analyze.Analyzer: it merges the layers' packages into
// the inventory and reports P4 coverage.
func (a *Analyzer) Finish(ctx context.Context, in *analyze.Input) (*analyze.Output, error) {
	inv, err := Build(in)
	if err != nil {
		return nil, err
	}
	out, err := a.P4(ctx, in, inv)
	if err != nil {
		return nil, err
	}
	out.Sections[SectionName] = inv
	return out, nil
}

// FreshnessJudge judges P4 — how far the inventory's dependencies are
// behind their registries (internal/freshness). base is the inventory's
// own P4 line, whose summary and metrics stay as information.
type FreshnessJudge interface {
	JudgeFreshness(ctx context.Context, in *analyze.Input, inv *Inventory, base scorecard.Coverage) (*analyze.Output, error)
}

// P4 returns the P4 findings, coverage and sections of an inventory: the
// freshness judge's when there is one, else P4 not-run with the
// inventory as information.
func (a *Analyzer) P4(ctx context.Context, in *analyze.Input, inv *Inventory) (*analyze.Output, error) {
	base := Coverage(inv, in.Empty())
	out := &analyze.Output{Coverage: []scorecard.Coverage{base}}
	if a.Freshness != nil && !in.Empty() {
		o, err := a.Freshness.JudgeFreshness(ctx, in, inv, base)
		if err != nil {
			return nil, err
		}
		out = o
	}
	if out.Sections == nil {
		out.Sections = map[string]any{}
	}
	return out, nil
}

// NoFreshnessData is why P4 does not run without registry data: the
// practice is about up-to-date dependencies, and a package count says
// nothing about that.
const NoFreshnessData = "no freshness data: run `shipshape db update --for IMAGE` (it asks each language package's registry for its releases); " +
	"the inventory is shown as information (`shipshape sbom IMAGE` writes it)"

// Coverage is the P4 scorecard line for an inventory: not-run (with the
// inventory as information) until P4 has a rule; empty says the image had
// no files.
func Coverage(inv *Inventory, empty bool) scorecard.Coverage {
	if empty {
		return scorecard.Coverage{Practice: scorecard.P4, Reason: scorecard.NothingToJudge}
	}
	counts := inv.CountByEcosystem()
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		parts = append(parts, fmt.Sprintf("%d %s", counts[k], k))
	}
	summary := humanize.Count(len(inv.Packages), "package")
	if len(parts) > 0 {
		summary += " (" + strings.Join(parts, ", ") + ")"
	}
	if inv.Distro != nil {
		summary += " on " + inv.Distro.Ecosystem
	}
	if n := len(inv.Errors); n > 0 {
		summary += fmt.Sprintf("; %s could not be read (sections.packages.errors)", humanize.Count(n, "package file"))
	}
	if n := len(inv.Skipped); n > 0 {
		summary += fmt.Sprintf("; %s too large to read for Go or Rust build information (sections.packages.skipped)", humanize.Count(n, "executable"))
	}
	metrics := map[string]any{"packages": len(inv.Packages), "packagesByEcosystem": counts}
	if len(inv.Removed) > 0 {
		metrics["removedPackages"] = len(inv.Removed)
	}
	return scorecard.Coverage{Practice: scorecard.P4, Reason: NoFreshnessData, Summary: "inventory: " + summary, Metrics: metrics}
}

// Build merges the per-layer facts of an analyzer run into the inventory:
// each package is attributed to the layer that introduced it, and packages
// that a later layer removed are listed apart.
func Build(in *analyze.Input) (*Inventory, error) {
	facts := make([]layerFacts, len(in.Facts))
	for i, raw := range in.Facts {
		if len(raw) == 0 || string(raw) == "null" {
			continue
		}
		// Written by the layer scanner's Facts (encoding/json), read with
		// JSON v2 in about a third of the time: a warm scan's critical path.
		if err := jsonv2.Unmarshal(raw, &facts[i]); err != nil {
			return nil, fmt.Errorf("inventory: layer %d facts: %w", i+1, err)
		}
	}
	inv := &Inventory{Packages: []Package{}}
	inv.Distro = detectDistro(releaseFiles(in.System))

	// Entries by (layer, path) for the files that yielded facts.
	type lp struct {
		layer int
		path  string
	}
	wantPath := map[string]bool{}
	for _, f := range facts {
		for _, ff := range f.Files {
			wantPath[ff.Path] = true
		}
		inv.Errors = append(inv.Errors, f.Errors...)
		inv.Skipped = append(inv.Skipped, f.Skipped...)
	}
	if in.System != nil {
		// dpkg's file lists are read by the facts, and a list not read
		// leaves its package's files unknown.
		inv.Errors = append(inv.Errors, in.System.UnreadLists...)
	}
	entries := map[lp]*fstree.Entry{}
	var p []byte // each path, built in one buffer: the lookup builds no string
	for _, l := range in.Tree.Layers() {
		for _, e := range l.All() {
			p = e.AppendPath(p[:0])
			if wantPath[string(p)] {
				entries[lp{l.Index, e.Path()}] = e
			}
		}
	}

	// Group the facts by (file, extractor), bottom layer first.
	type version struct {
		layer int
		pkgs  []Package
	}
	groups := map[string][]version{}
	for i, f := range facts {
		for _, ff := range f.Files {
			k := ff.Path + "\x00" + ff.Extractor
			groups[k] = append(groups[k], version{layer: i + 1, pkgs: ff.Packages})
		}
	}
	keys := slices.Sorted(maps.Keys(groups))
	for _, k := range keys {
		file, _, _ := strings.Cut(k, "\x00")
		vs := groups[k]
		current := map[string]Package{}
		for _, v := range vs {
			next := map[string]Package{}
			for _, p := range v.pkgs {
				if old, ok := current[p.Key()]; ok {
					p.Layer = old.Layer
				} else {
					p.Layer = v.layer
				}
				next[p.Key()] = p
			}
			for key, p := range current {
				if _, ok := next[key]; !ok {
					p.RemovedIn = v.layer
					inv.Removed = append(inv.Removed, p)
				}
			}
			current = next
		}
		last := vs[len(vs)-1]
		e := entries[lp{last.layer, file}]
		removedIn := 0
		if e != nil && !e.InFinal() {
			removedIn = max(int(e.RemovedIn()), int(e.OverwrittenIn()))
		}
		for _, p := range current {
			if removedIn > 0 {
				p.RemovedIn = removedIn
				inv.Removed = append(inv.Removed, p)
				continue
			}
			inv.Packages = append(inv.Packages, p)
		}
	}
	for _, ps := range []*[]Package{&inv.Packages, &inv.Removed} {
		for i := range *ps {
			p := &(*ps)[i]
			completeOS(p, inv.Distro)
			if p.Layer >= 1 && p.Layer <= len(in.Image.Layers) {
				l := in.Image.Layers[p.Layer-1]
				p.LayerDiffID, p.CreatedBy = l.DiffID.String(), l.CreatedBy
			}
		}
	}
	inv.Packages = attachCopyrights(inv.Packages)
	inv.Removed = attachCopyrights(inv.Removed)
	inv.Packages = dropDeclaredInstalled(inv.Packages)
	sortPackages(inv.Packages)
	sortPackages(inv.Removed)
	sort.Strings(inv.Errors)
	sort.Strings(inv.Skipped)
	return inv, nil
}

// releaseFiles returns the content of each release file the final image
// has, from the shared facts.
func releaseFiles(sys *facts.System) map[string][]byte {
	out := map[string][]byte{}
	if sys == nil {
		return out
	}
	for p, f := range sys.ReleaseFiles {
		out[p] = []byte(f.Text)
	}
	return out
}

// dropDeclaredInstalled removes lock-file packages that are also installed.
func dropDeclaredInstalled(ps []Package) []Package {
	installed := map[string]bool{}
	for _, p := range ps {
		if !p.Declared {
			installed[p.Ecosystem+"\x00"+p.Name+"\x00"+p.Version] = true
		}
	}
	return slices.DeleteFunc(ps, func(p Package) bool {
		return p.Declared && installed[p.Ecosystem+"\x00"+p.Name+"\x00"+p.Version]
	})
}

// completeOS sets the ecosystem and purl of an OS package from the distro.
func completeOS(p *Package, d *Distro) {
	var ns string
	switch p.Type {
	case packageurl.TypeDebian, packageurl.TypeApk, packageurl.TypeRPM:
	default:
		return
	}
	q := packageurl.Qualifiers{}
	if p.Arch != "" {
		q = append(q, packageurl.Qualifier{Key: "arch", Value: p.Arch})
	}
	version := p.Version
	if d != nil {
		p.Ecosystem = d.Ecosystem
		ns = d.ID
		distro := d.ID
		if d.VersionID != "" {
			distro += "-" + d.VersionID
		}
		q = append(q, packageurl.Qualifier{Key: "distro", Value: distro})
	}
	if p.Type == packageurl.TypeRPM {
		if ep, v, ok := strings.Cut(version, ":"); ok {
			version = v
			q = append(q, packageurl.Qualifier{Key: "epoch", Value: ep})
		}
	}
	if p.SourceName != "" && p.SourceName != p.Name {
		upstream := p.SourceName
		if p.SourceVersion != "" {
			upstream += "@" + p.SourceVersion
		}
		q = append(q, packageurl.Qualifier{Key: "upstream", Value: upstream})
	}
	if ns == "" {
		switch p.Type {
		case packageurl.TypeApk:
			ns = "alpine"
		case packageurl.TypeDebian:
			ns = "debian"
		}
	}
	q.Normalize()
	p.PURL = packageurl.NewPackageURL(p.Type, ns, p.Name, version, q, "").ToString()
}
