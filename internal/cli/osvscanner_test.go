package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/imagetest"
	"github.com/shipshape-dev/shipshape/internal/testenv"
)

// osvScannerInstall is how .ci/run installs osv-scanner (v2.5.0: the
// newest release that builds with Go 1.26; v2.6.0 needs Go 1.27).
const osvScannerInstall = "go install github.com/google/osv-scanner/v2/cmd/osv-scanner@v2.5.0"

// oldDepsGoMod pins modules with known advisories in the Go
// vulnerability database: x/text v0.3.7 (GO-2022-1059) and yaml.v2
// v2.2.7 (GO-2020-0036, GO-2021-0061).
const oldDepsGoMod = `module example.com/olddeps

go 1.22

require (
	golang.org/x/text v0.3.7
	gopkg.in/yaml.v2 v2.2.7
)
`

const oldDepsMain = `package main

import (
	"fmt"

	"golang.org/x/text/language"
	"gopkg.in/yaml.v2"
)

func main() {
	tags, _, _ := language.ParseAcceptLanguage("en-US,fr;q=0.8")
	var m map[string]string
	yaml.Unmarshal([]byte("a: b"), &m)
	fmt.Println(tags, m)
}
`

// buildOldDeps builds the test program against the old modules (through
// the Go module proxy: skipped, or failed under CI, when it is not
// reachable) and returns the binary's content.
func buildOldDeps(t *testing.T) []byte {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "main.go"), []byte(oldDepsMain), 0o644)
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte(oldDepsGoMod), 0o644)
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	env := append(os.Environ(), "CGO_ENABLED=0", "GOTOOLCHAIN=local", "GOFLAGS=-mod=mod")
	for _, args := range [][]string{{"mod", "tidy"}, {"build", "-o", "olddeps", "."}} {
		cmd := exec.Command(goBin, args...)
		cmd.Dir, cmd.Env = dir, env
		if out, err := cmd.CombinedOutput(); err != nil {
			testenv.Require(t, "the Go module proxy to build a test binary", &exec.Error{Name: "go " + strings.Join(args, " ") + ": " + string(out), Err: err})
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "olddeps"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSBOMRoundTripOSVScanner feeds shipshape's CycloneDX and SPDX SBOMs
// of an image holding a Go binary built against old modules to the real
// osv-scanner, offline, with the same Go vulnerability database shipshape
// scans with, and checks that osv-scanner finds exactly the Go module
// vulnerabilities shipshape finds.
func TestSBOMRoundTripOSVScanner(t *testing.T) {
	tool := testenv.GoTool(t, "osv-scanner", osvScannerInstall)
	goZip := testenv.SharedData(t, "osv/Go-all.zip")
	work := t.TempDir()
	archive := filepath.Join(work, "app.tar")
	imagetest.Image{
		RepoTag: "example.com/olddeps:1",
		Layers: []imagetest.Layer{{Files: []imagetest.File{
			imagetest.Dir("app/"),
			{Name: "app/olddeps", Content: buildOldDeps(t), Mode: 0o755},
		}}},
	}.WriteDockerArchive(t, archive, false)
	ref := "docker-archive:" + archive

	// shipshape's own scan with the Go database.
	dbDir := filepath.Join(work, "db")
	if code, out, errOut := runCLI(t, "db", "import", "--db-dir", dbDir, goZip); code != 0 {
		t.Fatalf("db import: exit %d: %s %s", code, out, errOut)
	}
	noIgnores := filepath.Join(work, "ignore.yaml")
	os.WriteFile(noIgnores, []byte("ignore: []\n"), 0o644)
	code, out, errOut := runCLI(t, "scan", "-f", "json", "--db-dir", dbDir, "--no-cache", "--ignorefile", noIgnores, ref)
	if code != 0 {
		t.Fatalf("scan: exit %d: %s", code, errOut)
	}
	ours := shipshapeGoVulns(t, out)
	if len(ours.modules) == 0 {
		t.Fatalf("shipshape found no Go module vulnerability in the test binary:\n%s", out)
	}

	// osv-scanner's offline layout: LOCAL/<dir>/Go/all.zip, where <dir> is
	// "osv-scalibr" for v2.5.0 (the osv-scalibr matcher it uses) and was
	// "osv-scanner" in older releases; both are laid out.
	local := filepath.Join(work, "osvdb")
	zipData, err := os.ReadFile(goZip)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"osv-scalibr", "osv-scanner"} {
		os.MkdirAll(filepath.Join(local, d, "Go"), 0o755)
		if err := os.WriteFile(filepath.Join(local, d, "Go", "all.zip"), zipData, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	for _, sbom := range []struct{ format, file string }{
		{"cyclonedx", "app.cdx.json"}, // osv-scanner picks the parser by these names
		{"spdx", "app.spdx.json"},
	} {
		t.Run(sbom.format, func(t *testing.T) {
			file := filepath.Join(work, sbom.file)
			if code, _, errOut := runCLI(t, "sbom", "-f", sbom.format, "--no-cache", "-o", file, ref); code != 0 {
				t.Fatalf("sbom: exit %d: %s", code, errOut)
			}
			theirs := osvScannerGoVulns(t, tool, local, file)
			wantPackages := ours.packages
			if sbom.format == "spdx" {
				// osv-scanner v2.5.0 names a package from an SPDX purl by
				// its last path element only ("text" for
				// pkg:golang/golang.org/x/text), so Go modules cannot
				// match (google/osv-scalibr#2355, open). It must still read
				// every package with its version.
				wantPackages = nil
				for _, p := range ours.packages {
					wantPackages = append(wantPackages, path.Base(p))
				}
				sort.Strings(wantPackages)
			}
			if !slices.Equal(theirs.packages, wantPackages) {
				t.Errorf("Go packages osv-scanner read:\n%v\nwant\n%v\nosv-scanner's log:\n%s", theirs.packages, wantPackages, theirs.log)
			}
			switch {
			case sbom.format == "spdx" && len(theirs.modules) == 0:
				t.Logf("spdx: osv-scanner reads all %d Go packages but matches none (google/osv-scalibr#2355); shipshape finds %v", len(theirs.packages), ours.modules)
			case !slices.Equal(theirs.modules, ours.modules):
				t.Errorf("Go module vulnerabilities:\nosv-scanner %v\nshipshape   %v\nosv-scanner's log:\n%s", theirs.modules, ours.modules, theirs.log)
			default:
				t.Logf("%s: osv-scanner and shipshape agree on %d Go module vulnerabilities %v", sbom.format, len(ours.modules), ours.modules)
			}
			// The standard library: compared when both report it.
			if len(theirs.stdlib) > 0 && len(ours.stdlib) > 0 && !slices.Equal(theirs.stdlib, ours.stdlib) {
				t.Errorf("Go stdlib vulnerabilities:\nosv-scanner %v\nshipshape   %v", theirs.stdlib, ours.stdlib)
			}
			t.Logf("%s: stdlib vulnerabilities: osv-scanner %d, shipshape %d", sbom.format, len(theirs.stdlib), len(ours.stdlib))
		})
	}
}

// goVulns are Go vulnerability ids, sorted, for modules and for the
// standard library.
type goVulns struct {
	modules, stdlib []string
	// packages are the Go packages read, as NAME@VERSION (no "v").
	packages []string
	log      string // osv-scanner's stderr
}

func (g *goVulns) add(pkg, id string) {
	if pkg == "stdlib" || pkg == "toolchain" {
		if !slices.Contains(g.stdlib, id) {
			g.stdlib = append(g.stdlib, id)
		}
	} else if !slices.Contains(g.modules, id) {
		g.modules = append(g.modules, id)
	}
}

func (g *goVulns) addPackage(name, version string) {
	g.packages = append(g.packages, name+"@"+strings.TrimPrefix(version, "v"))
}

func (g *goVulns) sort() { sort.Strings(g.modules); sort.Strings(g.stdlib); sort.Strings(g.packages) }

// shipshapeGoVulns reads the Go advisories (GO-…) of a shipshape JSON report.
func shipshapeGoVulns(t *testing.T, report string) goVulns {
	t.Helper()
	var r struct {
		Findings []struct {
			Practice string         `json:"practice"`
			Evidence map[string]any `json:"evidence"`
			Package  *struct {
				Name string `json:"name"`
			} `json:"package"`
		} `json:"findings"`
		Sections struct {
			Packages struct {
				Packages []struct {
					Name, Version, Ecosystem string
				} `json:"packages"`
			} `json:"packages"`
		} `json:"sections"`
	}
	if err := json.Unmarshal([]byte(report), &r); err != nil {
		t.Fatal(err)
	}
	var g goVulns
	for _, f := range r.Findings {
		id, _ := f.Evidence["id"].(string)
		if f.Practice == "P5" && f.Package != nil && strings.HasPrefix(id, "GO-") {
			g.add(f.Package.Name, id)
		}
	}
	for _, p := range r.Sections.Packages.Packages {
		if p.Ecosystem == "Go" {
			g.addPackage(p.Name, p.Version)
		}
	}
	g.sort()
	return g
}

// osvScannerGoVulns runs osv-scanner offline on an SBOM and returns the
// Go advisories it reports.
func osvScannerGoVulns(t *testing.T, tool, localDB, sbom string) goVulns {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(tool, "scan", "source", "--offline", "--offline-vulnerabilities", "--local-db-path", localDB,
		"--all-packages", "--format", "json", "-L", sbom)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	// Exit 1: vulnerabilities found (the expected outcome).
	if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode() != 1) {
		t.Fatalf("%s: %v\n%s\n%s", strings.Join(cmd.Args, " "), err, stderr.String(), stdout.String())
	}
	var res struct {
		Results []struct {
			Packages []struct {
				Package struct {
					Name      string `json:"name"`
					Version   string `json:"version"`
					Ecosystem string `json:"ecosystem"`
				} `json:"package"`
				Vulnerabilities []struct {
					ID string `json:"id"`
				} `json:"vulnerabilities"`
			} `json:"packages"`
		} `json:"results"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("osv-scanner's JSON: %v\n%s", err, stdout.String())
	}
	g := goVulns{log: stderr.String()}
	for _, r := range res.Results {
		for _, p := range r.Packages {
			if p.Package.Ecosystem != "Go" {
				continue
			}
			g.addPackage(p.Package.Name, p.Package.Version)
			for _, v := range p.Vulnerabilities {
				g.add(p.Package.Name, v.ID)
			}
		}
	}
	g.sort()
	return g
}
