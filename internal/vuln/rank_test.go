package vuln_test

import (
	"context"
	"strings"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/scorecard"
	"github.com/shipshape-dev/shipshape/internal/vuln"
	"github.com/shipshape-dev/shipshape/internal/vuln/db"
	"github.com/shipshape-dev/shipshape/internal/vuln/osv"
)

const riskData = "../../testdata/data/risk/"

// buildRiskDB imports records and the KEV and EPSS excerpts.
func buildRiskDB(t *testing.T, recs ...*osv.Record) *db.DB {
	t.Helper()
	dir := t.TempDir()
	im := db.NewImporter(dir)
	for _, r := range recs {
		if err := im.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{riskData + "known_exploited_vulnerabilities.json", riskData + "epss_scores-2025-06-02.csv.gz"} {
		if err := im.AddPath(context.Background(), p); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := im.Commit(nil); err != nil {
		t.Fatal(err)
	}
	d, err := db.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// rankRecords: a critical fixable openssl CVE; a LOW lodash advisory
// whose alias CVE-2023-44487 is in the KEV catalog; a busybox record with
// no severity of its own whose GHSA alias (a record affecting no stored
// package) carries a CVSS vector.
func rankRecords() []*osv.Record {
	openssl := rec("ALPINE-CVE-2024-9143", "Alpine:v3.20", "openssl", "3.3.2-r1", osv.Severity{Type: "CVSS_V3", Score: critical})
	openssl.Aliases = []string{"CVE-2024-9143"}
	lodash := rec("GHSA-test-kev0-0001", "npm", "lodash", "4.17.21")
	lodash.Aliases = []string{"CVE-2023-44487"}
	lodash.DatabaseSpecific = &osv.DatabaseSpecific{Severity: "LOW"}
	busybox := rec("ALPINE-CVE-2099-0001", "Alpine:v3.20", "busybox", "")
	busybox.Aliases = []string{"GHSA-test-alia-0001"}
	busybox.Related = []string{"CVE-2021-44228"}                                                                                                        // listed in KEV: said, but not the same vulnerability
	alias := &osv.Record{ID: "GHSA-test-alia-0001", Severity: []osv.Severity{{Type: "CVSS_V3", Score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}}} // 7.5
	return []*osv.Record{openssl, lodash, busybox, alias}
}

func TestRanking(t *testing.T) {
	res := scan(t, &vuln.Analyzer{DB: buildRiskDB(t, rankRecords()...)})
	fs := res.Findings
	scorecard.SortFindings(fs)
	if len(fs) != 3 {
		t.Fatalf("findings = %v", fs)
	}
	want := []struct {
		id, priority, severity, source string
		kev                            bool
	}{
		// Known exploited through its alias: first, although LOW.
		{"GHSA-test-kev0-0001", vuln.PriorityExploited, "low", "database_specific", true},
		{"ALPINE-CVE-2024-9143", vuln.PriorityFixable, "critical", "cvss_v3", false},
		// Rated by its alias record's CVSS.
		{"ALPINE-CVE-2099-0001", vuln.PriorityOther, "high", "alias_cvss_v3", false},
	}
	for i, w := range want {
		f := fs[i]
		if f.Evidence["id"] != w.id || f.Evidence["priority"] != w.priority || string(f.Severity) != w.severity ||
			f.Evidence["severitySource"] != w.source || f.Evidence["knownExploited"] != w.kev {
			t.Errorf("finding %d = %s %v %s %v kev=%v, want %+v", i, f.Evidence["id"], f.Evidence["priority"], f.Severity, f.Evidence["severitySource"], f.Evidence["knownExploited"], w)
		}
	}
	if fs[0].Evidence["epss"] != 0.9443 || fs[0].Evidence["kevDateAdded"] != "2023-10-10" {
		t.Errorf("KEV finding evidence = %v", fs[0].Evidence)
	}
	if rel, _ := fs[2].Evidence["relatedKnownExploited"].([]string); len(rel) != 1 || rel[0] != "CVE-2021-44228" {
		t.Errorf("related known exploited = %v", fs[2].Evidence["relatedKnownExploited"])
	}
	if fs[2].Evidence["severityRecord"] != "GHSA-test-alia-0001" || fs[2].Evidence["cvssScore"] != 7.5 {
		t.Errorf("alias-rated finding evidence = %v", fs[2].Evidence)
	}
	if fs[1].Evidence["epss"] != 0.00101 {
		t.Errorf("EPSS of the openssl finding = %v", fs[1].Evidence["epss"])
	}
}

// TestPriorityGate: --vuln-priority exploited fails P5 only on known
// exploited vulnerabilities at the fail severity.
func TestPriorityGate(t *testing.T) {
	d := buildRiskDB(t, rankRecords()...)
	for _, c := range []struct {
		priority string
		failAt   scorecard.Severity
		want     scorecard.Status
	}{
		{"", scorecard.High, scorecard.Fail},                     // the critical fixable openssl
		{vuln.PriorityExploited, scorecard.High, scorecard.Warn}, // the exploited one is low
		{vuln.PriorityExploited, scorecard.Low, scorecard.Fail},  // …and fails at low
		{vuln.PriorityReachable, scorecard.High, scorecard.Warn}, // nothing reachable, lodash low
		{vuln.PriorityFixable, scorecard.High, scorecard.Fail},   // openssl
		{vuln.PriorityOther, scorecard.High, scorecard.Fail},     // busybox high, unfixed
		{vuln.PriorityExploited, scorecard.Critical, scorecard.Warn},
	} {
		res := scan(t, &vuln.Analyzer{DB: d, Priority: c.priority, FailAt: c.failAt})
		if got := status(res, res.Findings, scorecard.P5); got.Status != c.want {
			t.Errorf("priority %q fail at %s: P5 = %s (%s), want %s", c.priority, c.failAt, got.Status, got.Summary, c.want)
		}
	}
	for _, bad := range []string{"urgent", "exploited,reachable"} {
		if _, err := vuln.ParsePriority(bad); err == nil {
			t.Errorf("ParsePriority(%q): no error", bad)
		}
	}
}

// TestRankingWithoutRiskFiles: without KEV/EPSS data no finding claims
// to be known exploited or not, the summary says so, and the order is
// fixable-then-severity.
func TestRankingWithoutRiskFiles(t *testing.T) {
	res := scan(t, &vuln.Analyzer{DB: buildDB(t, rankRecords()...)})
	fs := res.Findings
	scorecard.SortFindings(fs)
	if fs[0].Evidence["id"] != "ALPINE-CVE-2024-9143" {
		t.Errorf("first = %v", fs[0].Evidence)
	}
	for _, f := range fs {
		if _, ok := f.Evidence["epss"]; ok {
			t.Errorf("EPSS without EPSS data: %v", f.Evidence)
		}
		if _, ok := f.Evidence["knownExploited"]; ok {
			t.Errorf("knownExploited without KEV data: %v", f.Evidence)
		}
	}
	if s := status(res, res.Findings, scorecard.P5).Summary; !strings.Contains(s, "not checked against the CISA KEV catalog") {
		t.Errorf("summary = %q", s)
	}
}
