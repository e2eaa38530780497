package vuln_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/inventory"
	"github.com/shipshape-dev/shipshape/internal/layertest"
	"github.com/shipshape-dev/shipshape/internal/pkgdb"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
	"github.com/shipshape-dev/shipshape/internal/vuln"
	"github.com/shipshape-dev/shipshape/internal/vuln/osv"
)

// TestInUse marks findings by what a slim run saw opened: an OS package
// by the files its database says it owns, an npm package by its
// directory; a package in use ranks with the reachable ones.
func TestInUse(t *testing.T) {
	apk := "P:libcrypto3\nV:3.3.2-r0\nA:x86_64\no:openssl\nF:lib\nR:libcrypto.so.3\n\n" +
		"P:busybox\nV:1.36.1-r29\nA:x86_64\no:busybox\nF:bin\nR:busybox\n\n"
	layers := []layertest.Layer{
		{CreatedBy: "ADD alpine", Files: map[string]layertest.File{
			"/etc/os-release":       {Content: []byte("ID=alpine\nVERSION_ID=3.20.3\n")},
			"/lib/apk/db/installed": {Content: []byte(apk)},
			"/lib/libcrypto.so.3":   {Content: []byte("\x7fELF")},
			"/bin/busybox":          {Content: []byte("\x7fELF"), Mode: 0o755},
		}},
		{CreatedBy: "COPY app", Files: map[string]layertest.File{
			"/app/node_modules/lodash/package.json":   {Content: []byte(`{"name":"lodash","version":"4.17.20"}`)},
			"/app/node_modules/lodash/lodash.js":      {Content: []byte("module.exports = {}")},
			"/app/node_modules/minimist/package.json": {Content: []byte(`{"name":"minimist","version":"1.2.5"}`)},
		}},
	}
	d := buildDB(t,
		rec("ALPINE-CVE-2024-9143", "Alpine:v3.20", "openssl", "3.3.2-r1", osv.Severity{Type: "CVSS_V3", Score: critical}),
		rec("ALPINE-CVE-2023-1", "Alpine:v3.20", "busybox", "1.36.1-r30", osv.Severity{Type: "CVSS_V3", Score: critical}),
		rec("GHSA-35jh-r3h4-6jhm", "npm", "lodash", "4.17.21"),
		rec("GHSA-xvch-5gv4-984h", "npm", "minimist", "1.2.6"),
	)
	run := func(u *vuln.InUse) map[string]scorecard.Finding {
		inv, err := inventory.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		res, err := analyze.Run(context.Background(), layertest.Image(t, layers...), []analyze.Analyzer{&vuln.Analyzer{Inventory: inv, DB: d, InUse: u}}, analyze.Options{})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]scorecard.Finding{}
		for _, f := range res.Findings {
			out[f.Evidence["id"].(string)] = f
		}
		for _, c := range res.Coverage {
			if c.Practice == scorecard.P5 && u != nil && !strings.Contains(c.Summary, "2 in use at run time, 2 not") {
				t.Errorf("P5 summary = %q", c.Summary)
			}
		}
		return out
	}

	// No slim run: not judged, no field.
	for id, f := range run(nil) {
		if _, ok := f.Evidence["inUse"]; ok {
			t.Errorf("%s: inUse without a trace: %v", id, f.Evidence["inUse"])
		}
	}

	got := run(&vuln.InUse{Source: "test trace", Files: []string{"/lib/libcrypto.so.3", "/app/node_modules/lodash/lodash.js", "/etc/passwd"}})
	for _, c := range []struct {
		id, inUse, file, priority string
	}{
		{"ALPINE-CVE-2024-9143", vuln.InUseYes, "/lib/libcrypto.so.3", vuln.PriorityReachable},
		{"ALPINE-CVE-2023-1", vuln.InUseNo, "", vuln.PriorityFixable},
		{"GHSA-35jh-r3h4-6jhm", vuln.InUseYes, "/app/node_modules/lodash/lodash.js", vuln.PriorityReachable},
		{"GHSA-xvch-5gv4-984h", vuln.InUseNo, "", vuln.PriorityFixable},
	} {
		f, ok := got[c.id]
		if !ok {
			t.Errorf("%s: no finding", c.id)
			continue
		}
		files, _ := f.Evidence["inUseFiles"].([]string)
		if f.Evidence["inUse"] != c.inUse || f.Evidence["priority"] != c.priority || f.Evidence["inUseSource"] != "test trace" ||
			(c.file != "" && !slices.Contains(files, c.file)) || (c.file == "" && len(files) > 0) {
			t.Errorf("%s: inUse %v files %v priority %v", c.id, f.Evidence["inUse"], files, f.Evidence["priority"])
		}
	}
}

// TestInUseUnlistedPackage: a Debian package whose file list was not read
// (larger than pkgdb.MaxInfoBytes) gets no in-use verdict — its files are
// unknown, so "not in use" would be a guess — while a package whose list
// was read and whose files the run never opened is "no".
func TestInUseUnlistedPackage(t *testing.T) {
	const sum = "0123456789abcdef0123456789abcdef"
	status := "Package: libssl3\nStatus: install ok installed\nVersion: 3.0.11-1\nArchitecture: amd64\nSource: openssl\n\n" +
		"Package: zlib1g\nStatus: install ok installed\nVersion: 1:1.2.13-1\nArchitecture: amd64\nSource: zlib\n\n"
	layers := []layertest.Layer{{CreatedBy: "ADD debian", Files: map[string]layertest.File{
		"/etc/os-release":                          {Content: []byte("ID=debian\nVERSION_ID=\"12\"\n")},
		"/var/lib/dpkg/status":                     {Content: []byte(status)},
		"/var/lib/dpkg/info/zlib1g:amd64.md5sums":  {Content: []byte(sum + "  usr/lib/x86_64-linux-gnu/libz.so.1\n")},
		"/var/lib/dpkg/info/libssl3:amd64.md5sums": {Content: []byte(strings.Repeat(sum+"  usr/lib/x86_64-linux-gnu/libssl.so.3\n", pkgdb.MaxInfoBytes/70+1))},
		"/usr/lib/x86_64-linux-gnu/libz.so.1":      {Content: []byte("\x7fELF")},
		"/usr/lib/x86_64-linux-gnu/libssl.so.3":    {Content: []byte("\x7fELF")},
	}}}
	d := buildDB(t,
		rec("DEBIAN-CVE-2024-1", "Debian:12", "openssl", "3.0.15-1"),
		rec("DEBIAN-CVE-2024-2", "Debian:12", "zlib", "1:1.3-1"),
	)
	inv, err := inventory.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	u := &vuln.InUse{Source: "test trace", Files: []string{"/etc/passwd"}}
	res, err := analyze.Run(context.Background(), layertest.Image(t, layers...), []analyze.Analyzer{&vuln.Analyzer{Inventory: inv, DB: d, InUse: u}}, analyze.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"DEBIAN-CVE-2024-1": nil, "DEBIAN-CVE-2024-2": vuln.InUseNo}
	for _, f := range res.Findings {
		id, _ := f.Evidence["id"].(string)
		w, ok := want[id]
		if !ok {
			continue
		}
		delete(want, id)
		if f.Evidence["inUse"] != w {
			t.Errorf("%s: inUse = %v, want %v", id, f.Evidence["inUse"], w)
		}
	}
	if len(want) > 0 {
		t.Errorf("no finding for %v", want)
	}
}
