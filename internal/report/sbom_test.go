package report

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

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
			{Name: "golang.org/x/text", Version: "0.3.7", Ecosystem: "Go", Type: "golang", PURL: "pkg:golang/golang.org/x/text@0.3.7", Locations: []string{"/app"}, Extractor: "go/binary", Layer: 2},
			// The same purl twice (two binaries): bom-refs must stay unique.
			{Name: "golang.org/x/text", Version: "0.3.7", Ecosystem: "Go", Type: "golang", PURL: "pkg:golang/golang.org/x/text@0.3.7", Locations: []string{"/app2"}, Extractor: "go/binary", Layer: 2},
			{Name: "weird name/<>", Version: "1", Type: "npm", Licenses: []string{"SEE LICENSE IN LICENSE.md"}, Locations: []string{"/x"}, Extractor: "javascript/packagejson", Layer: 2},
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
			Package:  &scorecard.PackageRef{Name: "golang.org/x/text", PURL: "pkg:golang/golang.org/x/text@0.3.7"},
			Evidence: map[string]any{"id": "GO-2022-1059"},
		}},
	}
}

func TestCycloneDXValid(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, "cyclonedx", sbomReport(), Options{}); err != nil {
		t.Fatal(err)
	}
	schematest.Validate(t, "testdata/bom-1.6.schema.json", buf.Bytes())
	var doc struct {
		SpecVersion string `json:"specVersion"`
		Components  []struct {
			BOMRef string `json:"bom-ref"`
			PURL   string `json:"purl"`
		} `json:"components"`
		Vulnerabilities []struct {
			ID      string `json:"id"`
			Affects []struct {
				Ref string `json:"ref"`
			} `json:"affects"`
		} `json:"vulnerabilities"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.SpecVersion != "1.6" || len(doc.Components) != 5 {
		t.Errorf("spec %s, %d components (want 1.6, distro + 4)", doc.SpecVersion, len(doc.Components))
	}
	if len(doc.Vulnerabilities) != 2 || doc.Vulnerabilities[0].ID != "DSA-5532-1" || doc.Vulnerabilities[0].Affects[0].Ref != doc.Components[1].BOMRef {
		t.Errorf("vulnerabilities = %+v", doc.Vulnerabilities)
	}
	refs := map[string]bool{}
	for _, c := range doc.Components {
		if refs[c.BOMRef] {
			t.Errorf("duplicate bom-ref %s", c.BOMRef)
		}
		refs[c.BOMRef] = true
	}
}

func TestSPDXValid(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, "spdx", sbomReport(), Options{}); err != nil {
		t.Fatal(err)
	}
	schematest.Validate(t, "testdata/spdx-2.3.schema.json", buf.Bytes())
	var doc struct {
		SPDXVersion string `json:"spdxVersion"`
		Packages    []struct {
			ID       string `json:"SPDXID"`
			Declared string `json:"licenseDeclared"`
		} `json:"packages"`
		Relationships []struct{} `json:"relationships"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.SPDXVersion != "SPDX-2.3" || len(doc.Packages) != 6 || len(doc.Relationships) != 6 {
		t.Errorf("%s: %d packages, %d relationships", doc.SPDXVersion, len(doc.Packages), len(doc.Relationships))
	}
	if doc.Packages[2].Declared != "Apache-2.0" || doc.Packages[5].Declared != "NOASSERTION" {
		t.Errorf("licences: %+v", doc.Packages)
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
