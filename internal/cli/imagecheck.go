package cli

import (
	"time"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/imagecfg"
	"github.com/shipshape-dev/shipshape/internal/policy"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

// imageCheck holds what the image checks of a scan need beyond the image:
// the policy file and the Dockerfile the image was built from.
type imageCheck struct {
	policy *policy.Policy
}

// load reads the policy (--config, or .shipshape.yaml when present) and
// the Dockerfile (--dockerfile).
func (c *imageCheck) load(config, dockerfile string) error {
	p, err := policy.Load(config)
	if err != nil {
		return err
	}
	c.policy = p
	return nil
}

func (c *imageCheck) analyzer() analyze.Analyzer {
	return &imagecfg.Analyzer{Policy: c.policy}
}

// apply applies the policy's rule overrides, thresholds and ignore
// entries to a finished scan, before the scorecard is evaluated.
func (c *imageCheck) apply(img *image.Image, res *analyze.Result) []scorecard.Suppressed {
	var sup []scorecard.Suppressed
	var warns []string
	res.Findings, res.Coverage, sup, warns = c.policy.Apply(res.Findings, res.Coverage, time.Now())
	res.Warnings = append(res.Warnings, warns...)
	return sup
}
