package strip

import (
	"github.com/shipshape-dev/shipshape/internal/scorecard"
	"github.com/shipshape-dev/shipshape/internal/secret"
)

// RotateNotice is said whenever secrets were removed from an image.
const RotateNotice = "The removed credentials were published in the original image and must still be rotated: anyone who pulled it can read them."

// Strippable reports whether fix secrets removes what a finding points at:
// secrets the build added, not vendor files or third-party fixtures.
func Strippable(f *scorecard.Finding) bool {
	if f.Practice != scorecard.P1 {
		return false
	}
	c, _ := f.Evidence["class"].(string)
	return c == secret.ClassBuild || c == secret.ClassConfig
}

// PlanFindings turns P1 findings (scanned with whole values) into a plan.
func PlanFindings(findings []scorecard.Finding) *Plan {
	p := &Plan{}
	for i := range findings {
		f := &findings[i]
		if !Strippable(f) {
			continue
		}
		if f.Path != "" && f.Layer > 0 && f.Field == "" {
			p.AddFile(f.Layer, f.Path)
			continue
		}
		v, _ := f.Evidence["secret"].(string)
		if v != "" {
			p.Values = append(p.Values, v)
		}
		kind, idx, key, ok := ParseField(f.Field)
		if !ok {
			continue
		}
		switch kind {
		case "Env":
			p.Env = append(p.Env, idx)
		case "Labels":
			p.Labels = append(p.Labels, key)
		}
	}
	return p
}
