package scorecard

import (
	"fmt"
	"strings"
)

// Grade is an overall mark for an image, A (best) to F, computed from the
// practice results by [GradeOf]. The rule is documented in docs/report.md.
type Grade string

// Grades, best first.
const (
	GradeA Grade = "A"
	GradeB Grade = "B"
	GradeC Grade = "C"
	GradeD Grade = "D"
	GradeE Grade = "E"
	GradeF Grade = "F"
)

// Essential lists the practices an image must have been checked for to earn
// an A: secrets, the user and known vulnerabilities. An image whose
// essential practice did not run is at best a B, because nobody knows.
var Essential = []Practice{P1, P2, P5}

// GradeOf computes the overall grade of a scorecard and says why, in a
// sentence:
//
//   - F: a practice fails on a critical finding (a live secret, a critical
//     vulnerability with a fix);
//   - E: three or more practices fail;
//   - D: two practices fail;
//   - C: one practice fails;
//   - B: no practice fails, but one warns, or an essential practice
//     (P1, P2, P5) did not run;
//   - A: every practice that ran passes, and every essential one ran.
//
// Practices that did not run (no analyzer yet, nothing to check) neither
// raise nor lower a grade beyond the essential rule.
func GradeOf(practices []PracticeResult) (Grade, string) {
	var failed, critical, warned, missing []string
	ran := map[Practice]bool{}
	for _, p := range practices {
		switch p.Status {
		case Fail:
			failed = append(failed, string(p.ID))
			if p.Counts[Critical] > 0 {
				critical = append(critical, string(p.ID))
			}
		case Warn:
			warned = append(warned, string(p.ID))
		}
		if p.Status != NotRun && p.Status != "" {
			ran[p.ID] = true
		}
	}
	for _, e := range Essential {
		if !ran[e] {
			missing = append(missing, string(e))
		}
	}
	switch {
	case len(critical) > 0:
		return GradeF, fmt.Sprintf("%s %s on a critical finding", list(critical), verb(critical, "fails", "fail"))
	case len(failed) >= 3:
		return GradeE, fmt.Sprintf("%d practices fail (%s)", len(failed), list(failed))
	case len(failed) == 2:
		return GradeD, fmt.Sprintf("two practices fail (%s)", list(failed))
	case len(failed) == 1:
		return GradeC, fmt.Sprintf("%s fails", failed[0])
	case len(warned) > 0:
		return GradeB, fmt.Sprintf("no practice fails; %s %s", list(warned), verb(warned, "warns", "warn"))
	case len(missing) > 0:
		return GradeB, fmt.Sprintf("no practice fails or warns, but %s did not run", list(missing))
	}
	return GradeA, "every practice that ran passes, P1, P2 and P5 included"
}

func list(ids []string) string {
	switch len(ids) {
	case 0:
		return ""
	case 1:
		return ids[0]
	}
	return strings.Join(ids[:len(ids)-1], ", ") + " and " + ids[len(ids)-1]
}

func verb(ids []string, one, many string) string {
	if len(ids) == 1 {
		return one
	}
	return many
}
