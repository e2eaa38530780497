package scorecard

import "testing"

func TestEvaluate(t *testing.T) {
	fs := []Finding{
		{Practice: P1, Severity: High},
		{Practice: P2, Severity: Medium},
		{Practice: P3, Severity: Info},
		{Practice: P5, Severity: Critical},
		{Practice: P8, Severity: Medium},
	}
	cov := []Coverage{
		{Practice: P1, Ran: true},
		{Practice: P2, Ran: true},
		{Practice: P3, Ran: true},
		{Practice: P4, Ran: true, Summary: "12 packages"},
		{Practice: P5, Ran: false, Reason: "no vulnerability database: run `shipshape db update`"},
		{Practice: P8, Ran: true, FailAt: Medium},
	}
	want := map[Practice]Status{P1: Fail, P2: Warn, P3: Pass, P4: Pass, P5: NotRun, P6: NotRun, P7: NotRun, P8: Fail, P9: NotRun}
	got := Evaluate(fs, cov)
	if len(got) != 9 {
		t.Fatalf("%d practices", len(got))
	}
	for _, r := range got {
		if r.Status != want[r.ID] {
			t.Errorf("%s = %s, want %s", r.ID, r.Status, want[r.ID])
		}
	}
	if got[4].Reason != "no vulnerability database: run `shipshape db update`" || got[3].Summary != "12 packages" || got[0].Counts[High] != 1 {
		t.Errorf("details: %+v %+v %+v", got[4], got[3], got[0])
	}
}

func TestParseSeverities(t *testing.T) {
	s, err := ParseSeverities("HIGH, critical,")
	if err != nil || len(s) != 2 || s[0] != High || s[1] != Critical {
		t.Errorf("got %v, %v", s, err)
	}
	if _, err := ParseSeverities("urgent"); err == nil {
		t.Error("unknown severity accepted")
	}
}

func TestPartialCoverageIsNotAPass(t *testing.T) {
	cov := []Coverage{
		{Practice: P5, Ran: true, Summary: "0 vulnerabilities in 3 packages checked", Partial: "no data for Debian"},
		{Practice: P2, Ran: true, Summary: "runs as app"},
		{Practice: P4, Reason: "no freshness data", Summary: "inventory: 3 packages", Metrics: map[string]any{"packages": 3}},
	}
	got := map[Practice]PracticeResult{}
	for _, r := range Evaluate([]Finding{{Practice: P5, Severity: Critical, Rule: "x"}}[:0], cov) {
		got[r.ID] = r
	}
	if r := got[P5]; r.Status != Warn || r.Summary != "0 vulnerabilities in 3 packages checked; not fully checked: no data for Debian" {
		t.Errorf("P5 = %+v", r)
	}
	if got[P2].Status != Pass {
		t.Errorf("P2 = %+v", got[P2])
	}
	if r := got[P4]; r.Status != NotRun || r.Reason != "no freshness data" || r.Summary != "inventory: 3 packages" || r.Metrics["packages"] != 3 {
		t.Errorf("P4 = %+v, want not-run with the inventory as information", r)
	}
	fail := Evaluate([]Finding{{Practice: P5, Severity: Critical, Rule: "x"}}, cov)
	if fail[4].Status != Fail {
		t.Errorf("a failing finding with partial coverage: %s", fail[4].Status)
	}
}
