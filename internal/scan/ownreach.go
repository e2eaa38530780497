package scan

import (
	"fmt"
	"slices"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/owncode"
	"github.com/shipshape-dev/shipshape/internal/rules"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
	"github.com/shipshape-dev/shipshape/internal/vuln"
)

// RuleOwnBinaryReachable is the P7 rule of a critical vulnerability whose
// affected symbols are linked into one of the application's own binaries.
const RuleOwnBinaryReachable = "SS-P7-003"

// ownCodeReach joins P5 and P7 after both ran: a critical vulnerability
// that P5 found reachable (its vulnerable symbols linked) in a binary P7
// found to be the application's own is an own-code problem too, and fails
// P7. Neither analyzer's output is changed; the finding is added.
func ownCodeReach(res *analyze.Result) {
	sec, ok := res.Sections[owncode.SectionName].(*owncode.Section)
	if !ok || len(sec.MainBinaries) == 0 {
		return
	}
	var add []scorecard.Finding
	for _, f := range res.Findings {
		if f.Practice != scorecard.P5 || f.Severity != scorecard.Critical || f.Evidence["reachable"] != vuln.ReachableYes ||
			!slices.Contains(sec.MainBinaries, f.Path) {
			continue
		}
		id, _ := f.Evidence["id"].(string)
		ev := map[string]any{"id": id, "binary": f.Path, "reachable": vuln.ReachableYes, "p5Fingerprint": f.Fingerprint}
		for _, k := range []string{"reachableSymbols", "installedVersion", "fixedVersions", "cvssScore", "severitySource", "knownExploited"} {
			if v, ok := f.Evidence[k]; ok {
				ev[k] = v
			}
		}
		pkg := ""
		if f.Package != nil {
			pkg = f.Package.Name + " " + f.Package.Version
		}
		o := rules.Finding(RuleOwnBinaryReachable, scorecard.Finding{
			Severity:    f.Severity,
			Title:       fmt.Sprintf("%s (critical) is reachable in the own binary %s (%s)", id, f.Path, pkg),
			Description: f.Description,
			Package:     f.Package,
			Evidence:    ev,
			Fix:         f.Fix,
			Fingerprint: "own:" + f.Fingerprint,
		})
		o.Layer, o.LayerDiffID, o.CreatedBy, o.Path, o.InFinalImage = f.Layer, f.LayerDiffID, f.CreatedBy, f.Path, f.InFinalImage
		add = append(add, o)
	}
	if len(add) == 0 {
		return
	}
	res.Findings = append(res.Findings, add...)
	c := scorecard.Coverage{Practice: scorecard.P7, Ran: true,
		Summary: fmt.Sprintf("%d critical vulnerabilities reachable in the own binaries (P5's symbol reachability)", len(add))}
	sast := false
	for _, cv := range res.Coverage {
		if cv.Practice == scorecard.P7 && cv.Ran {
			sast = true
		}
	}
	if !sast {
		c.Partial = "the own code itself was not analysed: import SAST results with --sarif FILE or give the Go source with --source DIR"
	}
	res.Coverage = append(res.Coverage, c)
}
