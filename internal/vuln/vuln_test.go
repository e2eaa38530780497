package vuln_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/ignore"
	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/inventory"
	"github.com/shipshape-dev/shipshape/internal/layertest"
	"github.com/shipshape-dev/shipshape/internal/pkgdb"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
	"github.com/shipshape-dev/shipshape/internal/vuln"
	"github.com/shipshape-dev/shipshape/internal/vuln/db"
	"github.com/shipshape-dev/shipshape/internal/vuln/osv"
)

const critical = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H" // 9.8

func alpineImage(t *testing.T) []layertest.Layer {
	apk := "P:libcrypto3\nV:3.3.2-r0\nA:x86_64\no:openssl\n\nP:busybox\nV:1.36.1-r29\nA:x86_64\no:busybox\n\n"
	return []layertest.Layer{
		{CreatedBy: "ADD alpine", Files: map[string]layertest.File{
			"/etc/os-release":       {Content: []byte("ID=alpine\nVERSION_ID=3.20.3\n")},
			"/lib/apk/db/installed": {Content: []byte(apk)},
		}},
		{CreatedBy: "COPY app", Files: map[string]layertest.File{
			"/app/node_modules/lodash/package.json": {Content: []byte(`{"name":"lodash","version":"4.17.20"}`)},
		}},
	}
}

func buildDB(t *testing.T, recs ...*osv.Record) *db.DB {
	t.Helper()
	dir := t.TempDir()
	im := db.NewImporter(dir)
	for _, r := range recs {
		if err := im.Add(r); err != nil {
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

func rec(id, eco, name, fixed string, sev ...osv.Severity) *osv.Record {
	evs := []osv.Event{{Introduced: "0"}}
	if fixed != "" {
		evs = append(evs, osv.Event{Fixed: fixed})
	}
	return &osv.Record{ID: id, Summary: id + " summary", Severity: sev, Affected: []osv.Affected{{
		Package: osv.Package{Ecosystem: eco, Name: name},
		Ranges:  []osv.Range{{Type: "ECOSYSTEM", Events: evs}},
	}}}
}

func scan(t *testing.T, a *vuln.Analyzer) *analyze.Result {
	t.Helper()
	inv, err := inventory.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a.Inventory = inv
	res, err := analyze.Run(context.Background(), layertest.Image(t, alpineImage(t)...), []analyze.Analyzer{a}, analyze.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func status(res *analyze.Result, fs []scorecard.Finding, p scorecard.Practice) scorecard.PracticeResult {
	for _, r := range scorecard.Evaluate(fs, res.Coverage) {
		if r.ID == p {
			return r
		}
	}
	return scorecard.PracticeResult{}
}

func TestFindings(t *testing.T) {
	cve := rec("ALPINE-CVE-2024-9143", "Alpine:v3.20", "openssl", "3.3.2-r1", osv.Severity{Type: "CVSS_V3", Score: critical})
	cve.Aliases = []string{"CVE-2024-9143"}
	unfixed := rec("ALPINE-CVE-2023-1", "Alpine:v3.20", "busybox", "", osv.Severity{Type: "CVSS_V3", Score: critical})
	otherRelease := rec("ALPINE-CVE-2020-1", "Alpine:v3.12", "openssl", "9.9-r0")
	npm := rec("GHSA-35jh-r3h4-6jhm", "npm", "lodash", "4.17.21")
	npm.DatabaseSpecific = &osv.DatabaseSpecific{Severity: "HIGH"}
	d := buildDB(t, cve, unfixed, otherRelease, npm)

	res := scan(t, &vuln.Analyzer{DB: d})
	byID := map[string]scorecard.Finding{}
	for _, f := range res.Findings {
		byID[f.Evidence["id"].(string)] = f
	}
	if len(byID) != 3 {
		t.Fatalf("findings = %v, want the two Alpine ones and lodash", byID)
	}
	f := byID["ALPINE-CVE-2024-9143"]
	if f.Rule != vuln.RuleFixable || f.Severity != scorecard.Critical || f.Layer != 1 || f.Package.Name != "libcrypto3" ||
		f.Evidence["cvssScore"] != 9.8 || f.Evidence["sourcePackage"] != "openssl" || !strings.Contains(f.Fix, "rebuild on a newer base image") {
		t.Errorf("openssl finding = %+v", f)
	}
	if g := byID["GHSA-35jh-r3h4-6jhm"]; g.Severity != scorecard.High || g.Layer != 2 || g.Evidence["severitySource"] != "database_specific" {
		t.Errorf("lodash finding = %+v", g)
	}
	if u := byID["ALPINE-CVE-2023-1"]; u.Rule != vuln.RuleUnfixed || !strings.Contains(u.Fix, "No fixed version") {
		t.Errorf("unfixed finding = %+v", u)
	}
	if st := status(res, res.Findings, scorecard.P5); st.Status != scorecard.Fail {
		t.Errorf("P5 = %+v, want fail", st)
	}
	// Only unfixable criticals left: P5 warns.
	var unfixedOnly []scorecard.Finding
	for _, f := range res.Findings {
		if f.Rule == vuln.RuleUnfixed {
			unfixedOnly = append(unfixedOnly, f)
		}
	}
	if st := status(res, unfixedOnly, scorecard.P5); st.Status != scorecard.Warn {
		t.Errorf("P5 with only unfixed = %s, want warn", st.Status)
	}
	// An ignore entry by alias suppresses the merged finding.
	ign, err := ignore.Parse(".shipshapeignore", []byte("ignore:\n  - id: CVE-2024-9143\n    reason: patched in our fork\n"))
	if err != nil {
		t.Fatal(err)
	}
	left, sup, _ := ign.Apply(res.Findings, time.Now())
	if len(left) != 2 || len(sup) != 1 {
		t.Errorf("ignore by alias: %d left, %d suppressed", len(left), len(sup))
	}
	// Without a freshness judge P4 does not run: the inventory is
	// information, never a pass.
	if st := status(res, res.Findings, scorecard.P4); st.Status != scorecard.NotRun || st.Metrics["packages"] != 3 ||
		!strings.HasPrefix(st.Reason, "no freshness data") || !strings.Contains(st.Summary, "3 packages") {
		t.Errorf("P4 = %+v", st)
	}

	res = scan(t, &vuln.Analyzer{DB: d, IgnoreUnfixed: true})
	if len(res.Findings) != 2 {
		t.Errorf("--ignore-unfixed: %d findings, want 2", len(res.Findings))
	}
}

func TestVEX(t *testing.T) {
	d := buildDB(t, rec("GHSA-35jh-r3h4-6jhm", "npm", "lodash", "4.17.21"))
	doc := `{"@context":"https://openvex.dev/ns/v0.2.0","statements":[{"vulnerability":{"name":"GHSA-35jh-r3h4-6jhm"},"products":[{"@id":"pkg:npm/lodash"}],"status":"not_affected","justification":"vulnerable_code_not_in_execute_path"}]}`
	p := filepath.Join(t.TempDir(), "vex.json")
	os.WriteFile(p, []byte(doc), 0o644)
	v, err := vuln.LoadVEX(p)
	if err != nil {
		t.Fatal(err)
	}
	res := scan(t, &vuln.Analyzer{DB: d, VEX: v})
	if len(res.Findings) != 0 {
		t.Errorf("VEX not_affected left %v", res.Findings)
	}
	sec := res.Sections["vulnerabilities"].(*vuln.Section)
	if len(sec.VEXSuppressed) != 1 || sec.VEXSuppressed[0].Status != "not_affected" {
		t.Errorf("vexSuppressed = %+v", sec.VEXSuppressed)
	}
	if _, err := vuln.LoadVEX(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("missing VEX file accepted")
	}
}

func TestNoDatabase(t *testing.T) {
	res := scan(t, &vuln.Analyzer{})
	for _, c := range res.Coverage {
		if c.Practice == scorecard.P5 && (c.Ran || !strings.Contains(c.Reason, "shipshape db update")) {
			t.Errorf("P5 coverage = %+v", c)
		}
	}
	if st := status(res, res.Findings, scorecard.P5); st.Status != scorecard.NotRun {
		t.Errorf("P5 = %s, want not-run", st.Status)
	}
	if st := status(res, res.Findings, scorecard.P4); st.Status != scorecard.NotRun || st.Metrics["packages"] == nil {
		t.Errorf("P4 = %+v, want not-run with the inventory as information", st)
	}
}

func TestCVSSScore(t *testing.T) {
	for _, c := range []struct {
		v    string
		want float64
	}{
		{critical, 9.8},
		{"CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:N/A:N", 4.3},
		{"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 9.3},
	} {
		got, ok := vuln.CVSSScore(c.v)
		if !ok || got != c.want {
			t.Errorf("CVSSScore(%s) = %v %v, want %v", c.v, got, ok, c.want)
		}
	}
	if _, ok := vuln.CVSSScore("AV:N/AC:L/Au:N/C:P/I:P/A:P"); ok {
		t.Error("CVSS v2 vector scored")
	}
}

// TestDebianBySourcePackage follows a Debian advisory, keyed by the source
// package and its version, to the binary packages built from it.
func TestDebianBySourcePackage(t *testing.T) {
	status := "Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nSource: openssl\nVersion: 3.0.11-1~deb12u2\n\n" +
		"Package: openssl\nStatus: install ok installed\nArchitecture: amd64\nVersion: 3.0.11-1~deb12u2\n\n" +
		"Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nSource: glibc (2.36-9+deb12u4)\nVersion: 2.36-9+deb12u4+b1\n\n"
	rec := func(id, name, fixed string) *osv.Record {
		return &osv.Record{ID: id, Affected: []osv.Affected{{
			Package:           osv.Package{Ecosystem: "Debian:12", Name: name},
			Ranges:            []osv.Range{{Type: "ECOSYSTEM", Events: []osv.Event{{Introduced: "0"}, {Fixed: fixed}}}},
			EcosystemSpecific: &osv.DatabaseSpecific{Severity: "high"},
		}}}
	}
	d := buildDB(t,
		rec("DSA-5532-1", "openssl", "3.0.11-1~deb12u3"),
		rec("DSA-0000-1", "glibc", "2.36-9+deb12u4"),     // fixed at the source version: not affected
		rec("DSA-0000-2", "libc6", "2.99"),               // a binary name: Debian keys advisories by source
		rec("DSA-0000-3", "openssl", "3.0.11-1~deb12u2"), // fixed exactly here
	)
	inv, err := inventory.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	img := layertest.Image(t, layertest.Layer{Files: map[string]layertest.File{
		"/etc/os-release":      {Content: []byte("ID=debian\nVERSION_ID=\"12\"\n")},
		"/var/lib/dpkg/status": {Content: []byte(status)},
	}})
	res, err := analyze.Run(context.Background(), img, []analyze.Analyzer{&vuln.Analyzer{Inventory: inv, DB: d}}, analyze.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, f := range res.Findings {
		got[f.Evidence["id"].(string)+" "+f.Package.Name] = true
		if f.Severity != scorecard.High || f.Evidence["severitySource"] != "ecosystem_specific" {
			t.Errorf("%s severity %s from %v", f.Title, f.Severity, f.Evidence["severitySource"])
		}
	}
	want := map[string]bool{"DSA-5532-1 libssl3": true, "DSA-5532-1 openssl": true}
	if len(got) != len(want) {
		t.Errorf("findings %v, want %v", got, want)
	}
	for k := range want {
		if !got[k] {
			t.Errorf("missing %s; got %v", k, got)
		}
	}
}

func TestBaseLayers(t *testing.T) {
	h := func(cmd string, empty bool) v1.History { return v1.History{CreatedBy: cmd, EmptyLayer: empty} }
	for _, c := range []struct {
		hist []v1.History
		want int
	}{
		{nil, 1},
		{[]v1.History{
			h("/bin/sh -c #(nop) ADD file:abc in / ", false),
			h("/bin/sh -c #(nop)  CMD [\"/bin/sh\"]", true),
			h("RUN apk add curl", false),
			h("COPY app /app", false),
			h("CMD [\"/app\"]", true),
		}, 1},
		{[]v1.History{
			h("ADD rootfs", false), h("RUN apt-get install python3", false), h("CMD [\"python3\"]", true),
			h("COPY . /app", false), h("ENTRYPOINT [\"/app/run\"]", true),
		}, 2},
		{[]v1.History{h("ADD rootfs", false), h("RUN x", false)}, 1},
	} {
		img := &image.Image{Config: &v1.ConfigFile{History: c.hist}}
		if got := vuln.BaseLayers(img); got != c.want {
			t.Errorf("BaseLayers(%v) = %d, want %d", c.hist, got, c.want)
		}
	}
}

// A database that lacks one of the image's ecosystems cannot make P5 pass:
// the packages of that ecosystem were not checked.
func TestMissingEcosystemIsNotAPass(t *testing.T) {
	// Only npm data, and lodash fixed: the Alpine packages go unchecked.
	d := buildDB(t, rec("GHSA-old", "npm", "lodash", "4.17.10"))
	res := scan(t, &vuln.Analyzer{DB: d})
	st := status(res, res.Findings, scorecard.P5)
	if st.Status != scorecard.Warn || !strings.Contains(st.Summary, "not fully checked: no vulnerability data for Alpine") {
		t.Errorf("P5 = %s (%s), want warn naming the missing ecosystem", st.Status, st.Summary)
	}
}

// A package database that could not be read leaves the system's packages
// unchecked: P5 does not pass on the language packages alone, and with
// nothing else to check it does not run, saying why.
func TestUnreadDatabaseIsNotAPass(t *testing.T) {
	d := buildDB(t, rec("GHSA-old", "npm", "lodash", "4.17.10"), rec("ALPINE-CVE-1", "Alpine:v3.20", "busybox", "1.0"))
	var apk strings.Builder
	for i := range pkgdb.MaxPackages + 1 {
		fmt.Fprintf(&apk, "P:p%d\nV:1\n\n", i)
	}
	unread := layertest.Layer{CreatedBy: "RUN apk add everything", Files: map[string]layertest.File{
		"/lib/apk/db/installed": {Content: []byte(apk.String())},
	}}
	// An rpm database is the inventory's alone to read: refused, its
	// packages are unknown all the same.
	rpmdb := layertest.Layer{CreatedBy: "RUN dnf install everything", Files: map[string]layertest.File{
		"/etc/os-release":       {Content: []byte("ID=rocky\nVERSION_ID=\"9.3\"\n")},
		"/var/lib/rpm/Packages": {Content: make([]byte, pkgdb.MaxDatabaseBytes+1)},
	}}
	for _, tt := range []struct {
		name   string
		layers []layertest.Layer
		status scorecard.Status
		want   string
	}{
		{"beside language packages", append(alpineImage(t), unread), scorecard.Warn,
			"not fully checked: the package database could not be read (/lib/apk/db/installed: more than 50000 packages"},
		{"alone", append(alpineImage(t)[:1], unread), scorecard.NotRun,
			"the package database could not be read (/lib/apk/db/installed: more than 50000 packages"},
		{"rpm", []layertest.Layer{rpmdb}, scorecard.NotRun,
			"no packages found in the package files read, but not every one could be read (sections.packages.errors)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := inventory.New(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			res, err := analyze.Run(context.Background(), layertest.Image(t, tt.layers...), []analyze.Analyzer{&vuln.Analyzer{DB: d, Inventory: inv}}, analyze.Options{})
			if err != nil {
				t.Fatal(err)
			}
			st := status(res, res.Findings, scorecard.P5)
			if st.Status != tt.status || !strings.Contains(st.Summary+st.Reason, tt.want) {
				t.Errorf("P5 = %q (%s%s), want %q with %q", st.Status, st.Summary, st.Reason, tt.status, tt.want)
			}
		})
	}
}
