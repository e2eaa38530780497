package cli

import (
	"archive/zip"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// kevRecord affects openssl and names CVE-2023-44487 (listed in the KEV
// excerpt) as an alias; it has no severity of its own.
const kevRecord = `{"id":"ALPINE-TEST-0001","aliases":["CVE-2023-44487"],"summary":"rapid reset",
 "affected":[{"package":{"ecosystem":"Alpine:v3.20","name":"openssl"},
   "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.3.2-r1"}]}]}]}`

// TestScanRanksVulnerabilities imports OSV records with the KEV and EPSS
// excerpts and checks the ranking in JSON, the table and SARIF, and the
// --vuln-priority gate.
func TestScanRanksVulnerabilities(t *testing.T) {
	work := t.TempDir()
	zipPath := filepath.Join(work, "Alpine-all.zip")
	f, _ := os.Create(zipPath)
	zw := zip.NewWriter(f)
	for name, body := range map[string]string{"ALPINE-CVE-2024-9143.json": testRecord, "ALPINE-TEST-0001.json": kevRecord} {
		w, _ := zw.Create(name)
		w.Write([]byte(body))
	}
	zw.Close()
	f.Close()
	dbDir := filepath.Join(work, "db")
	risk := "../../testdata/data/risk/"
	code, out, errOut := runCLI(t, "db", "import", "--db-dir", dbDir, zipPath, risk+"known_exploited_vulnerabilities.json", risk+"epss_scores-2025-06-02.csv.gz")
	if code != 0 || !strings.Contains(out, "CISA KEV") || !strings.Contains(out, "EPSS") {
		t.Fatalf("db import: exit %d: %s %s", code, out, errOut)
	}
	if _, out, _ = runCLI(t, "db", "status", "--db-dir", dbDir); !strings.Contains(out, "kev") || !strings.Contains(out, "2025.06.02") || !strings.Contains(out, "scored 2025-06-02") {
		t.Errorf("db status lacks KEV/EPSS:\n%s", out)
	}
	os.WriteFile(filepath.Join(work, "none"), []byte("ignore: []\n"), 0o644)
	root := "dir:" + rootfs(t)
	common := []string{"--db-dir", dbDir, "--no-cache", "--ignorefile", filepath.Join(work, "none"), root}

	code, out, errOut = runCLI(t, append([]string{"scan", "-f", "json"}, common...)...)
	if code != 0 {
		t.Fatalf("scan: exit %d: %s", code, errOut)
	}
	var rep struct {
		Findings []struct {
			Practice string         `json:"practice"`
			Severity string         `json:"severity"`
			Evidence map[string]any `json:"evidence"`
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	var p5 []map[string]any
	for _, f := range rep.Findings {
		if f.Practice == "P5" {
			p5 = append(p5, f.Evidence)
		}
	}
	// The known-exploited medium (no severity: unknown) ranks above the
	// critical.
	if len(p5) != 2 || p5[0]["id"] != "ALPINE-TEST-0001" || p5[0]["priority"] != "exploited" || p5[0]["knownExploited"] != true ||
		p5[0]["epss"] != 0.9443 || p5[1]["priority"] != "fixable" || p5[1]["knownExploited"] != false {
		t.Errorf("P5 findings = %v", p5)
	}
	if s := practice(t, out, "P5")["summary"].(string); !strings.Contains(s, "1 known exploited") {
		t.Errorf("P5 summary = %q", s)
	}

	_, out, _ = runCLI(t, append([]string{"scan", "-f", "table"}, common...)...)
	i, j := strings.Index(out, "EXPLOITED  ALPINE-TEST-0001"), strings.Index(out, "FIXABLE    ALPINE-CVE-2024-9143")
	if i < 0 || j < 0 || i > j || !strings.Contains(out, "known exploited (CISA KEV since 2023-10-10) · EPSS 0.944") {
		t.Errorf("table lacks the priority column or order:\n%s", out)
	}

	_, out, _ = runCLI(t, append([]string{"scan", "-f", "sarif"}, common...)...)
	if !strings.Contains(out, `"priority": "exploited"`) || !strings.Contains(out, `"knownExploited": true`) {
		t.Errorf("SARIF lacks the priority properties")
	}

	// The gate: only known-exploited vulnerabilities at high or above
	// fail; the exploited one is medium, so P5 warns.
	_, out, _ = runCLI(t, append([]string{"scan", "-f", "json", "--vuln-priority", "exploited"}, common...)...)
	if p := practice(t, out, "P5"); p["status"] != "warn" {
		t.Errorf("--vuln-priority exploited: P5 = %v", p)
	}
	_, out, _ = runCLI(t, append([]string{"scan", "-f", "json", "--vuln-priority", "exploited", "--vuln-fail-severity", "medium"}, common...)...)
	if p := practice(t, out, "P5"); p["status"] != "fail" {
		t.Errorf("--vuln-priority exploited at medium: P5 = %v", p)
	}
	if code, _, errOut = runCLI(t, append([]string{"scan", "--vuln-priority", "urgent"}, common...)...); code != ExitError || !strings.Contains(errOut, "--vuln-priority") {
		t.Errorf("bad --vuln-priority: exit %d %s", code, errOut)
	}
}
