package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/github/go-spdx/v2/spdxexp"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx/v2/common"
	spdx "github.com/spdx/tools-golang/spdx/v2/v2_3"
	"github.com/spdx/tools-golang/spdxlib"
	spdxtv "github.com/spdx/tools-golang/tagvalue"

	"github.com/shipshape-dev/shipshape/internal/inventory"
	"github.com/shipshape-dev/shipshape/internal/schematest"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

func sbomReport() *scorecard.Report {
	inv := &inventory.Inventory{
		Distro: &inventory.Distro{ID: "debian", VersionID: "12", Ecosystem: "Debian:12", Name: "Debian GNU/Linux 12 (bookworm)", Source: "/etc/os-release"},
		Packages: []inventory.Package{
			{Name: "libssl3", Version: "3.0.11-1~deb12u2", Ecosystem: "Debian:12", Type: "deb", PURL: "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12",
				SourceName: "openssl", SourceVersion: "3.0.11-1~deb12u2", Licenses: []string{"Apache-2.0"}, Locations: []string{"/var/lib/dpkg/status"}, Extractor: "os/dpkg", Layer: 1, LayerDiffID: "sha256:aa"},
			{Name: "golang.org/x/text", Version: "0.3.7", Ecosystem: "Go", Type: "golang", PURL: "pkg:golang/golang.org/x/text@v0.3.7", Licenses: []string{"BSD-3-Clause"}, Locations: []string{"/app"}, Extractor: "go/binary", Layer: 2},
			// The same purl twice (two binaries): bom-refs must stay unique.
			{Name: "golang.org/x/text", Version: "0.3.7", Ecosystem: "Go", Type: "golang", PURL: "pkg:golang/golang.org/x/text@v0.3.7", Licenses: []string{"bsd-3-clause"}, Locations: []string{"/app2"}, Extractor: "go/binary", Layer: 2},
			{Name: "weird name/<>", Version: "1", Type: "npm", Licenses: []string{"SEE LICENSE IN LICENSE.md"}, Locations: []string{"/x"}, Extractor: "javascript/packagejson", Layer: 2},
			{Name: "dual", Version: "2.0.0", Ecosystem: "npm", Type: "npm", PURL: "pkg:npm/dual@2.0.0", Licenses: []string{"(MIT OR Apache-2.0)"}, Locations: []string{"/usr/lib/node_modules/dual/package.json"}, Extractor: "javascript/packagejson", Layer: 2},
			// Only in a lock file: out of the SBOM unless IncludeDeclared.
			{Name: "left-pad", Version: "1.1.2", Ecosystem: "npm", Type: "npm", PURL: "pkg:npm/left-pad@1.1.2", Licenses: []string{"WTFPL"}, Locations: []string{"/usr/share/doc/x/package-lock.json"}, Extractor: "javascript/packagelockjson", Layer: 2, Declared: true},
		},
	}
	return &scorecard.Report{
		SchemaVersion: scorecard.SchemaVersion,
		Tool:          scorecard.Tool{Name: "shipshape", Version: "test"},
		CreatedAt:     time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Image:         scorecard.ImageInfo{Reference: "docker-archive:app.tar", Transport: "docker-archive", RepoTags: []string{"app:1"}, Digest: "sha256:bb"},
		Sections:      map[string]any{inventory.SectionName: inv},
		Findings: []scorecard.Finding{{
			Practice: scorecard.P5, Rule: "SS-P5-001", Severity: scorecard.Critical, Title: "DSA-5532-1 in libssl3",
			Package:  &scorecard.PackageRef{Name: "libssl3", PURL: "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12"},
			Evidence: map[string]any{"id": "DSA-5532-1", "aliases": []string{"CVE-2023-5678"}, "cvssScore": 9.8, "cvssVector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"},
			Fix:      "Upgrade libssl3",
		}, {
			Practice: scorecard.P5, Rule: "SS-P5-002", Severity: scorecard.Medium, Title: "GO-2022-1059",
			Package:  &scorecard.PackageRef{Name: "golang.org/x/text", PURL: "pkg:golang/golang.org/x/text@v0.3.7"},
			Evidence: map[string]any{"id": "GO-2022-1059"},
		}, {
			Practice: scorecard.P5, Rule: "SS-P5-002", Severity: scorecard.Low, Title: "GHSA-xxxx in left-pad",
			Package:  &scorecard.PackageRef{Name: "left-pad", PURL: "pkg:npm/left-pad@1.1.2"},
			Evidence: map[string]any{"id": "GHSA-2222-3333-4444", "declaredOnly": true},
		}},
	}
}

// cdxDoc is the part of a CycloneDX document the tests read.
type cdxDoc struct {
	SpecVersion string `json:"specVersion"`
	Metadata    struct {
		Properties []cdxProp `json:"properties"`
	} `json:"metadata"`
	Components []struct {
		BOMRef   string `json:"bom-ref"`
		Name     string `json:"name"`
		Version  string `json:"version"`
		PURL     string `json:"purl"`
		Licenses []struct {
			License *struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"license"`
			Expression string `json:"expression"`
		} `json:"licenses"`
		Properties []cdxProp `json:"properties"`
	} `json:"components"`
	Vulnerabilities []struct {
		ID      string `json:"id"`
		Affects []struct {
			Ref string `json:"ref"`
		} `json:"affects"`
	} `json:"vulnerabilities"`
}

type cdxProp struct{ Name, Value string }

func prop(ps []cdxProp, name string) string {
	for _, p := range ps {
		if p.Name == name {
			return p.Value
		}
	}
	return ""
}

// writeCDX writes the report as CycloneDX, validates it against the 1.6
// schema, decodes it with the CycloneDX library and returns it parsed.
func writeCDX(t *testing.T, r *scorecard.Report, o Options) cdxDoc {
	t.Helper()
	var buf bytes.Buffer
	if err := SBOMFormats.Write(&buf, "cyclonedx", r, o); err != nil {
		t.Fatal(err)
	}
	schematest.Validate(t, "testdata/bom-1.6.schema.json", buf.Bytes())
	bom := new(cdx.BOM)
	if err := cdx.NewBOMDecoder(bytes.NewReader(buf.Bytes()), cdx.BOMFileFormatJSON).Decode(bom); err != nil {
		t.Fatalf("cyclonedx-go cannot read the BOM: %v", err)
	}
	if bom.SpecVersion != cdx.SpecVersion1_6 {
		t.Errorf("cyclonedx-go reads spec version %v, want 1.6", bom.SpecVersion)
	}
	var doc cdxDoc
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestCycloneDXValid(t *testing.T) {
	doc := writeCDX(t, sbomReport(), Options{})
	if doc.SpecVersion != "1.6" || len(doc.Components) != 6 {
		t.Errorf("spec %s, %d components (want 1.6, distro + 5 installed)", doc.SpecVersion, len(doc.Components))
	}
	if got := prop(doc.Metadata.Properties, "shipshape:declaredOnlyOmitted"); got != "1" {
		t.Errorf("declaredOnlyOmitted = %q, want 1", got)
	}
	if len(doc.Vulnerabilities) != 2 || doc.Vulnerabilities[0].ID != "DSA-5532-1" || doc.Vulnerabilities[0].Affects[0].Ref != doc.Components[1].BOMRef {
		t.Errorf("vulnerabilities = %+v", doc.Vulnerabilities)
	}
	refs := map[string]bool{}
	lic := map[string]string{}
	for _, c := range doc.Components {
		if refs[c.BOMRef] {
			t.Errorf("duplicate bom-ref %s", c.BOMRef)
		}
		refs[c.BOMRef] = true
		if c.Name == "left-pad" {
			t.Errorf("declared-only package listed by default: %+v", c)
		}
		if c.Name == "golang.org/x/text" && (c.Version != "v0.3.7" || c.PURL != "pkg:golang/golang.org/x/text@v0.3.7") {
			t.Errorf("Go module version %q, purl %q: want v0.3.7 in both, as Go writes it", c.Version, c.PURL)
		}
		var ls []string
		for _, l := range c.Licenses {
			switch {
			case l.Expression != "":
				ls = append(ls, "expression:"+l.Expression)
			case l.License != nil && l.License.ID != "":
				ls = append(ls, "id:"+l.License.ID)
			case l.License != nil:
				ls = append(ls, "name:"+l.License.Name)
			}
		}
		lic[c.Name] = strings.Join(ls, ",")
	}
	for name, want := range map[string]string{
		"libssl3":           "id:Apache-2.0",
		"golang.org/x/text": "id:BSD-3-Clause", // "bsd-3-clause" as the list spells it
		"weird name/<>":     "name:SEE LICENSE IN LICENSE.md",
		"dual":              "expression:MIT OR Apache-2.0",
	} {
		if lic[name] != want {
			t.Errorf("%s licences = %q, want %q", name, lic[name], want)
		}
	}
}

func TestCycloneDXIncludeDeclared(t *testing.T) {
	doc := writeCDX(t, sbomReport(), Options{IncludeDeclared: true})
	if len(doc.Components) != 7 || len(doc.Metadata.Properties) != 0 {
		t.Fatalf("%d components, metadata %+v (want distro + 6, nothing omitted)", len(doc.Components), doc.Metadata.Properties)
	}
	for _, c := range doc.Components {
		if got := prop(c.Properties, "shipshape:declaredOnly"); (got == "true") != (c.Name == "left-pad") {
			t.Errorf("%s: declaredOnly = %q", c.Name, got)
		}
	}
	if len(doc.Vulnerabilities) != 3 || doc.Vulnerabilities[2].ID != "GHSA-2222-3333-4444" {
		t.Errorf("vulnerabilities = %+v", doc.Vulnerabilities)
	}
}

// readSPDX writes the report as SPDX, validates it against the SPDX 2.3
// schema and reads it back with the SPDX project's tools-golang: its JSON
// reader, its document validation, its described-package lookup, and a
// round trip through its tag-value writer and reader. Every licence field
// must be NOASSERTION, NONE or a valid SPDX expression whose LicenseRefs
// the document defines.
func readSPDX(t *testing.T, r *scorecard.Report, o Options) *spdx.Document {
	t.Helper()
	var buf bytes.Buffer
	if err := SBOMFormats.Write(&buf, "spdx", r, o); err != nil {
		t.Fatal(err)
	}
	schematest.Validate(t, "testdata/spdx-2.3.schema.json", buf.Bytes())
	doc, err := spdxjson.Read(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("tools-golang cannot read the document: %v", err)
	}
	if err := spdxlib.ValidateDocument(doc); err != nil {
		t.Errorf("tools-golang: %v", err)
	}
	if ids, err := spdxlib.GetDescribedPackageIDs(doc); err != nil || len(ids) != 1 || ids[0] != "Image" {
		t.Errorf("described packages = %v, %v; want [Image]", ids, err)
	}
	var tv bytes.Buffer
	if err := spdxtv.Write(doc, &tv); err != nil {
		t.Fatalf("tag-value: %v", err)
	}
	back, err := spdxtv.Read(&tv)
	if err != nil {
		t.Fatalf("tag-value read back: %v", err)
	}
	if len(back.Packages) != len(doc.Packages) || len(back.OtherLicenses) != len(doc.OtherLicenses) {
		t.Errorf("tag-value round trip: %d packages, %d other licences; want %d, %d", len(back.Packages), len(back.OtherLicenses), len(doc.Packages), len(doc.OtherLicenses))
	}
	defined := map[string]bool{}
	for _, ol := range doc.OtherLicenses {
		if defined[ol.LicenseIdentifier] || !strings.HasPrefix(ol.LicenseIdentifier, "LicenseRef-") || ol.ExtractedText == "" {
			t.Errorf("other licence %+v: duplicate, not a LicenseRef- or without text", ol)
		}
		defined[ol.LicenseIdentifier] = true
	}
	ids := map[common.ElementID]bool{}
	for _, p := range doc.Packages {
		if ids[p.PackageSPDXIdentifier] {
			t.Errorf("duplicate SPDXID %s", p.PackageSPDXIdentifier)
		}
		ids[p.PackageSPDXIdentifier] = true
		for _, l := range []string{p.PackageLicenseConcluded, p.PackageLicenseDeclared} {
			if l == "NOASSERTION" || l == "NONE" {
				continue
			}
			if ok, bad := spdxexp.ValidateLicenses([]string{l}); !ok {
				t.Errorf("%s: licence %q is not a valid SPDX expression (%v)", p.PackageName, l, bad)
			}
			for _, f := range strings.FieldsFunc(l, func(r rune) bool { return r == ' ' || r == '(' || r == ')' }) {
				if strings.HasPrefix(f, "LicenseRef-") && !defined[f] {
					t.Errorf("%s: %s is not defined in the document", p.PackageName, f)
				}
			}
		}
	}
	return doc
}

func TestSPDXValid(t *testing.T) {
	doc := readSPDX(t, sbomReport(), Options{})
	if len(doc.Packages) != 7 || len(doc.Relationships) != 7 {
		t.Errorf("%d packages, %d relationships (want image, OS + 5)", len(doc.Packages), len(doc.Relationships))
	}
	if !strings.Contains(doc.CreationInfo.CreatorComment, "1 package only declared") {
		t.Errorf("creator comment %q does not say what was left out", doc.CreationInfo.CreatorComment)
	}
	lic := map[string]string{}
	for _, p := range doc.Packages {
		lic[p.PackageName] = p.PackageLicenseDeclared
		if p.PackageName == "left-pad" {
			t.Errorf("declared-only package listed by default")
		}
	}
	if len(doc.OtherLicenses) != 1 || doc.OtherLicenses[0].ExtractedText != "SEE LICENSE IN LICENSE.md" {
		t.Fatalf("other licences = %+v", doc.OtherLicenses)
	}
	for name, want := range map[string]string{
		"app:1":             "NOASSERTION",
		"libssl3":           "Apache-2.0",
		"golang.org/x/text": "BSD-3-Clause",
		"dual":              "MIT OR Apache-2.0",
		"weird name/<>":     doc.OtherLicenses[0].LicenseIdentifier,
	} {
		if lic[name] != want {
			t.Errorf("%s licence = %q, want %q", name, lic[name], want)
		}
	}
}

func TestSPDXIncludeDeclared(t *testing.T) {
	doc := readSPDX(t, sbomReport(), Options{IncludeDeclared: true})
	if len(doc.Packages) != 8 || doc.CreationInfo.CreatorComment != "" {
		t.Fatalf("%d packages, comment %q (want image, OS + 6, nothing left out)", len(doc.Packages), doc.CreationInfo.CreatorComment)
	}
	for _, p := range doc.Packages {
		marked := len(p.Annotations) == 1 && p.Annotations[0].AnnotationComment == "shipshape:declaredOnly=true"
		if marked != (p.PackageName == "left-pad") {
			t.Errorf("%s: annotations %+v", p.PackageName, p.Annotations)
		}
	}
}

func TestSBOMWithoutInventory(t *testing.T) {
	r := sbomReport()
	r.Sections = nil
	for _, f := range []string{"cyclonedx", "spdx"} {
		if err := Write(&bytes.Buffer{}, f, r, Options{}); err == nil {
			t.Errorf("%s without an inventory: no error", f)
		}
	}
}
