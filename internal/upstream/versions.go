package upstream

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/google/osv-scalibr/semantic"
	"golang.org/x/mod/semver"
)

// Compare orders two versions of an ecosystem by its own rules (Go:
// semver; the others: OSV's ordering, osv-scalibr semantic). Versions that
// do not parse compare as strings.
func Compare(eco, a, b string) int {
	if eco == Go {
		return semver.Compare(GoVersion(a), GoVersion(b))
	}
	va, err := semantic.Parse(a, eco)
	if err != nil {
		return strings.Compare(a, b)
	}
	c, err := va.CompareStr(b)
	if err != nil {
		return strings.Compare(a, b)
	}
	return c
}

// Major is a version's major component ("v1.2.3" and "1.2.3" → 1); -1
// when the version does not start with a number.
func Major(v string) int {
	v = strings.TrimPrefix(strings.TrimPrefix(v, "v"), "V")
	end := strings.IndexFunc(v, func(r rune) bool { return !unicode.IsDigit(r) })
	if end < 0 {
		end = len(v)
	}
	if end == 0 {
		return -1
	}
	n, err := strconv.Atoi(v[:end])
	if err != nil {
		return -1
	}
	return n
}

// isPrerelease guesses a prerelease from the version string for the
// registries that do not say (Maven, PyPI, NuGet, Packagist, crates.io).
func isPrerelease(eco, v string) bool {
	switch eco {
	case Go:
		return semver.Prerelease(GoVersion(v)) != ""
	case Maven:
		return mavenPre.MatchString(v)
	case PyPI:
		return pypiPre.MatchString(v)
	case Packagist:
		return packagistPre.MatchString(v)
	}
	return strings.Contains(v, "-")
}

var (
	mavenPre     = regexp.MustCompile(`(?i)(snapshot|alpha|beta|[.-]rc\d*|[.-]cr\d*|[.-]m\d+|milestone|preview|-ea$)`)
	pypiPre      = regexp.MustCompile(`(?i)\d[._-]?(a|b|c|rc|alpha|beta|pre|preview|dev)\d*`)
	packagistPre = regexp.MustCompile(`(?i)(dev|alpha|beta|rc|[.-]?a\d|[.-]?b\d)`)
)

// stable returns the releases that can be called latest: neither
// prereleases nor yanked.
func stable(in *Info) []Release {
	var out []Release
	for _, r := range in.Releases {
		if !r.Prerelease && !r.Yanked {
			out = append(out, r)
		}
	}
	return out
}

// LatestOverall is the highest stable release (or the registry's own
// "latest" when it names one that is higher or the only one known).
func LatestOverall(in *Info) string {
	best := ""
	for _, r := range stable(in) {
		if best == "" || Compare(in.Ecosystem, r.Version, best) > 0 {
			best = r.Version
		}
	}
	if in.Latest != "" && (best == "" || Compare(in.Ecosystem, in.Latest, best) > 0) {
		if rel := in.Release(in.Latest); rel == nil || !rel.Yanked {
			best = in.Latest
		}
	}
	return best
}

// LatestInMajor is the highest stable release with the major of v (v
// itself when nothing newer exists in that major).
func LatestInMajor(in *Info, v string) string {
	m := Major(v)
	best := ""
	for _, r := range stable(in) {
		if Major(r.Version) != m {
			continue
		}
		if best == "" || Compare(in.Ecosystem, r.Version, best) > 0 {
			best = r.Version
		}
	}
	if best == "" || Compare(in.Ecosystem, best, v) < 0 {
		return ""
	}
	return best
}

// Behind counts the stable releases newer than v up to and including
// latest.
func Behind(in *Info, v, latest string) int {
	n := 0
	seen := map[string]bool{}
	for _, r := range stable(in) {
		if seen[r.Version] {
			continue
		}
		seen[r.Version] = true
		if Compare(in.Ecosystem, r.Version, v) > 0 && Compare(in.Ecosystem, r.Version, latest) <= 0 {
			n++
		}
	}
	return n
}

// Sorted returns the releases in ascending version order.
func Sorted(in *Info) []Release {
	out := slices.Clone(in.Releases)
	slices.SortStableFunc(out, func(a, b Release) int { return Compare(in.Ecosystem, a.Version, b.Version) })
	return out
}
