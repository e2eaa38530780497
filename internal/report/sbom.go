package report

import (
	"fmt"

	"github.com/shipshape-dev/shipshape/internal/inventory"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

// inventoryOf returns the package inventory a report carries.
func inventoryOf(r *scorecard.Report) (*inventory.Inventory, error) {
	if inv, ok := scorecard.Section[*inventory.Inventory](r, inventory.SectionName); ok && inv != nil {
		return inv, nil
	}
	return nil, fmt.Errorf("the report has no package inventory")
}

// imageName is the SBOM subject's name: the reference without transport.
func imageName(r *scorecard.Report) string {
	if len(r.Image.RepoTags) > 0 {
		return r.Image.RepoTags[0]
	}
	return r.Image.Reference
}

// imageVersion is the SBOM subject's version: its digest.
func imageVersion(r *scorecard.Report) string {
	if r.Image.Digest != "" {
		return r.Image.Digest
	}
	return r.Image.ConfigDigest
}

// sbomPackages are the packages an SBOM lists: those installed in the
// final image, and with o.IncludeDeclared also those only declared in
// lock files (inventory.Package.Declared). omitted counts the declared
// packages left out.
func sbomPackages(inv *inventory.Inventory, o Options) (pkgs []inventory.Package, omitted int) {
	if o.IncludeDeclared {
		return inv.Packages, 0
	}
	pkgs = make([]inventory.Package, 0, len(inv.Packages))
	for _, p := range inv.Packages {
		if p.Declared {
			omitted++
			continue
		}
		pkgs = append(pkgs, p)
	}
	return pkgs, omitted
}

// sbomVersion is a package's version as its purl and other SBOM tools
// write it: Go modules with their "v" ("v0.3.5"), like Syft and Trivy;
// the inventory keeps "0.3.5", which OSV matching wants.
func sbomVersion(p *inventory.Package) string {
	if p.Type == "golang" && !p.GoStdlib {
		return inventory.GoModuleVersion(p.Version)
	}
	return p.Version
}
