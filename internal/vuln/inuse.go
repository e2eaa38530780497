package vuln

import (
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/shipshape-dev/shipshape/internal/facts"
	"github.com/shipshape-dev/shipshape/internal/inventory"
)

// In-use values.
const (
	InUseYes = "yes"
	InUseNo  = "no"
)

// maxInUseFiles bounds the files a finding lists as evidence.
const maxInUseFiles = 3

// InUse is what a "shipshape slim" run of the same image (same config
// digest) saw the application open at run time.
type InUse struct {
	// Files are absolute paths in the image.
	Files []string
	// Source says where they come from ("slim run of 2026-11-30,
	// verified").
	Source string
}

// judge returns the in-use verdict of a package: OS packages by the files
// their database says they own, language packages by their locations (the
// binary, jar or package directory that evidences them).
func (u *InUse) judge(sys *facts.System) func(*inventory.Package) (string, []string) {
	byOwner := map[string][]string{}
	used := map[string]bool{}
	for _, f := range u.Files {
		used[f] = true
		if o, ok := sys.Owner(f); ok {
			byOwner[o.Package] = append(byOwner[o.Package], f)
		}
	}
	sorted := slices.Sorted(maps.Keys(used))
	return func(p *inventory.Package) (string, []string) {
		var hit []string
		switch p.Type {
		case "deb", "apk", "rpm":
			if sys == nil || sys.Owned() == 0 {
				return "", nil // no file lists: cannot say
			}
			if _, ok := sys.Unlisted(p.Name); ok {
				return "", nil // its file list was not read: cannot say
			}
			hit = byOwner[p.Name]
		default:
			if len(p.Locations) == 0 || p.Declared {
				return "", nil
			}
			for _, loc := range p.Locations {
				for _, dir := range packageDirs(p, loc) {
					hit = append(hit, under(sorted, dir)...)
				}
				if used[loc] {
					hit = append(hit, loc)
				}
			}
		}
		if len(hit) == 0 {
			return InUseNo, nil
		}
		slices.Sort(hit)
		hit = slices.Compact(hit)
		return InUseYes, hit[:min(len(hit), maxInUseFiles)]
	}
}

// packageDirs are the directories whose files belong to a language
// package evidenced by loc: node_modules/x for its package.json, the
// import package of a Python distribution next to its dist-info, a gem's
// directory. Binaries and archives (Go, jars) are judged by the file.
func packageDirs(p *inventory.Package, loc string) []string {
	dir := path.Dir(loc)
	switch {
	case strings.Contains(dir, "/node_modules/"), p.Type == "gem", p.Type == "composer", p.Type == "cargo":
		if path.Base(loc) == "package.json" || strings.HasSuffix(loc, ".gemspec") {
			return []string{dir}
		}
	case strings.HasSuffix(dir, ".dist-info"), strings.HasSuffix(dir, ".egg-info"):
		site := path.Dir(dir)
		name := strings.ToLower(strings.ReplaceAll(p.Name, "-", "_"))
		return []string{path.Join(site, name), path.Join(site, name+".py")}
	}
	return nil
}

// under lists the sorted paths equal to dir or below it.
func under(sorted []string, dir string) []string {
	i, _ := slices.BinarySearch(sorted, dir)
	var out []string
	for ; i < len(sorted) && (sorted[i] == dir || strings.HasPrefix(sorted[i], dir+"/")); i++ {
		out = append(out, sorted[i])
		if len(out) >= maxInUseFiles {
			break
		}
	}
	return out
}
