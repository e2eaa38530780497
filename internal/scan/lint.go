package scan

import (
	"cmp"
	"slices"
	"time"

	"github.com/shipshape-dev/shipshape/internal/dockerfile"
	"github.com/shipshape-dev/shipshape/internal/policy"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
	"github.com/shipshape-dev/shipshape/internal/secret"
)

// lintPractices are the practices Dockerfile rules check.
var lintPractices = []scorecard.Practice{scorecard.P1, scorecard.P2, scorecard.P3, scorecard.P8, scorecard.P9}

// Lint checks a Dockerfile with the SS-DF rules and the policy (nil: the
// default), and returns the report: findings in line order, the
// practices the rules cover judged, the others not run.
func Lint(df *dockerfile.File, pol *policy.Policy, now time.Time, toolVersion string) *scorecard.Report {
	if pol == nil {
		pol = policy.Default()
	}
	findings, suppressed := dockerfile.Lint(df, dockerfile.Options{Policy: pol, Secrets: secret.NewDockerfileDetector()})
	var cov []scorecard.Coverage
	for _, p := range lintPractices {
		cov = append(cov, scorecard.Coverage{Practice: p, Ran: true, Summary: "Dockerfile rules"})
	}
	findings, cov, sup, warns := pol.Apply(findings, cov, now)
	slices.SortStableFunc(findings, func(x, y scorecard.Finding) int {
		return cmp.Or(cmp.Compare(x.Source.StartLine, y.Source.StartLine), cmp.Compare(y.Severity.Rank(), x.Severity.Rank()), cmp.Compare(x.Rule, y.Rule))
	})
	if findings == nil {
		findings = []scorecard.Finding{}
	}
	rep := &scorecard.Report{
		SchemaVersion: scorecard.SchemaVersion,
		Tool:          scorecard.Tool{Name: "shipshape", Version: cmp.Or(toolVersion, "dev")},
		CreatedAt:     now.UTC().Truncate(time.Second),
		Image:         scorecard.ImageInfo{Reference: df.Path, Transport: "dockerfile", Layers: []scorecard.LayerInfo{}},
		Practices:     scorecard.Evaluate(findings, cov),
		Findings:      findings,
		Suppressed:    append(suppressed, sup...),
		Warnings:      append(slices.Clone(df.Warnings), warns...),
	}
	for i := range rep.Practices {
		if rep.Practices[i].Status == scorecard.NotRun {
			rep.Practices[i].Reason = "not checked from a Dockerfile (scan the image)"
		}
	}
	return rep
}
