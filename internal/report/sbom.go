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
