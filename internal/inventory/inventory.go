// Package inventory lists the third-party packages an image carries (P4):
// OS packages (dpkg, apk, rpm) with their source packages, and language
// packages (Go binaries, npm, Python, Java, Ruby, Rust, PHP, .NET), each
// with its purl, licences, evidence files and the layer that introduced it
// (and removed it). It runs osv-scalibr's extractors inside shipshape's
// single layer pass.
package inventory

import (
	"cmp"
	"slices"
)

// Package is one installed (or declared) package.
type Package struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Ecosystem is the OSV ecosystem ("Debian:12", "Alpine:v3.20", "Go",
	// "npm", "PyPI", "Maven", …); empty when unknown.
	Ecosystem string `json:"ecosystem,omitempty"`
	PURL      string `json:"purl,omitempty"`
	// Type is the purl type (deb, apk, rpm, golang, npm, pypi, maven, …).
	Type string `json:"type"`
	// SourceName and SourceVersion name the OS source package (Debian's
	// Source field, Alpine's origin, the source RPM).
	SourceName    string   `json:"sourceName,omitempty"`
	SourceVersion string   `json:"sourceVersion,omitempty"`
	Licenses      []string `json:"licenses,omitempty"`
	// Locations are the files that evidence the package.
	Locations []string `json:"locations"`
	// Extractor is the osv-scalibr extractor that found it.
	Extractor string `json:"extractor"`
	// Layer introduced the package (1-based); LayerDiffID and CreatedBy
	// describe that layer.
	Layer       int    `json:"layer"`
	LayerDiffID string `json:"layerDiffID,omitempty"`
	CreatedBy   string `json:"createdBy,omitempty"`
	// RemovedIn is the layer that removed the package (0: still present).
	RemovedIn int `json:"removedInLayer,omitempty"`
	// Declared marks packages read from a lock file: declared, maybe not
	// installed.
	Declared bool `json:"declared,omitempty"`
	// GoToolchain marks the Go standard library entry of a Go binary.
	GoStdlib bool `json:"goStdlib,omitempty"`
	// Arch is the package's architecture, when declared.
	Arch string `json:"arch,omitempty"`
}

// InFinal reports whether the package is in the final image.
func (p *Package) InFinal() bool { return p.RemovedIn == 0 }

// Key identifies a package in one evidence file.
func (p *Package) Key() string { return p.Type + "\x00" + p.Name + "\x00" + p.Version }

// Distro is the operating system of the final image.
type Distro struct {
	ID        string `json:"id"`
	VersionID string `json:"versionID,omitempty"`
	Codename  string `json:"codename,omitempty"`
	Name      string `json:"prettyName,omitempty"`
	// Ecosystem is the OSV ecosystem of its packages ("Debian:12").
	Ecosystem string `json:"ecosystem,omitempty"`
	// Source is the file the distro was read from.
	Source string `json:"source"`
}

// Inventory is the report section "packages".
type Inventory struct {
	Distro *Distro `json:"distro,omitempty"`
	// Packages are in the final image, sorted by ecosystem, name, version.
	Packages []Package `json:"packages"`
	// Removed are packages some layer installed and a later one removed.
	Removed []Package `json:"removed,omitempty"`
	// Errors are files an extractor could not read.
	Errors []string `json:"errors,omitempty"`
	// Skipped are executables larger than the largest file read, not
	// read for the build information of Go or Rust programs: a program
	// that big is rare (a CUDA library is not one), and whether one is
	// cannot be told without reading it.
	Skipped []string `json:"skipped,omitempty"`
}

// SectionName is the report section the inventory is published under.
const SectionName = "packages"

// CountByEcosystem counts the final packages per ecosystem name (without
// the release: "Debian", "Go", …).
func (inv *Inventory) CountByEcosystem() map[string]int {
	m := map[string]int{}
	for _, p := range inv.Packages {
		m[EcosystemBase(p.Ecosystem, p.Type)]++
	}
	return m
}

// EcosystemBase is an ecosystem without its release ("Debian:12" →
// "Debian"); for packages without an ecosystem, their purl type.
func EcosystemBase(eco, typ string) string {
	if eco == "" {
		return typ
	}
	for i := 0; i < len(eco); i++ {
		if eco[i] == ':' {
			return eco[:i]
		}
	}
	return eco
}

func sortPackages(ps []Package) {
	slices.SortFunc(ps, func(a, b Package) int {
		return cmp.Or(cmp.Compare(a.Ecosystem, b.Ecosystem), cmp.Compare(a.Type, b.Type),
			cmp.Compare(a.Name, b.Name), cmp.Compare(a.Version, b.Version),
			cmp.Compare(a.Layer, b.Layer), slices.Compare(a.Locations, b.Locations))
	})
}
