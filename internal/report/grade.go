package report

import "github.com/shipshape-dev/shipshape/internal/scorecard"

// graded returns r with its grade set: r itself when it has one or grades
// nothing (a Dockerfile lint report, a report without practices), else a
// shallow copy.
func graded(r *scorecard.Report) *scorecard.Report {
	if r.Grade != "" || r.Image.Transport == "dockerfile" || len(r.Practices) == 0 {
		return r
	}
	c := *r
	c.Grade, _ = scorecard.GradeOf(r.Practices)
	return &c
}
