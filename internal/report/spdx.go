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

	"github.com/shipshape-dev/shipshape/internal/humanize"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

// SPDX writes the report's package inventory as an SPDX 2.3 JSON
// document: the image is the described package and CONTAINS each package
// installed in the final image, with its purl and declared licence.
// Packages only declared in lock files are left out (see spdxDoc).
func SPDX(w io.Writer, r *scorecard.Report) error { return writeSPDX(w, r, Options{}) }

// writeSPDX is SPDX with the options: o.IncludeDeclared lists the
// packages only declared in lock files too, each annotated
// "shipshape:declaredOnly=true".
func writeSPDX(w io.Writer, r *scorecard.Report, o Options) error {
	doc, err := spdxDoc(r, o)
	if err != nil {
		return err
	}
	return spdxjson.Write(doc, w, spdxjson.Indent("  "), spdxjson.EscapeHTML(false))
}

// spdxDoc builds the SPDX document of a report.
func spdxDoc(r *scorecard.Report, o Options) (*spdx.Document, error) {
	inv, err := inventoryOf(r)
	if err != nil {
		return nil, fmt.Errorf("spdx: %w", err)
	}
	pkgs, omitted := sbomPackages(inv, o)
	created := r.CreatedAt.UTC().Format(time.RFC3339)
	name := imageName(r)
	doc := &spdx.Document{
		SPDXVersion:       spdx.Version,
		DataLicense:       spdx.DataLicense,
		SPDXIdentifier:    "DOCUMENT",
		DocumentName:      name,
		DocumentNamespace: "https://shipshape.dev/spdx/" + sanitizeID(name) + "-" + uuidFor(r, "spdx"),
		CreationInfo: &spdx.CreationInfo{
			Creators: []common.Creator{{CreatorType: "Tool", Creator: r.Tool.Name + "-" + r.Tool.Version}},
			Created:  created,
		},
	}
	if omitted > 0 {
		doc.CreationInfo.CreatorComment = humanize.Count(omitted, "package") + " only declared in lock files (not found installed) left out; shipshape sbom --include-declared lists them."
	}
	lic := &spdxLicenses{doc: doc}
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
	for i, p := range pkgs {
		id := common.ElementID("Package-" + strconv.Itoa(i+1) + "-" + sanitizeID(p.Name))
		sp := &spdx.Package{
			PackageName:             p.Name,
			PackageSPDXIdentifier:   id,
			PackageVersion:          sbomVersion(&p),
			PackageDownloadLocation: "NOASSERTION",
			PrimaryPackagePurpose:   "LIBRARY",
			PackageLicenseConcluded: "NOASSERTION",
			PackageLicenseDeclared:  lic.declared(p.Licenses),
			PackageCopyrightText:    "NOASSERTION",
			PackageComment:          fmt.Sprintf("layer %d; found in %s by %s", p.Layer, strings.Join(p.Locations, ", "), p.Extractor),
		}
		if p.SourceName != "" {
			sp.PackageSourceInfo = "built from source package " + strings.TrimSpace(p.SourceName+" "+p.SourceVersion)
		}
		if p.PURL != "" {
			sp.PackageExternalReferences = []*spdx.PackageExternalReference{{Category: "PACKAGE-MANAGER", RefType: "purl", Locator: p.PURL}}
		}
		if p.Declared {
			sp.PackageComment = "declared in a lock file, not found installed; " + sp.PackageComment
			sp.Annotations = []spdx.Annotation{{
				Annotator:         common.Annotator{AnnotatorType: "Tool", Annotator: r.Tool.Name + "-" + r.Tool.Version},
				AnnotationDate:    created,
				AnnotationType:    "OTHER",
				AnnotationComment: "shipshape:declaredOnly=true",
			}}
		}
		doc.Packages = append(doc.Packages, sp)
		doc.Relationships = append(doc.Relationships, &spdx.Relationship{
			RefA: common.MakeDocElementID("", "Image"), RefB: common.MakeDocElementID("", string(id)), Relationship: "CONTAINS",
		})
	}
	return doc, nil
}

var idUnsafe = regexp.MustCompile(`[^A-Za-z0-9.\-]+`)

// sanitizeID keeps the characters an SPDX identifier allows.
func sanitizeID(s string) string {
	s = idUnsafe.ReplaceAllString(s, "-")
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}

// spdxLicenses writes declared licences as SPDX licence expressions,
// defining a LicenseRef- in the document for each licence that is not
// SPDX (its only known text is its name).
type spdxLicenses struct {
	doc  *spdx.Document
	refs map[string]string // name → LicenseRef-…
}

// declared is the PackageLicenseDeclared of a package with these
// licences: NOASSERTION without any; their SPDX ids and expressions (and
// LicenseRefs for the others) joined with AND.
func (l *spdxLicenses) declared(ls []string) string {
	var read []licenseRead
	for _, s := range ls {
		r := readLicense(s)
		if r.text == "" {
			continue
		}
		if r.kind == licenseName {
			r = licenseRead{kind: licenseID, text: l.ref(r.text)}
		}
		read = append(read, r)
	}
	if len(read) == 0 {
		return "NOASSERTION"
	}
	return spdxAnd(read)
}

// ref returns the LicenseRef- standing for a licence name, adding it to
// the document's other licences the first time.
func (l *spdxLicenses) ref(name string) string {
	if ref, ok := l.refs[name]; ok {
		return ref
	}
	if l.refs == nil {
		l.refs = map[string]string{}
	}
	id := strings.Trim(idUnsafe.ReplaceAllString(name, "-"), "-")
	if len(id) > 48 {
		id = id[:48]
	}
	sum := sha256.Sum256([]byte(name))
	ref := fmt.Sprintf("LicenseRef-%s-%x", id, sum[:4])
	if id == "" {
		ref = fmt.Sprintf("LicenseRef-%x", sum[:4])
	}
	l.refs[name] = ref
	l.doc.OtherLicenses = append(l.doc.OtherLicenses, &spdx.OtherLicense{
		LicenseIdentifier: ref,
		ExtractedText:     name,
		LicenseName:       name,
		LicenseComment:    "The licence as the package's metadata names it; it is not an SPDX licence expression.",
	})
	return ref
}

// uuidFor derives a stable UUID (v4 layout) from the report's subject, so
// that the same scan writes the same document.
func uuidFor(r *scorecard.Report, kind string) string {
	h := sha256.Sum256([]byte(kind + "\x00" + r.Image.Reference + "\x00" + r.Image.Digest + "\x00" + r.Image.ConfigDigest + "\x00" + r.CreatedAt.String()))
	h[6] = h[6]&0x0f | 0x40
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}
