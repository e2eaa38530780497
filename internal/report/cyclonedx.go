package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

// CycloneDX writes the report's package inventory as a CycloneDX 1.6 JSON
// SBOM: the image is the metadata component, each package installed in
// the final image a component with its purl, licences, evidence files and
// layer. Packages only declared in lock files are left out.
func CycloneDX(w io.Writer, r *scorecard.Report) error { return writeCycloneDX(w, r, Options{}) }

// writeCycloneDX is CycloneDX with the options: o.IncludeDeclared lists
// the packages only declared in lock files too, with the property
// shipshape:declaredOnly=true.
func writeCycloneDX(w io.Writer, r *scorecard.Report, o Options) error {
	inv, err := inventoryOf(r)
	if err != nil {
		return fmt.Errorf("cyclonedx: %w", err)
	}
	pkgs, omitted := sbomPackages(inv, o)
	bom := cdx.NewBOM()
	bom.SpecVersion = cdx.SpecVersion1_6
	bom.SerialNumber = "urn:uuid:" + uuidFor(r, "cyclonedx")
	root := cdx.Component{
		BOMRef:  "image",
		Type:    cdx.ComponentTypeContainer,
		Name:    imageName(r),
		Version: imageVersion(r),
	}
	if inv.Distro != nil {
		root.Properties = &[]cdx.Property{{Name: "shipshape:distro", Value: inv.Distro.Ecosystem}}
	}
	bom.Metadata = &cdx.Metadata{
		Timestamp: r.CreatedAt.UTC().Format(time.RFC3339),
		Tools: &cdx.ToolsChoice{Components: &[]cdx.Component{{
			Type: cdx.ComponentTypeApplication, Name: r.Tool.Name, Version: r.Tool.Version,
		}}},
		Component: &root,
	}
	if omitted > 0 {
		bom.Metadata.Properties = &[]cdx.Property{{Name: "shipshape:declaredOnlyOmitted", Value: strconv.Itoa(omitted)}}
	}
	comps := []cdx.Component{}
	var refs []string
	if inv.Distro != nil {
		comps = append(comps, cdx.Component{
			BOMRef: "distro", Type: cdx.ComponentTypeOS, Name: inv.Distro.ID, Version: inv.Distro.VersionID,
			Description: inv.Distro.Name,
		})
		refs = append(refs, "distro")
	}
	seen := map[string]int{}
	refByPURL := map[string]string{}
	for _, p := range pkgs {
		ref := p.PURL
		if ref == "" {
			ref = p.Type + ":" + p.Name + "@" + p.Version
		}
		if n := seen[ref]; n > 0 {
			seen[ref] = n + 1
			ref += "#" + strconv.Itoa(n+1)
		} else {
			seen[ref] = 1
		}
		c := cdx.Component{
			BOMRef:     ref,
			Type:       cdx.ComponentTypeLibrary,
			Name:       p.Name,
			Version:    sbomVersion(&p),
			PackageURL: p.PURL,
		}
		if ls := cdxLicenses(p.Licenses); len(ls) > 0 {
			lc := make(cdx.Licenses, len(ls))
			for i, l := range ls {
				switch {
				case l.expression != "":
					lc[i] = cdx.LicenseChoice{Expression: l.expression}
				case l.id != "":
					lc[i] = cdx.LicenseChoice{License: &cdx.License{ID: l.id}}
				default:
					lc[i] = cdx.LicenseChoice{License: &cdx.License{Name: l.name}}
				}
			}
			c.Licenses = &lc
		}
		var occ []cdx.EvidenceOccurrence
		for _, l := range p.Locations {
			occ = append(occ, cdx.EvidenceOccurrence{Location: l})
		}
		if len(occ) > 0 {
			c.Evidence = &cdx.Evidence{Occurrences: &occ}
		}
		props := []cdx.Property{
			{Name: "shipshape:layer", Value: strconv.Itoa(p.Layer)},
			{Name: "shipshape:extractor", Value: p.Extractor},
		}
		if p.Ecosystem != "" {
			props = append(props, cdx.Property{Name: "shipshape:ecosystem", Value: p.Ecosystem})
		}
		if p.LayerDiffID != "" {
			props = append(props, cdx.Property{Name: "shipshape:layerDiffID", Value: p.LayerDiffID})
		}
		if p.SourceName != "" {
			props = append(props, cdx.Property{Name: "shipshape:sourcePackage", Value: p.SourceName})
		}
		if p.SourceVersion != "" {
			props = append(props, cdx.Property{Name: "shipshape:sourceVersion", Value: p.SourceVersion})
		}
		if p.Declared {
			props = append(props, cdx.Property{Name: "shipshape:declaredOnly", Value: "true"})
		}
		c.Properties = &props
		comps = append(comps, c)
		refs = append(refs, ref)
		if _, ok := refByPURL[p.PURL]; !ok && p.PURL != "" {
			refByPURL[p.PURL] = ref
		}
	}
	if vulns := cdxVulnerabilities(r.Findings, refByPURL); len(vulns) > 0 {
		bom.Vulnerabilities = &vulns
	}
	bom.Components = &comps
	bom.Dependencies = &[]cdx.Dependency{{Ref: "image", Dependencies: &refs}}
	enc := cdx.NewBOMEncoder(w, cdx.BOMFileFormatJSON)
	enc.SetPretty(true)
	enc.SetEscapeHTML(false)
	return enc.EncodeVersion(bom, cdx.SpecVersion1_6)
}

// cdxVulnerabilities turns P5 findings into CycloneDX vulnerabilities,
// one per id, affecting the components of the findings' packages.
func cdxVulnerabilities(findings []scorecard.Finding, refByPURL map[string]string) []cdx.Vulnerability {
	var out []cdx.Vulnerability
	index := map[string]int{}
	for _, f := range findings {
		id, _ := f.Evidence["id"].(string)
		if f.Practice != scorecard.P5 || id == "" || f.Package == nil {
			continue
		}
		ref, ok := refByPURL[f.Package.PURL]
		if !ok {
			continue
		}
		if i, ok := index[id]; ok {
			*out[i].Affects = append(*out[i].Affects, cdx.Affects{Ref: ref})
			continue
		}
		v := cdx.Vulnerability{
			BOMRef:         "vuln:" + id + ":" + strconv.Itoa(len(out)),
			ID:             id,
			Source:         &cdx.Source{Name: "OSV", URL: "https://osv.dev/vulnerability/" + id},
			Description:    f.Description,
			Recommendation: f.Fix,
			Affects:        &[]cdx.Affects{{Ref: ref}},
		}
		rating := cdx.VulnerabilityRating{Severity: cdx.Severity(f.Severity)}
		if f.Severity == scorecard.Info {
			rating.Severity = cdx.SeverityInfo
		}
		if vec, ok := f.Evidence["cvssVector"].(string); ok {
			rating.Vector = vec
			if score, ok := f.Evidence["cvssScore"].(float64); ok {
				rating.Score = &score
			}
			switch {
			case strings.HasPrefix(vec, "CVSS:3.1/"):
				rating.Method = cdx.ScoringMethodCVSSv31
			case strings.HasPrefix(vec, "CVSS:3.0/"):
				rating.Method = cdx.ScoringMethodCVSSv3
			case strings.HasPrefix(vec, "CVSS:4.0/"):
				rating.Method = cdx.ScoringMethodCVSSv4
			}
		}
		v.Ratings = &[]cdx.VulnerabilityRating{rating}
		if as, ok := f.Evidence["aliases"].([]string); ok && len(as) > 0 {
			var refs []cdx.VulnerabilityReference
			for _, a := range as {
				refs = append(refs, cdx.VulnerabilityReference{ID: a, Source: &cdx.Source{Name: "OSV", URL: "https://osv.dev/vulnerability/" + a}})
			}
			v.References = &refs
		}
		index[id] = len(out)
		out = append(out, v)
	}
	return out
}
