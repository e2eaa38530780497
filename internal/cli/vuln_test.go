package cli

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/schematest"
)

const testRecord = `{"id":"ALPINE-CVE-2024-9143","aliases":["CVE-2024-9143"],"summary":"openssl out-of-bounds",
 "severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
 "affected":[{"package":{"ecosystem":"Alpine:v3.20","name":"openssl"},
   "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.3.2-r1"}]}]}]}`

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// rootfs writes a small Alpine root filesystem.
func rootfs(t *testing.T) string {
	dir := t.TempDir()
	files := map[string]string{
		"etc/os-release":       "ID=alpine\nVERSION_ID=3.20.3\n",
		"lib/apk/db/installed": "P:libcrypto3\nV:3.3.2-r0\nA:x86_64\no:openssl\n\nP:musl\nV:1.2.5-r0\nA:x86_64\no:musl\n\n",
	}
	for p, c := range files {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestScanWithVulnerabilityDatabase(t *testing.T) {
	work := t.TempDir()
	zipPath := filepath.Join(work, "Alpine-all.zip")
	f, _ := os.Create(zipPath)
	zw := zip.NewWriter(f)
	w, _ := zw.Create("ALPINE-CVE-2024-9143.json")
	w.Write([]byte(testRecord))
	zw.Close()
	f.Close()
	dbDir := filepath.Join(work, "db")
	os.WriteFile(filepath.Join(work, "none"), []byte("ignore: []\n"), 0o644)
	root := "dir:" + rootfs(t)
	common := []string{"--db-dir", dbDir, "--no-cache", "--ignorefile", filepath.Join(work, "none")}

	// Without a database, P5 is not run and says how to fix it.
	code, out, errOut := runCLI(t, append([]string{"scan", "-f", "json", root}, common...)...)
	if code != 0 {
		t.Fatalf("scan without db: exit %d: %s", code, errOut)
	}
	if p5 := practice(t, out, "P5"); p5["status"] != "not-run" || !strings.Contains(p5["reason"].(string), "shipshape db update") {
		t.Errorf("P5 without db = %v", p5)
	}

	code, out, errOut = runCLI(t, "db", "import", "--db-dir", dbDir, zipPath)
	if code != 0 || !strings.Contains(out, "Alpine") {
		t.Fatalf("db import: exit %d: %s %s", code, out, errOut)
	}
	code, out, _ = runCLI(t, "db", "status", "--db-dir", dbDir, "-f", "json")
	if code != 0 || !strings.Contains(out, `"records": 1`) {
		t.Errorf("db status: %s", out)
	}

	code, out, errOut = runCLI(t, append([]string{"scan", "-f", "json", "--exit-code", "3", root}, common...)...)
	if code != 3 {
		t.Fatalf("scan: exit %d, want 3: %s", code, errOut)
	}
	if p5 := practice(t, out, "P5"); p5["status"] != "fail" {
		t.Errorf("P5 = %v", p5)
	}
	if !strings.Contains(out, `"id": "ALPINE-CVE-2024-9143"`) || !strings.Contains(out, `"sourcePackage": "openssl"`) {
		t.Errorf("finding missing: %s", out)
	}
	if code, out, _ = runCLI(t, append([]string{"scan", "-f", "json", "--vuln-fail-severity", "critical", root}, common...)...); code != 0 || practice(t, out, "P5")["status"] != "fail" {
		t.Errorf("--vuln-fail-severity critical with a critical: exit %d", code)
	}
	// --severity filters it out; an ignore entry by CVE alias suppresses it.
	// (medium: the unknown base of the directory is a low finding.)
	if code, _, _ = runCLI(t, append([]string{"scan", "-f", "json", "--exit-code", "3", "--severity", "medium", root}, common...)...); code != 0 {
		t.Errorf("--severity medium: exit %d", code)
	}
	ign := filepath.Join(work, "ignore")
	os.WriteFile(ign, []byte("ignore:\n  - id: CVE-2024-9143\n    reason: accepted\n"), 0o644)
	// (--severity critical: the image checks report other, high findings
	// on this root filesystem, such as running as root.)
	code, out, _ = runCLI(t, "scan", "-f", "json", "--exit-code", "3", "--severity", "critical", "--db-dir", dbDir, "--no-cache", "--ignorefile", ign, root)
	if code != 0 || !strings.Contains(out, `"suppressed"`) {
		t.Errorf("ignored by alias: exit %d", code)
	}

	// SBOMs from the same scan and from the sbom command.
	code, out, errOut = runCLI(t, append([]string{"scan", "-f", "cyclonedx", root}, common...)...)
	if code != 0 {
		t.Fatalf("scan -f cyclonedx: %d %s", code, errOut)
	}
	schematest.Validate(t, "../report/testdata/bom-1.6.schema.json", []byte(out))
	code, out, errOut = runCLI(t, "sbom", "-f", "spdx", "--no-cache", root)
	if code != 0 {
		t.Fatalf("sbom -f spdx: %d %s", code, errOut)
	}
	schematest.Validate(t, "../report/testdata/spdx-2.3.schema.json", []byte(out))
	if !strings.Contains(out, "pkg:apk/alpine/libcrypto3@3.3.2-r0") {
		t.Errorf("spdx lacks libcrypto3: %s", out)
	}
	if code, _, errOut = runCLI(t, "sbom", "-f", "sarif", root); code != ExitError || !strings.Contains(errOut, "--format") {
		t.Errorf("sbom -f sarif: exit %d %s", code, errOut)
	}
	if code, _, errOut = runCLI(t, "scan", "--offline", "docker://registry.invalid/x:1"); code != ExitError || !strings.Contains(errOut, "--offline") {
		t.Errorf("--offline with a registry ref: exit %d %s", code, errOut)
	}
}

func practice(t *testing.T, report, id string) map[string]any {
	t.Helper()
	var r struct {
		Practices []map[string]any `json:"practices"`
	}
	if err := json.Unmarshal([]byte(report), &r); err != nil {
		t.Fatalf("report: %v\n%s", err, report)
	}
	for _, p := range r.Practices {
		if p["id"] == id {
			return p
		}
	}
	t.Fatalf("no practice %s", id)
	return nil
}

func TestDBUpdateFromMirror(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("ALPINE-CVE-2024-9143.json")
	w.Write([]byte(testRecord))
	zw.Close()
	hits := 0
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/Alpine/all.zip" {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("If-None-Match") == `"1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		hits++
		w.Header().Set("ETag", `"1"`)
		w.Write(buf.Bytes())
	}))
	defer ts.Close()
	dbDir := t.TempDir()
	t.Setenv("SHIPSHAPE_DB_REPOSITORY", ts.URL)
	code, out, errOut := runCLI(t, "db", "update", "--db-dir", dbDir, "--ecosystems", "Alpine")
	if code != 0 || !strings.Contains(out, "updated") {
		t.Fatalf("db update: %d %s %s", code, out, errOut)
	}
	code, out, _ = runCLI(t, "db", "update", "--db-dir", dbDir, "--ecosystems", "Alpine")
	if code != 0 || !strings.Contains(out, "unchanged") || hits != 1 {
		t.Errorf("second update: %d %s (downloads %d)", code, out, hits)
	}
	code, out, errOut = runCLI(t, "db", "update", "--db-dir", dbDir, "--ecosystems", "Alpine,Debian")
	if code != ExitError || !strings.Contains(errOut, "Debian") || !strings.Contains(out, "Alpine") {
		t.Errorf("update with a missing export: %d %s %s", code, out, errOut)
	}
	code, out, _ = runCLI(t, "db", "status", "--db-dir", dbDir)
	if code != 0 || !strings.Contains(out, "Alpine") || !strings.Contains(out, ts.URL) {
		t.Errorf("status: %s", out)
	}
}

// TestDBUpdateHidesMirrorCredentials updates from a mirror whose URL
// carries a user and password (and a KEV URL with a token in its query):
// they are used, but what db update and db status print, as a table or as
// JSON, and what the database keeps on disk, show neither; a second update
// still asks the mirror conditionally.
func TestDBUpdateHidesMirrorCredentials(t *testing.T) {
	const pass, token = "Zq8mirrorPassw0rd", "Kt0kenValue77"
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("ALPINE-CVE-2024-9143.json")
	w.Write([]byte(testRecord))
	zw.Close()
	var mu sync.Mutex
	downloads := 0
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "mirror" || p != pass {
			http.Error(w, "who are you", http.StatusUnauthorized)
			return
		}
		switch {
		case r.URL.Path == "/osv/Alpine/all.zip":
			if r.Header.Get("If-None-Match") == `"1"` {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			mu.Lock()
			downloads++
			mu.Unlock()
			w.Header().Set("ETag", `"1"`)
			w.Write(buf.Bytes())
		case r.URL.Path == "/kev.json" && r.URL.Query().Get("token") == token:
			w.Write([]byte(`{"catalogVersion":"2026.12.01","vulnerabilities":[{"cveID":"CVE-2024-9143"}]}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer ts.Close()
	withCreds := strings.Replace(ts.URL, "http://", "http://mirror:"+pass+"@", 1)
	dbDir := t.TempDir()
	args := []string{"db", "update", "--db-dir", dbDir, "--ecosystems", "Alpine",
		"--db-repository", withCreds + "/osv", "--kev-url", withCreds + "/kev.json?token=" + token, "--epss-url", "-"}
	shown := func(what, out string) {
		t.Helper()
		for _, secret := range []string{pass, token} {
			if strings.Contains(out, secret) {
				t.Errorf("%s shows %q:\n%s", what, secret, out)
			}
		}
	}
	code, out, errOut := runCLI(t, args...)
	if code != 0 || !strings.Contains(out, "updated") || !strings.Contains(out, "CISA KEV") {
		t.Fatalf("db update: exit %d\n%s\n%s", code, out, errOut)
	}
	shown("db update", out+errOut)
	code, out, errOut = runCLI(t, args...)
	if code != 0 || !strings.Contains(out, "unchanged") || downloads != 1 {
		t.Errorf("second update: exit %d, %d downloads\n%s\n%s", code, downloads, out, errOut)
	}
	for _, format := range []string{"table", "json"} {
		code, out, errOut = runCLI(t, "db", "status", "--db-dir", dbDir, "-f", format)
		if code != 0 || !strings.Contains(out, "Alpine") || !strings.Contains(out, ts.Listener.Addr().String()) {
			t.Errorf("db status -f %s: exit %d\n%s\n%s", format, code, out, errOut)
		}
		shown("db status -f "+format, out+errOut)
		if format == "table" && !strings.Contains(out, "http://<redacted>@"+ts.Listener.Addr().String()+"/osv/") {
			t.Errorf("db status names its source without saying that credentials were hidden:\n%s", out)
		}
	}
	filepath.WalkDir(dbDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			shown(p, string(b))
		}
		return nil
	})
}
