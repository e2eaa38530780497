package vuln_test

import (
	"bytes"
	"context"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	govulncheckscan "golang.org/x/vuln/scan"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/inventory"
	"github.com/shipshape-dev/shipshape/internal/layertest"
	"github.com/shipshape-dev/shipshape/internal/testenv"
	"github.com/shipshape-dev/shipshape/internal/vuln"
	"github.com/shipshape-dev/shipshape/internal/vuln/db"
)

// oldDeps is a program linked against module versions with known
// advisories in the Go vulnerability database.
const oldDeps = `package main

import (
	"fmt"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/text/language"
	"gopkg.in/yaml.v2"
)

func main() {
	t, _ := language.Parse("en-US")
	doc, _ := html.Parse(strings.NewReader("<p>hi</p>"))
	out, _ := yaml.Marshal(map[string]string{"a": "b"})
	fmt.Println(t, doc != nil, string(out))
}
`

const oldGoMod = `module example.com/olddeps

go 1.22

require (
	golang.org/x/net v0.7.0
	golang.org/x/text v0.3.7
	gopkg.in/yaml.v2 v2.2.7
)
`

// buildOldDeps builds the program; it needs the Go module proxy (or a
// warm module cache).
func buildOldDeps(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "main.go"), []byte(oldDeps), 0o644)
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte(oldGoMod), 0o644)
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	env := append(os.Environ(), "CGO_ENABLED=0", "GOTOOLCHAIN=local", "GOFLAGS=-mod=mod")
	for _, args := range [][]string{{"mod", "tidy"}, {"build", "-o", "olddeps", "."}} {
		cmd := exec.Command(goBin, args...)
		cmd.Dir, cmd.Env = dir, env
		if out, err := cmd.CombinedOutput(); err != nil {
			testenv.Require(t, "the Go module proxy to build a test binary", &buildError{args, err, string(out)})
		}
	}
	return filepath.Join(dir, "olddeps")
}

type buildError struct {
	args []string
	err  error
	out  string
}

func (e *buildError) Error() string {
	return "go " + strings.Join(e.args, " ") + ": " + e.err.Error() + "\n" + e.out
}

// TestGoAccuracy imports the real Go vulnerability database, matches a
// binary built against vulnerable module versions, and compares the ids
// with govulncheck's binary mode on the same binary and database.
func TestGoAccuracy(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary and imports the Go database")
	}
	zipPath := testenv.SharedData(t, "osv/Go-all.zip")
	bin := buildOldDeps(t)

	dbDir := t.TempDir()
	im := db.NewImporter(dbDir)
	if err := im.AddPath(context.Background(), zipPath); err != nil {
		t.Fatal(err)
	}
	if _, err := im.Commit(nil); err != nil {
		t.Fatal(err)
	}
	d, err := db.Open(dbDir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()

	content, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := inventory.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a := &vuln.Analyzer{Inventory: inv, DB: d}
	img := layertest.Image(t, layertest.Layer{Files: map[string]layertest.File{"/usr/local/bin/olddeps": {Content: content, Mode: 0o755}}})
	res, err := analyze.Run(context.Background(), img, []analyze.Analyzer{a}, analyze.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ours := map[string]string{} // id → module
	for _, f := range res.Findings {
		ours[f.Evidence["id"].(string)] = f.Package.Name
	}
	// Advisories these versions are known to have. (x/net v0.7.0 requires
	// x/text v0.7.0, so minimal version selection links that one.)
	for id, mod := range map[string]string{
		"GO-2020-0036": "gopkg.in/yaml.v2", // CVE-2019-11254, fixed 2.2.8
		"GO-2023-2102": "golang.org/x/net", // HTTP/2 rapid reset, fixed 0.17.0
		"GO-2023-1988": "golang.org/x/net", // html XSS, fixed 0.13.0
	} {
		if ours[id] != mod {
			t.Errorf("%s (%s) not matched; ours: %v", id, mod, slices.Sorted(maps.Keys(ours)))
		}
	}
	// Fixed at or below the linked versions: must not match.
	for _, id := range []string{
		"GO-2022-1059", // x/text, fixed 0.3.8 (linked: 0.7.0)
		"GO-2021-0113", // x/text, fixed 0.3.7
		"GO-2023-1571", // x/net, fixed 0.7.0 (linked: 0.7.0)
	} {
		if _, ok := ours[id]; ok {
			t.Errorf("%s matched though the linked version has its fix", id)
		}
	}

	// govulncheck, binary mode, module level, same database.
	flat := testenv.OSVDir(t, zipPath)
	theirs := govulncheck(t, flat, bin, "module")
	onlyOurs, onlyTheirs := diff(ours, theirs)
	t.Logf("shipshape: %d ids, govulncheck -scan module: %d ids: %v", len(ours), len(theirs), ours)
	if len(onlyOurs) > 0 || len(onlyTheirs) > 0 {
		t.Errorf("module-level difference: only shipshape %v, only govulncheck %v", onlyOurs, onlyTheirs)
	}
	// Symbol level is a subset: govulncheck drops advisories whose
	// vulnerable functions are not linked into the binary.
	sym := govulncheck(t, flat, bin, "symbol")
	_, extra := diff(ours, sym)
	if len(extra) > 0 {
		t.Errorf("govulncheck symbol-level found ids shipshape missed: %v", extra)
	}
	notLinked, _ := diff(ours, sym)
	t.Logf("not reachable by symbol (reported by shipshape, as by every inventory-based scanner): %v", notLinked)
}

func diff(a, b map[string]string) (onlyA, onlyB []string) {
	for k := range a {
		if _, ok := b[k]; !ok {
			onlyA = append(onlyA, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			onlyB = append(onlyB, k)
		}
	}
	slices.Sort(onlyA)
	slices.Sort(onlyB)
	return
}

// govulncheck runs golang.org/x/vuln's scanner in process and returns the
// advisory ids of its findings with their module.
func govulncheck(t *testing.T, dbDir, bin, level string) map[string]string {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := govulncheckscan.Command(context.Background(), "-mode", "binary", "-scan", level, "-json", "-db", "file://"+dbDir, bin)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("govulncheck: %v\n%s", err, errOut.String())
	}
	ids := map[string]string{}
	for _, f := range govulncheckFindings(t, &out) {
		if level == "symbol" && f.Trace[0].Function == "" {
			continue // a module- or package-level finding in the same stream
		}
		mod := f.Trace[0].Module
		if mod == "stdlib" || mod == "toolchain" {
			mod = "stdlib"
		}
		ids[f.OSV] = mod
	}
	return ids
}
