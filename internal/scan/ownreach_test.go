package scan

import (
	"strings"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/owncode"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

func TestOwnCodeReach(t *testing.T) {
	p5 := func(sev scorecard.Severity, reachable, path string) scorecard.Finding {
		return scorecard.Finding{Practice: scorecard.P5, Rule: "SS-P5-001", Severity: sev, Path: path, Layer: 2,
			Fingerprint: "GO-1:" + path, Evidence: map[string]any{"id": "GO-1", "reachable": reachable}}
	}
	sast := scorecard.Coverage{Practice: scorecard.P7, Ran: true}
	for _, c := range []struct {
		name     string
		finding  scorecard.Finding
		coverage []scorecard.Coverage
		want     scorecard.Status
		partial  bool
	}{
		{"critical reachable in an own binary, no SAST", p5(scorecard.Critical, "yes", "/app/server"), nil, scorecard.Fail, true},
		{"critical reachable in an own binary, SAST ran", p5(scorecard.Critical, "yes", "/app/server"), []scorecard.Coverage{sast}, scorecard.Fail, false},
		{"high reachable", p5(scorecard.High, "yes", "/app/server"), nil, scorecard.NotRun, false},
		{"critical not reachable", p5(scorecard.Critical, "no", "/app/server"), nil, scorecard.NotRun, false},
		{"critical reachability unknown", p5(scorecard.Critical, "unknown", "/app/server"), nil, scorecard.NotRun, false},
		{"critical reachable in a binary that is not own code", p5(scorecard.Critical, "yes", "/usr/bin/tool"), []scorecard.Coverage{sast}, scorecard.Pass, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := &analyze.Result{
				Findings: []scorecard.Finding{c.finding},
				Coverage: append([]scorecard.Coverage{{Practice: scorecard.P7, Reason: "nothing analysed it"}}, c.coverage...),
				Sections: map[string]any{owncode.SectionName: &owncode.Section{MainBinaries: []string{"/app/server"}}},
			}
			ownCodeReach(res)
			var p7 scorecard.PracticeResult
			for _, r := range scorecard.Evaluate(res.Findings, res.Coverage) {
				if r.ID == scorecard.P7 {
					p7 = r
				}
			}
			if p7.Status != c.want {
				t.Errorf("P7 = %s (%s), want %s", p7.Status, p7.Summary, c.want)
			}
			if c.want == scorecard.Fail {
				f := res.Findings[len(res.Findings)-1]
				if f.Rule != RuleOwnBinaryReachable || f.Practice != scorecard.P7 || f.Path != "/app/server" || f.Layer != 2 {
					t.Errorf("P7 finding = %+v", f)
				}
				if got := strings.Contains(p7.Summary, "not fully checked"); got != c.partial {
					t.Errorf("partial = %v (%s), want %v", got, p7.Summary, c.partial)
				}
			}
		})
	}
}
