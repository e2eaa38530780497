package owncode_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/layertest"
	"github.com/shipshape-dev/shipshape/internal/owncode"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
	"github.com/shipshape-dev/shipshape/internal/testenv"
	"github.com/shipshape-dev/shipshape/internal/vuln"
	"github.com/shipshape-dev/shipshape/internal/vuln/db"
	"github.com/shipshape-dev/shipshape/internal/vuln/osv"
)

const govulnSrc = "testdata/govulnsrc"

// goVulnDB imports the committed Go OSV export into a database and
// unzips it flat for the govulncheck CLI (testenv.OSVDir).
func goVulnDB(t *testing.T) (*db.DB, string) {
	t.Helper()
	zipPath := testenv.SharedData(t, "osv/Go-all.zip")
	dir := t.TempDir()
	im := db.NewImporter(dir)
	if err := im.AddPath(context.Background(), zipPath); err != nil {
		t.Fatal(err)
	}
	if _, err := im.Commit(nil); err != nil {
		t.Fatal(err)
	}
	d, err := db.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, testenv.OSVDir(t, zipPath)
}

// needModules downloads the fixture's dependencies (from the module
// cache or the Go module proxy) or skips through testenv.
func needModules(t *testing.T, dir string) {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		testenv.Require(t, "the go command (govulncheck loads packages with go list)", err)
	}
	cmd := exec.Command("go", "mod", "download")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		testenv.Require(t, "the Go module proxy (the fixture's dependencies)", &cmdError{err, string(out)})
	}
}

type cmdError struct {
	err error
	out string
}

func (e *cmdError) Error() string { return e.err.Error() + ": " + e.out }

func rater(d *db.DB) owncode.Rater {
	return func(recs []*osv.Record) (scorecard.Severity, string) {
		r := vuln.RateRecords(d, recs)
		return r.Severity, r.Source
	}
}

// TestGovulncheckSourceMode runs govulncheck's source mode in process on
// a module that calls x/text's vulnerable ParseAcceptLanguage and imports
// yaml.v2 without calling its vulnerable decoder: the called symbols,
// advisory by advisory, equal the govulncheck CLI's on the same source and
// data; the call site is main.go's line; the same source COPYed into an
// image gives a P7 finding on that layer, rated like its P5 finding.
func TestGovulncheckSourceMode(t *testing.T) {
	if testing.Short() {
		t.Skip("imports the Go database and loads packages")
	}
	needModules(t, govulnSrc)
	d, flat := goVulnDB(t)
	rep, err := owncode.AnalyzeSource(context.Background(), govulnSrc, owncode.SourceOptions{GoVulns: d, Rate: rater(d)})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.GoReach) != 1 {
		t.Fatalf("GoReach = %+v (note %q)", rep.GoReach, rep.GoReachNote)
	}
	gr := rep.GoReach[0]
	if gr.Module != "example.com/langs" || gr.Records == 0 {
		t.Errorf("module %q, %d records", gr.Module, gr.Records)
	}
	ours := map[string][]string{}
	var call *owncode.Called
	for i, c := range gr.Called {
		ours[c.OSV] = append(ours[c.OSV], c.Symbol)
		if c.OSV == "GO-2022-1059" {
			call = &gr.Called[i]
		}
	}
	if call == nil {
		t.Fatalf("GO-2022-1059 not called: %+v", gr)
	}
	if call.Symbol != "golang.org/x/text/language.ParseAcceptLanguage" || call.URI != "main.go" || call.Line != 16 || call.Fixed != "v0.3.8" {
		t.Errorf("call = %+v", *call)
	}
	if len(call.Trace) < 2 || !strings.HasPrefix(call.Trace[0], "example.com/langs.") {
		t.Errorf("trace = %v", call.Trace)
	}
	if _, called := ours["GO-2020-0036"]; called || !slices.Contains(gr.Imported, "GO-2020-0036") {
		t.Errorf("yaml.v2's decoder advisory: called %v, imported-only %v", ours["GO-2020-0036"], gr.Imported)
	}

	// The govulncheck CLI on the same source and the same records.
	tool := testenv.GoTool(t, "govulncheck", "go install golang.org/x/vuln/cmd/govulncheck@v1.9.0")
	var out, errOut bytes.Buffer
	cmd := exec.Command(tool, "-C", govulnSrc, "-db", "file://"+flat, "-json", "./...")
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("govulncheck: %v\n%s", err, errOut.String())
	}
	theirs := map[string][]string{}
	dec := json.NewDecoder(&out)
	for {
		var msg struct {
			Finding *struct {
				OSV   string `json:"osv"`
				Trace []struct {
					Package, Function, Receiver string
				} `json:"trace"`
			} `json:"finding"`
		}
		if err := dec.Decode(&msg); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if f := msg.Finding; f != nil && len(f.Trace) > 0 && f.Trace[0].Function != "" {
			fr := f.Trace[0]
			name := fr.Function
			if fr.Receiver != "" {
				name = strings.TrimPrefix(fr.Receiver, "*") + "." + name
			}
			theirs[f.OSV] = append(theirs[f.OSV], fr.Package+"."+name)
		}
	}
	for _, m := range []map[string][]string{ours, theirs} {
		for id := range m {
			slices.Sort(m[id])
			m[id] = slices.Compact(m[id])
		}
	}
	if len(ours) != len(theirs) {
		t.Errorf("called advisories: shipshape %v, govulncheck CLI %v", ours, theirs)
	}
	for id, syms := range theirs {
		if !slices.Equal(ours[id], syms) {
			t.Errorf("%s: shipshape %v, govulncheck CLI %v", id, ours[id], syms)
		}
	}

	// The source COPYed into an image: a P7 finding on that layer.
	src, err := os.ReadFile(filepath.Join(govulnSrc, "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	img := layertest.Image(t,
		layertest.Layer{CreatedBy: "ADD rootfs.tar /", Files: map[string]layertest.File{"/etc/os-release": {Content: []byte("ID=alpine\nVERSION_ID=3.20.3\n")}}},
		layertest.Layer{CreatedBy: "COPY . /src # buildkit", Files: map[string]layertest.File{"/src/main.go": {Content: src}}},
	)
	res, err := analyze.Run(context.Background(), img, []analyze.Analyzer{&owncode.Analyzer{SourceDirs: []string{govulnSrc}, Source: owncode.SourceOptions{GoVulns: d, Rate: rater(d)}}}, analyze.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var found *scorecard.Finding
	for i, f := range res.Findings {
		if f.Rule == owncode.RuleCalled && f.Evidence["id"] == "GO-2022-1059" {
			found = &res.Findings[i]
		}
	}
	if found == nil {
		t.Fatalf("no %s finding for GO-2022-1059 in %d findings", owncode.RuleCalled, len(res.Findings))
	}
	recs, _ := d.Lookup("Go", "golang.org/x/text")
	var mine []*osv.Record
	for _, r := range recs {
		if r.ID == "GO-2022-1059" {
			mine = append(mine, r)
		}
	}
	want := vuln.RateRecords(d, mine)
	if found.Path != "/src/main.go" || found.Layer != 2 || found.Source == nil || found.Source.StartLine != 16 ||
		found.Severity != want.Severity || found.Evidence["severitySource"] != want.Source {
		t.Errorf("finding at %s layer %d source %+v, severity %s (%v); want /src/main.go layer 2 line 16, %s (%s)",
			found.Path, found.Layer, found.Source, found.Severity, found.Evidence["severitySource"], want.Severity, want.Source)
	}
	var p7 scorecard.PracticeResult
	for _, r := range scorecard.Evaluate(res.Findings, res.Coverage) {
		if r.ID == scorecard.P7 {
			p7 = r
		}
	}
	if !strings.Contains(p7.Summary, "govulncheck source mode on example.com/langs") {
		t.Errorf("P7 summary = %q", p7.Summary)
	}
	if wantStatus := scorecard.Warn; want.Severity.Rank() >= scorecard.High.Rank() {
		if p7.Status != scorecard.Fail {
			t.Errorf("P7 = %s with a reachable %s vulnerability, want fail", p7.Status, want.Severity)
		}
	} else if p7.Status != wantStatus && p7.Status != scorecard.Fail {
		t.Errorf("P7 = %s", p7.Status)
	}
}

// TestGovulncheckWithoutDB: --source without Go data runs gosec and says
// govulncheck did not run; P7 is partial, not silently complete.
func TestGovulncheckWithoutDB(t *testing.T) {
	needModules(t, govulnSrc)
	rep, err := owncode.AnalyzeSource(context.Background(), govulnSrc, owncode.SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.GoReach) != 0 || !strings.Contains(rep.GoReachNote, "shipshape db update") {
		t.Errorf("GoReach %v, note %q", rep.GoReach, rep.GoReachNote)
	}
}
