package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

// TestScanPolicy scans the demo image with a policy that switches a rule
// off, re-levels another and tightens a threshold.
func TestScanPolicy(t *testing.T) {
	demo, err := filepath.Abs(demoPath)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.yaml")
	os.WriteFile(pol, []byte("rules:\n  SS-P2-001: off\n  SS-P3-001: {severity: low}\npractices:\n  P3: {fail: low}\n  P9: {warn: medium}\n"), 0o644)

	base := scanJSON(t, "docker-archive:"+demo)
	rep := scanJSON(t, "docker-archive:"+demo, "--config", pol)
	status := func(r *scorecard.Report, p scorecard.Practice) scorecard.Status {
		for _, pr := range r.Practices {
			if pr.ID == p {
				return pr.Status
			}
		}
		return ""
	}
	if status(base, scorecard.P2) != scorecard.Fail || status(rep, scorecard.P2) != scorecard.Pass {
		t.Errorf("P2: %s without policy, %s with SS-P2-001 off", status(base, scorecard.P2), status(rep, scorecard.P2))
	}
	// SS-P3-001 is now low, and P3 fails at low.
	if status(rep, scorecard.P3) != scorecard.Fail {
		t.Errorf("P3 %s", status(rep, scorecard.P3))
	}
	// P9 warns on the unknown base (low); warning only from medium up
	// turns it into a pass.
	if status(base, scorecard.P9) != scorecard.Warn || status(rep, scorecard.P9) != scorecard.Pass {
		t.Errorf("P9: %s → %s", status(base, scorecard.P9), status(rep, scorecard.P9))
	}
	found := false
	for _, s := range rep.Suppressed {
		if s.Rule == "SS-P2-001" && strings.HasSuffix(s.Source, "policy.yaml:2") {
			found = true
		}
	}
	if !found {
		t.Errorf("suppressed %+v", rep.Suppressed)
	}
	for _, f := range rep.Findings {
		if f.Rule == "SS-P3-001" && (f.Severity != scorecard.Low || f.Evidence["policySeverityFrom"] != "high") {
			t.Errorf("re-levelled finding %+v", f)
		}
	}
	r := run(t, "scan", "--config", filepath.Join(dir, "missing.yaml"), "docker-archive:"+demo)
	if r.code != 2 || !strings.Contains(r.stderr, "missing.yaml") {
		t.Errorf("missing --config: exit %d %s", r.code, r.stderr)
	}
}
