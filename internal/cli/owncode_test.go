package cli

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/testenv"
)

const gosecSARIF = "../owncode/testdata/gosec.sarif"

type p7Finding struct {
	Practice  string `json:"practice"`
	Rule      string `json:"rule"`
	Severity  string `json:"severity"`
	Path      string `json:"path"`
	Layer     int    `json:"layer"`
	CreatedBy string `json:"createdBy"`
	Source    *struct {
		File      string
		StartLine int
	} `json:"source"`
	Evidence map[string]any `json:"evidence"`
}

func p7Findings(t *testing.T, out string) []p7Finding {
	t.Helper()
	var rep struct {
		Findings []p7Finding `json:"findings"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("report: %v", err)
	}
	var fs []p7Finding
	for _, f := range rep.Findings {
		if f.Practice == "P7" {
			fs = append(fs, f)
		}
	}
	return fs
}

// TestScanSARIFImport scans a root filesystem that ships the fixture's
// main.go with the SARIF gosec produced for it: P7 fails with the
// findings at their lines, in JSON, the table and SARIF.
func TestScanSARIFImport(t *testing.T) {
	root := rootfs(t)
	src, err := os.ReadFile("../owncode/testdata/gosrc/main.go")
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(root, "app"), 0o755)
	os.WriteFile(filepath.Join(root, "app", "main.go"), src, 0o644)
	none := filepath.Join(t.TempDir(), "none")
	os.WriteFile(none, []byte("ignore: []\n"), 0o644)
	common := []string{"--no-cache", "--offline", "--ignorefile", none, "--sarif", gosecSARIF, "dir:" + root}

	code, out, errOut := runCLI(t, append([]string{"scan", "-f", "json"}, common...)...)
	if code != 0 {
		t.Fatalf("scan: exit %d: %s", code, errOut)
	}
	fs := p7Findings(t, out)
	if len(fs) != 8 {
		t.Fatalf("P7 findings = %d, want gosec's 8", len(fs))
	}
	if p := practice(t, out, "P7"); p["status"] != "fail" || !strings.Contains(p["summary"].(string), "8 results from gosec") {
		t.Errorf("P7 = %v", p)
	}
	for _, f := range fs {
		if f.Rule != "SS-P7-001" || f.Path != "/app/main.go" || f.Source == nil || f.Source.File != "main.go" || f.Source.StartLine == 0 {
			t.Errorf("finding = %+v", f)
		}
	}
	_, out, _ = runCLI(t, append([]string{"scan", "-f", "table"}, common...)...)
	if !strings.Contains(out, "gosec G402") || !strings.Contains(out, "source   main.go:39") {
		t.Errorf("table lacks the gosec findings:\n%s", out)
	}
	_, out, _ = runCLI(t, append([]string{"scan", "-f", "sarif"}, common...)...)
	if !strings.Contains(out, `"ruleId": "SS-P7-001"`) || !strings.Contains(out, `"uri": "main.go"`) {
		t.Errorf("SARIF lacks the P7 results")
	}
	if code, _, errOut = runCLI(t, "scan", "--no-cache", "--sarif", filepath.Join(root, "app", "main.go"), "dir:"+root); code != ExitError || !strings.Contains(errOut, "--sarif") {
		t.Errorf("a file that is not SARIF: exit %d %s", code, errOut)
	}

	// --source: gosec in process on the same tree finds the same issues.
	code, out, errOut = runCLI(t, "scan", "-f", "json", "--no-cache", "--offline", "--ignorefile", none, "--source", "../owncode/testdata/gosrc", "dir:"+root)
	if code != 0 {
		t.Fatalf("scan --source: exit %d: %s", code, errOut)
	}
	if fs := p7Findings(t, out); len(fs) != 8 || fs[0].Path != "/app/main.go" {
		t.Errorf("--source findings = %d %+v", len(fs), fs)
	}
	if p := practice(t, out, "P7"); p["status"] != "fail" || !strings.Contains(p["summary"].(string), "in process") {
		t.Errorf("--source: P7 = %v", p)
	}
}

// TestScanSARIFDockerBuild COPYs the fixture tree into an image built by
// docker build: the imported gosec findings carry the COPY's layer and
// history line.
func TestScanSARIFDockerBuild(t *testing.T) {
	base := testenv.AlpineImage(t)
	docker := testenv.DockerCLI(t)
	dir := t.TempDir()
	for _, n := range []string{"main.go", "go.mod"} {
		b, err := os.ReadFile(filepath.Join("../owncode/testdata/gosrc", n))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, n), b, 0o644)
	}
	df := "FROM " + base + "\nCOPY main.go go.mod /src/app/\nCMD [\"/bin/sh\"]\n"
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644)
	tag := "shipshape-test/owncode:" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	cmd := exec.Command(docker, "build", "-q", "-t", tag, dir)
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command(docker, "rmi", "-f", tag).Run() })

	code, out, errOut := runCLI(t, "scan", "-f", "json", "--no-cache", "--sarif", gosecSARIF, "docker-daemon:"+tag)
	if code != 0 {
		t.Fatalf("scan: exit %d: %s", code, errOut)
	}
	fs := p7Findings(t, out)
	if len(fs) == 0 {
		t.Fatal("no P7 findings")
	}
	for _, f := range fs {
		if f.Path != "/src/app/main.go" || f.Layer != 2 || !strings.Contains(f.CreatedBy, "COPY") {
			t.Errorf("finding %s: path %q layer %d createdBy %q", f.Evidence["ruleId"], f.Path, f.Layer, f.CreatedBy)
		}
	}
	var rep struct {
		Sections map[string]json.RawMessage `json:"sections"`
	}
	json.Unmarshal([]byte(out), &rep)
	var sec struct {
		Files  int `json:"files"`
		Layers []struct {
			Layer int `json:"layer"`
		} `json:"layers"`
	}
	if err := json.Unmarshal(rep.Sections["ownCode"], &sec); err != nil || sec.Files != 2 || len(sec.Layers) != 1 || sec.Layers[0].Layer != 2 {
		t.Errorf("ownCode section = %s", rep.Sections["ownCode"])
	}
}

// TestScanSourceGovulncheck: `scan --source DIR` with Go vulnerability
// data runs govulncheck's source mode: the vulnerable function the code
// calls is a P7 finding at its call site, mapped to the image file, in
// JSON, the table and SARIF; the advisory in a package imported but not
// called is not a finding.
func TestScanSourceGovulncheck(t *testing.T) {
	if testing.Short() {
		t.Skip("imports the Go database and loads packages")
	}
	if _, err := exec.LookPath("go"); err != nil {
		testenv.Require(t, "the go command (--source loads packages with go list)", err)
	}
	const src = "../owncode/testdata/govulnsrc"
	dl := exec.Command("go", "mod", "download")
	dl.Dir = src
	if out, err := dl.CombinedOutput(); err != nil {
		testenv.Require(t, "the Go module proxy (the fixture's dependencies)", &gotoolError{err, string(out)})
	}
	dbDir := t.TempDir()
	if code, _, errOut := runCLI(t, "db", "import", "--db-dir", dbDir, testenv.SharedData(t, "osv/Go-all.zip")); code != 0 {
		t.Fatalf("db import: exit %d: %s", code, errOut)
	}
	root := rootfs(t)
	main, err := os.ReadFile(filepath.Join(src, "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(root, "app"), 0o755)
	os.WriteFile(filepath.Join(root, "app", "main.go"), main, 0o644)
	none := filepath.Join(t.TempDir(), "none")
	os.WriteFile(none, []byte("ignore: []\n"), 0o644)
	common := []string{"--no-cache", "--offline", "--db-dir", dbDir, "--ignorefile", none, "--source", src, "dir:" + root}

	code, out, errOut := runCLI(t, append([]string{"scan", "-f", "json"}, common...)...)
	if code != 0 {
		t.Fatalf("scan --source: exit %d: %s", code, errOut)
	}
	var called []p7Finding
	for _, f := range p7Findings(t, out) {
		if f.Rule == "SS-P7-002" {
			called = append(called, f)
		}
		if f.Evidence["id"] == "GO-2020-0036" {
			t.Errorf("an advisory whose vulnerable code is never called is a P7 finding: %+v", f)
		}
	}
	if len(called) != 1 {
		t.Fatalf("SS-P7-002 findings = %+v", called)
	}
	f := called[0]
	if f.Evidence["id"] != "GO-2022-1059" || f.Path != "/app/main.go" || f.Source == nil || f.Source.StartLine != 16 ||
		f.Evidence["symbol"] != "golang.org/x/text/language.ParseAcceptLanguage" || f.Evidence["reachable"] != "yes" {
		t.Errorf("finding = %+v", f)
	}
	if p := practice(t, out, "P7"); !strings.Contains(p["summary"].(string), "govulncheck source mode on example.com/langs: 1 vulnerable symbol called") {
		t.Errorf("P7 = %v", p)
	}
	_, out, _ = runCLI(t, append([]string{"scan", "-f", "table"}, common...)...)
	if !strings.Contains(out, "own code calls vulnerable golang.org/x/text/language.ParseAcceptLanguage") {
		t.Errorf("table lacks the govulncheck finding:\n%s", out)
	}
	_, out, _ = runCLI(t, append([]string{"scan", "-f", "sarif"}, common...)...)
	if !strings.Contains(out, `"ruleId": "SS-P7-002"`) {
		t.Errorf("SARIF lacks SS-P7-002")
	}
}

type gotoolError struct {
	err error
	out string
}

func (e *gotoolError) Error() string { return e.err.Error() + ": " + e.out }
