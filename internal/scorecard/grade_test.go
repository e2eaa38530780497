package scorecard

import "testing"

func TestGradeOf(t *testing.T) {
	// card builds nine results: every practice passes unless st names it.
	card := func(st map[Practice]Status, crit ...Practice) []PracticeResult {
		var out []PracticeResult
		for _, p := range Practices {
			r := PracticeResult{ID: p, Status: Pass}
			if s, ok := st[p]; ok {
				r.Status = s
			}
			for _, c := range crit {
				if c == p {
					r.Counts = map[Severity]int{Critical: 1, High: 2}
				}
			}
			out = append(out, r)
		}
		return out
	}
	tests := []struct {
		name       string
		practices  []PracticeResult
		want       Grade
		wantReason string
	}{
		{"all pass", card(nil), GradeA, "every practice that ran passes, P1, P2 and P5 included"},
		{"no analyzer for P6 and P7", card(map[Practice]Status{P6: NotRun, P7: NotRun}), GradeA, "every practice that ran passes, P1, P2 and P5 included"},
		{"P5 not run", card(map[Practice]Status{P5: NotRun}), GradeB, "no practice fails or warns, but P5 did not run"},
		{"P1 and P5 not run", card(map[Practice]Status{P1: NotRun, P5: NotRun}), GradeB, "no practice fails or warns, but P1 and P5 did not run"},
		{"one warn", card(map[Practice]Status{P8: Warn}), GradeB, "no practice fails; P8 warns"},
		{"warns", card(map[Practice]Status{P3: Warn, P8: Warn, P9: Warn}), GradeB, "no practice fails; P3, P8 and P9 warn"},
		{"one fail", card(map[Practice]Status{P2: Fail, P8: Warn}), GradeC, "P2 fails"},
		{"two fail", card(map[Practice]Status{P2: Fail, P3: Fail}), GradeD, "two practices fail (P2 and P3)"},
		{"three fail", card(map[Practice]Status{P2: Fail, P3: Fail, P9: Fail}), GradeE, "3 practices fail (P2, P3 and P9)"},
		{"critical fail", card(map[Practice]Status{P1: Fail}, P1), GradeF, "P1 fails on a critical finding"},
		{"two critical fails", card(map[Practice]Status{P1: Fail, P5: Fail}, P1, P5), GradeF, "P1 and P5 fail on a critical finding"},
		// A critical finding in a practice that only warns (P5: no fix
		// yet) does not make an F.
		{"critical warn", card(map[Practice]Status{P5: Warn}, P5), GradeB, "no practice fails; P5 warns"},
		{"empty", nil, GradeB, "no practice fails or warns, but P1, P2 and P5 did not run"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reason := GradeOf(tt.practices)
			if got != tt.want || reason != tt.wantReason {
				t.Errorf("GradeOf = %s, %q; want %s, %q", got, reason, tt.want, tt.wantReason)
			}
		})
	}
}
