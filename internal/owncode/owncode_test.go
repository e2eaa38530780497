package owncode_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/layertest"
	"github.com/shipshape-dev/shipshape/internal/owncode"
	"github.com/shipshape-dev/shipshape/internal/schematest"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
	"github.com/shipshape-dev/shipshape/internal/testenv"
)

const sarifSchema = "../report/testdata/sarif-schema-2.1.0.json"

// appImage is an Alpine base (busybox owned by apk) and two application
// layers: a Go server binary with its source, node_modules, Python code,
// a dependency jar and assets.
func appImage(t *testing.T) (*analyze.Result, func(...*owncode.Report) *analyze.Result) {
	t.Helper()
	img := buildAppImage(t)
	run := func(reps ...*owncode.Report) *analyze.Result {
		res, err := analyze.Run(context.Background(), img, []analyze.Analyzer{&owncode.Analyzer{SARIF: reps}}, analyze.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	return run(), run
}

func buildAppImage(t *testing.T) *image.Image {
	t.Helper()
	goSrc, err := os.ReadFile("testdata/gosrc/main.go")
	if err != nil {
		t.Fatal(err)
	}
	elf := append([]byte("\x7fELF\x02\x01\x01"), bytes.Repeat([]byte{0}, 100)...)
	// A Go binary: the build id note after the program headers.
	goBin := append([]byte("\x7fELF\x02\x01\x01"), bytes.Repeat([]byte{0}, 0xf80-7)...)
	goBin = append(goBin, []byte("\x04\x00\x00\x00\x53\x00\x00\x00\x04\x00\x00\x00Go\x00\x00")...)
	goBin = append(goBin, bytes.Repeat([]byte("b"), 0x53)...)
	layers := []layertest.Layer{
		{CreatedBy: "ADD alpine-minirootfs.tar.gz /", Files: map[string]layertest.File{
			"/etc/os-release":       {Content: []byte("ID=alpine\nVERSION_ID=3.20.3\n")},
			"/lib/apk/db/installed": {Content: []byte("P:busybox\nV:1.36.1-r29\nA:x86_64\no:busybox\nF:bin\nR:busybox\n\n")},
			"/bin/busybox":          {Content: elf, Mode: 0o755},
			"/usr/share/misc/data":  {Content: []byte("base data")},
		}},
		{CreatedBy: "COPY . /app # buildkit", Files: map[string]layertest.File{
			"/app/server":                         {Content: goBin, Mode: 0o755},
			"/app/helper":                         {Content: elf, Mode: 0o755},
			"/app/main.go":                        {Content: goSrc},
			"/app/static/logo.svg":                {Content: []byte("<svg/>")},
			"/app/node_modules/left-pad/index.js": {Content: []byte("module.exports = 1")},
			"/app/lib/jackson-core-2.15.0.jar":    {Content: []byte("PK jar")},
			"/root/go/pkg/mod/golang.org/x/text@v0.3.7/language/parse.go": {Content: []byte("package language")},
		}},
		{CreatedBy: "COPY srv /srv # buildkit", Files: map[string]layertest.File{
			"/srv/app/db.py":            {Content: []byte("import sqlite3\n")},
			"/srv/app/auth.py":          {Content: []byte("import hashlib\n")},
			"/srv/run.sh":               {Content: []byte("#!/bin/sh\nexec /app/server\n"), Mode: 0o755},
			"/usr/lib/python3.12/os.py": {Content: []byte("# stdlib")},
		}},
	}
	img := layertest.Image(t, layers...)
	img.Config.Config.Entrypoint = []string{"/bin/sh", "-c", "exec /app/server --port 8080"}
	img.Config.History = []v1.History{
		{CreatedBy: "ADD alpine-minirootfs.tar.gz /"}, {CreatedBy: `CMD ["/bin/sh"]`, EmptyLayer: true},
		{CreatedBy: "COPY . /app # buildkit"}, {CreatedBy: "COPY srv /srv # buildkit"},
	}
	return img
}

// appImageWith runs an analyzer on appImage's image.
func appImageWith(t *testing.T, a *owncode.Analyzer) *analyze.Result {
	t.Helper()
	res, err := analyze.Run(context.Background(), buildAppImage(t), []analyze.Analyzer{a}, analyze.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func p7(res *analyze.Result) scorecard.PracticeResult {
	for _, r := range scorecard.Evaluate(res.Findings, res.Coverage) {
		if r.ID == scorecard.P7 {
			return r
		}
	}
	return scorecard.PracticeResult{}
}

func section(t *testing.T, res *analyze.Result) *owncode.Section {
	t.Helper()
	sec, ok := res.Sections[owncode.SectionName].(*owncode.Section)
	if !ok {
		t.Fatalf("no %s section: %v", owncode.SectionName, res.Sections)
	}
	return sec
}

func TestDiscover(t *testing.T) {
	res, _ := appImage(t)
	sec := section(t, res)
	var paths []string
	for _, g := range sec.Layers {
		paths = append(paths, g.Paths...)
	}
	// Not own code: busybox (apk owns it), base-layer files, node_modules,
	// the dependency jar, the Go module cache, Python's standard library.
	want := []string{"/app/helper", "/app/main.go", "/app/server", "/app/static/logo.svg", "/srv/app/auth.py", "/srv/app/db.py", "/srv/run.sh"}
	slices.Sort(paths)
	if !slices.Equal(paths, want) || sec.Files != len(want) {
		t.Errorf("own files = %v (%d), want %v", paths, sec.Files, want)
	}
	if len(sec.Layers) != 2 || sec.Layers[0].Layer != 2 || sec.Layers[0].CreatedBy != "COPY . /app # buildkit" || sec.Layers[0].Files != 4 || sec.Layers[1].Files != 3 {
		t.Errorf("layers = %+v", sec.Layers)
	}
	if !slices.Equal(sec.MainBinaries, []string{"/app/server", "/app/helper"}) || !sec.Source || !sec.BuildOutputs {
		t.Errorf("main binaries %v, source %v, outputs %v", sec.MainBinaries, sec.Source, sec.BuildOutputs)
	}
	if ep := sec.Entrypoint; ep == nil || ep.File != "/app/server" || !ep.Own || ep.Layer != 2 {
		t.Errorf("entrypoint = %+v", ep)
	}
	langs := map[string]int{}
	for _, l := range sec.Languages {
		langs[l.Name+"/"+l.Kind] = l.Files
	}
	if langs["Go/source"] != 1 || langs["Python/source"] != 2 || langs["native (ELF)/build output"] != 1 || langs["Go/build output"] != 1 || langs["Shell/source"] != 1 {
		t.Errorf("languages = %v", langs)
	}
	// Own code and nothing that analysed it: not run, saying how to fix.
	r := p7(res)
	if r.Status != scorecard.NotRun || !strings.Contains(r.Reason, "nothing analysed it") || !strings.Contains(r.Reason, "--sarif") {
		t.Errorf("P7 = %+v", r)
	}
}

func TestNoOwnCode(t *testing.T) {
	img := layertest.Image(t, layertest.Layer{Files: map[string]layertest.File{
		"/etc/os-release":                 {Content: []byte("ID=alpine\nVERSION_ID=3.20.3\n")},
		"/lib/apk/db/installed":           {Content: []byte("P:busybox\nV:1.36.1-r29\nA:x86_64\no:busybox\nF:bin\nR:busybox\n\n")},
		"/bin/busybox":                    {Content: []byte("\x7fELF...."), Mode: 0o755},
		"/app/node_modules/x/index.js":    {Content: []byte("x")},
		"/usr/local/lib/python3.12/os.py": {Content: []byte("x")},
	}})
	res, err := analyze.Run(context.Background(), img, []analyze.Analyzer{&owncode.Analyzer{}}, analyze.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r := p7(res); r.Status != scorecard.NotRun || !strings.Contains(r.Reason, "no own code found") {
		t.Errorf("P7 = %+v", r)
	}
}

// TestImportThirdPartySARIF imports the hand-written CodeQL sample:
// results map to the Python files and their layer, one points at a file
// the image does not ship.
func TestImportThirdPartySARIF(t *testing.T) {
	raw, err := os.ReadFile("testdata/codeql-python.sarif")
	if err != nil {
		t.Fatal(err)
	}
	schematest.Validate(t, sarifSchema, raw)
	rep, err := owncode.LoadSARIF("testdata/codeql-python.sarif")
	if err != nil {
		t.Fatal(err)
	}
	_, run := appImage(t)
	res := run(rep)
	byRule := map[string]scorecard.Finding{}
	for _, f := range res.Findings {
		byRule[f.Evidence["ruleId"].(string)] = f
	}
	sql := byRule["py/sql-injection"]
	if sql.Severity != scorecard.High || sql.Path != "/srv/app/db.py" || sql.Layer != 3 || sql.CreatedBy != "COPY srv /srv # buildkit" ||
		sql.Source == nil || sql.Source.File != "app/db.py" || sql.Source.StartLine != 14 || sql.Evidence["severitySource"] != "security-severity" || sql.Rule != owncode.RuleSAST {
		t.Errorf("sql-injection = %+v", sql)
	}
	if f := byRule["py/unused-import"]; f.Severity != scorecard.Low || f.Layer != 0 || f.Evidence["inImage"] != false {
		t.Errorf("unused-import = %+v", f)
	}
	if f := byRule["py/weak-sensitive-data-hashing"]; f.Severity != scorecard.High || f.Path != "/srv/app/auth.py" {
		t.Errorf("weak hashing = %+v", f)
	}
	r := p7(res)
	if r.Status != scorecard.Fail || !strings.Contains(r.Summary, "3 results from CodeQL") ||
		!strings.Contains(r.Summary, "analysed: Python source in /srv/app") || !strings.Contains(r.Summary, "not analysed: native (ELF) build output in /app, Go source in /app, Go build output in /app") {
		t.Errorf("P7 = %s: %s", r.Status, r.Summary)
	}
	sec := section(t, res)
	if len(sec.Imported) != 1 || sec.Imported[0].Results != 3 || sec.Imported[0].InImage != 2 {
		t.Errorf("imported = %+v", sec.Imported)
	}
}

// TestImportGosecSARIF runs the real gosec CLI on the fixture Go tree and
// imports its SARIF: the issues gosec is known to report are findings at
// their lines, on the copy of main.go the image ships.
func TestImportGosecSARIF(t *testing.T) {
	gosec := testenv.GoTool(t, "gosec", "go install github.com/securego/gosec/v2/cmd/gosec@v2.30.0")
	out := filepath.Join(t.TempDir(), "gosec.sarif")
	cmd := exec.Command(gosec, "-fmt", "sarif", "-out", out, "-no-fail", "-quiet", "./...")
	cmd.Dir = "testdata/gosrc"
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gosec: %v\n%s", err, b)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	schematest.Validate(t, sarifSchema, raw)
	for _, file := range []string{out, "testdata/gosec.sarif"} { // live and committed
		rep, err := owncode.LoadSARIF(file)
		if err != nil {
			t.Fatal(err)
		}
		_, run := appImage(t)
		res := run(rep)
		got := map[string]scorecard.Finding{}
		for _, f := range res.Findings {
			got[f.Evidence["ruleId"].(string)+":"+strconv.Itoa(f.Source.StartLine)] = f
		}
		for key, sev := range map[string]scorecard.Severity{
			"G202:26": scorecard.Medium, // SQL string concatenation
			"G401:34": scorecard.Medium, // MD5
			"G402:39": scorecard.High,   // InsecureSkipVerify
			"G501:7":  scorecard.Medium, // crypto/md5 import
		} {
			f, ok := got[key]
			if !ok {
				t.Errorf("%s: no %s finding; got %v", file, key, keysOf(got))
				continue
			}
			if f.Severity != sev || f.Path != "/app/main.go" || f.Layer != 2 || f.Evidence["tool"] != "gosec" || f.Source.File != "main.go" {
				t.Errorf("%s: %s = %s %s layer %d %v", file, key, f.Severity, f.Path, f.Layer, f.Evidence)
			}
		}
		if r := p7(res); r.Status != scorecard.Fail || !strings.Contains(r.Summary, "analysed: Go source in /app, Go build output in /app (through its Go source)") ||
			!strings.Contains(r.Summary, "not analysed: native (ELF) build output in /app, Python source in /srv/app, Shell source in /srv") {
			t.Errorf("%s: P7 = %s: %s", file, r.Status, r.Summary)
		}
	}
}

func TestParseSARIFRejects(t *testing.T) {
	for name, in := range map[string]string{
		"not json":    "{",
		"old version": `{"version":"1.0.0","runs":[]}`,
		"no runs":     `{"version":"2.1.0"}`,
	} {
		if _, err := owncode.ParseSARIF(strings.NewReader(in), name); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func keysOf(m map[string]scorecard.Finding) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestAnalyzeSource runs gosec's analyzers in process on the fixture Go
// module: the issues match the gosec CLI's, at their lines, and map to
// the copy of main.go the image ships.
func TestAnalyzeSource(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		testenv.Require(t, "the go command (gosec loads packages with go list)", err)
	}
	rep, err := owncode.AnalyzeSource(context.Background(), "testdata/gosrc", owncode.SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]scorecard.Severity{}
	for _, r := range rep.Results {
		if r.URI != "main.go" || r.Tool != "gosec" {
			t.Errorf("result = %+v", r)
		}
		got[r.RuleID+":"+strconv.Itoa(r.Line)] = r.Severity
	}
	// The same issues the committed gosec CLI SARIF lists.
	cli, err := owncode.LoadSARIF("testdata/gosec.sarif")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]scorecard.Severity{}
	for _, r := range cli.Results {
		want[r.RuleID+":"+strconv.Itoa(r.Line)] = r.Severity
	}
	if len(got) != len(want) {
		t.Errorf("in process: %v; gosec CLI: %v", got, want)
	}
	for k, sev := range want {
		if got[k] != sev {
			t.Errorf("%s: in process %q, CLI %q", k, got[k], sev)
		}
	}
	if !slices.Contains(rep.Artifacts, "main.go") {
		t.Errorf("artifacts = %v", rep.Artifacts)
	}

	img := appImageWith(t, &owncode.Analyzer{SourceDirs: []string{"testdata/gosrc"}})
	if r := p7(img); r.Status != scorecard.Fail || !strings.Contains(r.Summary, "in process") {
		t.Errorf("P7 = %s: %s", r.Status, r.Summary)
	}
	for _, f := range img.Findings {
		if f.Path != "/app/main.go" || f.Layer != 2 {
			t.Errorf("finding %s at %s layer %d", f.Title, f.Path, f.Layer)
		}
	}

	if _, err := owncode.AnalyzeSource(context.Background(), "testdata/no-such-dir", owncode.SourceOptions{}); err == nil {
		t.Error("a missing directory: no error")
	}
	// A module whose code does not compile: an error, not a clean pass.
	broken := t.TempDir()
	os.WriteFile(filepath.Join(broken, "go.mod"), []byte("module example.com/broken\n\ngo 1.22\n"), 0o644)
	os.WriteFile(filepath.Join(broken, "main.go"), []byte("package main\n\nfunc main() { undefined() \n"), 0o644)
	if rep, err := owncode.AnalyzeSource(context.Background(), broken, owncode.SourceOptions{}); err == nil && len(rep.Errors) == 0 {
		t.Error("a broken module passed without errors")
	}
}
