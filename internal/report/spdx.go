package report

import (
	"crypto/sha256"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx/v2/common"
	spdx "github.com/spdx/tools-golang/spdx/v2/v2_3"

	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

// SPDX writes the report's package inventory as an SPDX 2.3 JSON
// document: the image is the described package and CONTAINS each package
// of the final image, with its purl and declared licence.
func SPDX(w io.Writer, r *scorecard.Report) error {
	inv, err := inventoryOf(r)
	if err != nil {
		return fmt.Errorf("spdx: %w", err)
	}
	name := imageName(r)
	doc := &spdx.Document{
		SPDXVersion:       spdx.Version,
		DataLicense:       spdx.DataLicense,
		SPDXIdentifier:    "DOCUMENT",
		DocumentName:      name,
		DocumentNamespace: "https://shipshape.dev/spdx/" + sanitizeID(name) + "-" + uuidFor(r, "spdx"),
		CreationInfo: &spdx.CreationInfo{
			Creators: []common.Creator{{CreatorType: "Tool", Creator: r.Tool.Name + "-" + r.Tool.Version}},
			Created:  r.CreatedAt.UTC().Format(time.RFC3339),
		},
	}
	root := &spdx.Package{
		PackageName:             name,
		PackageSPDXIdentifier:   "Image",
		PackageVersion:          imageVersion(r),
		PackageDownloadLocation: "NOASSERTION",
		PrimaryPackagePurpose:   "CONTAINER",
		PackageLicenseConcluded: "NOASSERTION",
		PackageLicenseDeclared:  "NOASSERTION",
		PackageCopyrightText:    "NOASSERTION",
	}
	doc.Packages = append(doc.Packages, root)
	doc.Relationships = append(doc.Relationships, &spdx.Relationship{
		RefA: common.MakeDocElementID("", "DOCUMENT"), RefB: common.MakeDocElementID("", "Image"), Relationship: "DESCRIBES",
	})
	if inv.Distro != nil {
		doc.Packages = append(doc.Packages, &spdx.Package{
			PackageName: inv.Distro.ID, PackageSPDXIdentifier: "OperatingSystem", PackageVersion: inv.Distro.VersionID,
			PackageDownloadLocation: "NOASSERTION", PrimaryPackagePurpose: "OPERATING_SYSTEM",
			PackageLicenseConcluded: "NOASSERTION", PackageLicenseDeclared: "NOASSERTION", PackageCopyrightText: "NOASSERTION",
		})
		doc.Relationships = append(doc.Relationships, &spdx.Relationship{
			RefA: common.MakeDocElementID("", "Image"), RefB: common.MakeDocElementID("", "OperatingSystem"), Relationship: "CONTAINS",
		})
	}
	for i, p := range inv.Packages {
		id := common.ElementID("Package-" + strconv.Itoa(i+1) + "-" + sanitizeID(p.Name))
		sp := &spdx.Package{
			PackageName:             p.Name,
			PackageSPDXIdentifier:   id,
			PackageVersion:          p.Version,
			PackageDownloadLocation: "NOASSERTION",
			PrimaryPackagePurpose:   "LIBRARY",
			PackageLicenseConcluded: "NOASSERTION",
			PackageLicenseDeclared:  spdxLicense(p.Licenses),
			PackageCopyrightText:    "NOASSERTION",
			PackageComment:          fmt.Sprintf("layer %d; found in %s by %s", p.Layer, strings.Join(p.Locations, ", "), p.Extractor),
		}
		if p.SourceName != "" {
			sp.PackageSourceInfo = "built from source package " + strings.TrimSpace(p.SourceName+" "+p.SourceVersion)
		}
		if p.PURL != "" {
			sp.PackageExternalReferences = []*spdx.PackageExternalReference{{Category: "PACKAGE-MANAGER", RefType: "purl", Locator: p.PURL}}
		}
		doc.Packages = append(doc.Packages, sp)
		doc.Relationships = append(doc.Relationships, &spdx.Relationship{
			RefA: common.MakeDocElementID("", "Image"), RefB: common.MakeDocElementID("", string(id)), Relationship: "CONTAINS",
		})
	}
	return spdxjson.Write(doc, w, spdxjson.Indent("  "), spdxjson.EscapeHTML(false))
}

var (
	idUnsafe      = regexp.MustCompile(`[^A-Za-z0-9.\-]+`)
	spdxLicenseRe = regexp.MustCompile(`^[A-Za-z0-9.+\-]+( (AND|OR|WITH) [A-Za-z0-9.+\-]+)*$`)
)

// sanitizeID keeps the characters an SPDX identifier allows.
func sanitizeID(s string) string {
	s = idUnsafe.ReplaceAllString(s, "-")
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}

// spdxLicense joins declared licences into an SPDX expression when they
// look like SPDX identifiers; NOASSERTION otherwise.
func spdxLicense(ls []string) string {
	if len(ls) == 0 {
		return "NOASSERTION"
	}
	for _, l := range ls {
		if !spdxLicenseRe.MatchString(l) {
			return "NOASSERTION"
		}
	}
	if len(ls) == 1 {
		return ls[0]
	}
	return "(" + strings.Join(ls, ") AND (") + ")"
}

// uuidFor derives a stable UUID (v4 layout) from the report's subject, so
// that the same scan writes the same document.
func uuidFor(r *scorecard.Report, kind string) string {
	h := sha256.Sum256([]byte(kind + "\x00" + r.Image.Reference + "\x00" + r.Image.Digest + "\x00" + r.Image.ConfigDigest + "\x00" + r.CreatedAt.String()))
	h[6] = h[6]&0x0f | 0x40
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}
