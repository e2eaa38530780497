package vuln_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/inventory"
	"github.com/shipshape-dev/shipshape/internal/layertest"
	"github.com/shipshape-dev/shipshape/internal/testenv"
	"github.com/shipshape-dev/shipshape/internal/vuln"
	"github.com/shipshape-dev/shipshape/internal/vuln/db"
)

// reachGoMod links module versions with advisories that name their
// vulnerable symbols: x/text v0.3.7 (GO-2022-1059: language.
// ParseAcceptLanguage, MatchStrings) and yaml.v2 v2.2.7 (GO-2020-0036:
// Unmarshal, the parser).
const reachGoMod = `module example.com/reach

go 1.22

require (
	golang.org/x/text v0.3.7
	gopkg.in/yaml.v2 v2.2.7
)
`

// callsVulnerable calls the vulnerable functions; linksOnly imports the
// same packages and calls none of them.
const callsVulnerable = `package main

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

const linksOnly = `package main

import (
	"fmt"

	"golang.org/x/text/language"
	"gopkg.in/yaml.v2"
)

func main() {
	out, _ := yaml.Marshal(map[string]string{"a": "b"})
	fmt.Println(language.English.String(), string(out))
}
`

func buildProgram(t *testing.T, name, src, gomod string, ldflags ...string) string {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644)
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644)
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	env := append(os.Environ(), "CGO_ENABLED=0", "GOTOOLCHAIN=local", "GOFLAGS=-mod=mod")
	build := []string{"build", "-o", name}
	if len(ldflags) > 0 {
		build = append(build, "-ldflags="+strings.Join(ldflags, " "))
	}
	for _, args := range [][]string{{"mod", "tidy"}, append(build, ".")} {
		cmd := exec.Command(goBin, args...)
		cmd.Dir, cmd.Env = dir, env
		if out, err := cmd.CombinedOutput(); err != nil {
			testenv.Require(t, "the Go module proxy to build a test binary", &buildError{args, err, string(out)})
		}
	}
	return filepath.Join(dir, name)
}

// reachOf scans a one-binary image and returns each Go finding's
// reachability and symbols.
func reachOf(t *testing.T, d *db.DB, bin string) map[string]reachResult {
	t.Helper()
	content, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := inventory.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	img := layertest.Image(t, layertest.Layer{Files: map[string]layertest.File{"/app/" + filepath.Base(bin): {Content: content, Mode: 0o755}}})
	res, err := analyze.Run(context.Background(), img, []analyze.Analyzer{&vuln.Analyzer{Inventory: inv, DB: d}}, analyze.Options{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]reachResult{}
	for _, f := range res.Findings {
		r := reachResult{reachable: f.Evidence["reachable"].(string), priority: f.Evidence["priority"].(string)}
		if s, ok := f.Evidence["reachableSymbols"].([]string); ok {
			r.symbols = s
		}
		out[f.Evidence["id"].(string)] = r
	}
	return out
}

type reachResult struct {
	reachable, priority string
	symbols             []string
}

// govulncheckSymbols runs the govulncheck CLI in binary mode and returns,
// per advisory, the symbols it found linked (nil: a module-level finding
// only).
func govulncheckSymbols(t *testing.T, tool, dbDir, bin string) map[string][]string {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.Command(tool, "-mode", "binary", "-db", "file://"+dbDir, "-format", "json", bin)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("govulncheck: %v\n%s", err, errOut.String())
	}
	syms := map[string][]string{}
	for _, f := range govulncheckFindings(t, &out) {
		if _, ok := syms[f.OSV]; !ok {
			syms[f.OSV] = nil
		}
		if fr := f.Trace[0]; fr.Function != "" {
			name := fr.Function
			if fr.Receiver != "" {
				name = strings.TrimPrefix(fr.Receiver, "*") + "." + name
			}
			syms[f.OSV] = append(syms[f.OSV], fr.Package+"."+name)
		}
	}
	for id := range syms {
		slices.Sort(syms[id])
		syms[id] = slices.Compact(syms[id])
	}
	return syms
}

// TestReachabilityMatchesGovulncheck builds a program that calls the
// vulnerable functions and one that links the same packages without
// calling them, and checks, symbol by symbol, that the reachability of
// every Go vulnerability equals govulncheck -mode binary on the same
// binary and the same OSV data.
func TestReachabilityMatchesGovulncheck(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries and imports the Go database")
	}
	tool := testenv.GoTool(t, "govulncheck", "go install golang.org/x/vuln/cmd/govulncheck@v1.9.0")
	zipPath := testenv.SharedData(t, "osv/Go-all.zip")
	calls := buildProgram(t, "calls", callsVulnerable, reachGoMod)
	links := buildProgram(t, "links", linksOnly, reachGoMod)

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
	// govulncheck reads a directory of OSV records as its database.
	flat := testenv.OSVDir(t, zipPath)

	for _, c := range []struct {
		bin string
		// want pins the result this test is about, whatever both tools
		// say about the others.
		want map[string]string
	}{
		{calls, map[string]string{"GO-2022-1059": vuln.ReachableYes, "GO-2020-0036": vuln.ReachableYes}},
		{links, map[string]string{"GO-2022-1059": vuln.ReachableNo, "GO-2020-0036": vuln.ReachableNo}},
		// x/net v0.7.0 (html, http2), x/text, yaml.v2: many advisories.
		{buildOldDeps(t), map[string]string{"GO-2024-3333": vuln.ReachableYes, "GO-2023-1988": vuln.ReachableNo}},
	} {
		t.Run(filepath.Base(c.bin), func(t *testing.T) {
			ours := reachOf(t, d, c.bin)
			theirs := govulncheckSymbols(t, tool, flat, c.bin)
			for id, want := range c.want {
				if ours[id].reachable != want {
					t.Errorf("%s: reachable %q, want %q", id, ours[id].reachable, want)
				}
			}
			if gotIDs, wantIDs := slices.Sorted(maps.Keys(ours)), slices.Sorted(maps.Keys(theirs)); !slices.Equal(gotIDs, wantIDs) {
				t.Errorf("module-level ids differ: shipshape %v, govulncheck %v", gotIDs, wantIDs)
			}
			yes := 0
			for id, r := range ours {
				gv := theirs[id]
				switch {
				case r.reachable == vuln.ReachableYes:
					yes++
					if !slices.Equal(r.symbols, gv) {
						t.Errorf("%s: shipshape found %v linked, govulncheck %v", id, r.symbols, gv)
					}
					if r.priority != vuln.PriorityReachable {
						t.Errorf("%s: reachable but priority %q", id, r.priority)
					}
				case r.reachable == vuln.ReachableNo && len(gv) > 0:
					t.Errorf("%s: shipshape says not reachable, govulncheck found %v", id, gv)
				case r.reachable == vuln.ReachableUnknown && len(gv) > 0:
					t.Errorf("%s: shipshape says unknown, govulncheck found %v", id, gv)
				}
			}
			t.Logf("%d Go vulnerabilities, %d reachable: %v", len(ours), yes, ours)
		})
	}

	// A binary stripped of its symbol table cannot be judged symbol by
	// symbol: unknown, never "no".
	stripped := buildProgram(t, "stripped", linksOnly, reachGoMod, "-s", "-w")
	for id, r := range reachOf(t, d, stripped) {
		if r.reachable == vuln.ReachableNo || r.reachable == vuln.ReachableYes {
			t.Errorf("stripped binary: %s reachable %q, want unknown", id, r.reachable)
		}
	}
}

// govulncheckFinding is a finding of govulncheck's JSON stream.
type govulncheckFinding struct {
	OSV   string `json:"osv"`
	Trace []struct {
		Module   string `json:"module"`
		Package  string `json:"package"`
		Function string `json:"function"`
		Receiver string `json:"receiver"`
	} `json:"trace"`
}

// govulncheckFindings reads govulncheck -json output: the findings that
// have a trace, in order.
func govulncheckFindings(t *testing.T, r io.Reader) []govulncheckFinding {
	t.Helper()
	var out []govulncheckFinding
	dec := json.NewDecoder(r)
	for {
		var msg struct {
			Finding *govulncheckFinding `json:"finding"`
		}
		if err := dec.Decode(&msg); err == io.EOF {
			return out
		} else if err != nil {
			t.Fatalf("govulncheck output: %v", err)
		}
		if msg.Finding != nil && len(msg.Finding.Trace) > 0 {
			out = append(out, *msg.Finding)
		}
	}
}
