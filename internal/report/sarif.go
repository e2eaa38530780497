package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"

	"github.com/shipshape-dev/shipshape/internal/humanize"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

// securitySeverity maps severities to the numeric scores GitHub code
// scanning reads from a rule's "security-severity" property.
var securitySeverity = map[scorecard.Severity]string{
	scorecard.Critical: "9.5",
	scorecard.High:     "8.0",
	scorecard.Medium:   "5.5",
	scorecard.Low:      "2.0",
	scorecard.Info:     "0.0",
}

func sarifLevel(s scorecard.Severity) string {
	switch s {
	case scorecard.Critical, scorecard.High:
		return "error"
	case scorecard.Medium:
		return "warning"
	}
	return "note"
}

// SARIF writes the findings as a SARIF 2.1.0 log, as GitHub code scanning
// accepts it. A finding located in a source file (a Dockerfile) points at
// its line; one located in the image points at the file's path inside the
// image, or at the image reference for config findings.
func SARIF(w io.Writer, r *scorecard.Report) error {
	rep := sarif.NewReport()
	run := sarif.NewRunWithInformationURI("shipshape", "https://github.com/shipshape-dev/shipshape")
	run.Tool.Driver.WithVersion(r.Tool.Version)
	seen := map[string]bool{}
	for _, f := range r.Findings {
		if !seen[f.Rule] {
			seen[f.Rule] = true
			props := sarif.NewPropertyBag()
			props.Add("security-severity", securitySeverity[f.Severity])
			props.Add("precision", "high")
			props.WithTags([]string{"security", "container", string(f.Practice)})
			help := f.Fix
			if help == "" {
				help = f.Title
			}
			run.AddRule(f.Rule).
				WithName(ruleName(f.Rule)).
				WithShortDescription(sarif.NewMultiformatMessageString().WithText(f.Title)).
				WithFullDescription(sarif.NewMultiformatMessageString().WithText(f.Practice.Title() + ": " + f.Title)).
				WithHelp(sarif.NewMultiformatMessageString().WithText(help)).
				WithProperties(props)
		}
		msg := f.Title
		if f.Description != "" {
			msg += ". " + f.Description
		}
		if f.Layer > 0 {
			msg += fmt.Sprintf(" (layer %d %s", f.Layer, f.LayerDiffID)
			if f.CreatedBy != "" {
				msg += ", created by: " + humanize.Line(f.CreatedBy, 200)
			}
			msg += ")"
		}
		if f.Fix != "" {
			msg += " Fix: " + f.Fix
		}
		uri, line := sarifLocation(r, f)
		region := sarif.NewRegion().WithStartLine(line)
		if f.Source != nil && f.Source.EndLine >= line {
			region.WithEndLine(f.Source.EndLine)
		}
		props := sarif.NewPropertyBag()
		props.Add("practice", string(f.Practice))
		props.Add("severity", string(f.Severity))
		if f.Layer > 0 {
			props.Add("layer", f.Layer)
			props.Add("layerDiffID", f.LayerDiffID)
		}
		if f.InFinalImage != nil {
			props.Add("inFinalImage", *f.InFinalImage)
		}
		res := run.CreateResultForRule(f.Rule).
			WithLevel(sarifLevel(f.Severity)).
			WithMessage(sarif.NewTextMessage(msg)).
			WithProperties(props).
			AddLocation(sarif.NewLocation().WithPhysicalLocation(
				sarif.NewPhysicalLocation().
					WithArtifactLocation(sarif.NewArtifactLocation().WithURI(uri)).
					WithRegion(region)))
		if f.Fingerprint != "" {
			res.WithPartialFingerprints(map[string]string{"shipshape/v1": f.Fingerprint})
		}
	}
	rep.AddRun(run)
	return rep.PrettyWrite(w)
}

func sarifLocation(r *scorecard.Report, f scorecard.Finding) (string, int) {
	if f.Source != nil && f.Source.File != "" {
		return f.Source.File, max(f.Source.StartLine, 1)
	}
	if f.Path != "" {
		return strings.TrimPrefix(f.Path, "/"), 1
	}
	ref := r.Image.Reference
	for _, pfx := range []string{"docker-daemon:", "docker-archive:", "oci-archive:", "oci:", "dir:", "docker://"} {
		ref = strings.TrimPrefix(ref, pfx)
	}
	return ref, 1
}

func ruleName(id string) string {
	return strings.ReplaceAll(id, "-", "")
}
