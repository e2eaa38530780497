package inventory_test

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/inventory"
	"github.com/shipshape-dev/shipshape/internal/layertest"
	"github.com/shipshape-dev/shipshape/internal/pkgdb"
)

// runWith is run with an analyzer set up by the test.
func runWith(t *testing.T, a *inventory.Analyzer, layers ...layertest.Layer) *inventory.Inventory {
	t.Helper()
	res, err := analyze.Run(context.Background(), layertest.Image(t, layers...), []analyze.Analyzer{a}, analyze.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return res.Sections[inventory.SectionName].(*inventory.Inventory)
}

// wheel is a wheel whose METADATA is header and then lines of
// Requires-Dist up to about mib MiB (deflated: a few KiB a MiB).
func wheel(t *testing.T, header string, mib int) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create("x-1.dist-info/METADATA")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(header))
	line := bytes.Repeat([]byte("Requires-Dist: a\n"), 1<<20/17)
	for range mib {
		w.Write(line)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestPackageFileBounds: package files that would cost an extractor
// memory or time out of proportion with what they can list — a database
// of more packages than any system has, a zip archive of too many
// entries (deep in a jar too), a Python metadata file of hundreds of
// megabytes — are not read, each named in the errors with the reason; and
// nothing is skipped in silence because an extractor has a size limit of
// its own (dpkg, package.json and wheels 100 MiB, .deps.json 10 MiB).
func TestPackageFileBounds(t *testing.T) {
	var apk strings.Builder
	for i := range pkgdb.MaxPackages + 1 {
		fmt.Fprintf(&apk, "P:p%d\nV:1\nA:x86_64\n\n", i)
	}
	header := "Metadata-Version: 2.1\nName: x\nVersion: 1\n"
	var outer bytes.Buffer
	zw := zip.NewWriter(&outer)
	w, _ := zw.CreateHeader(&zip.FileHeader{Name: "BOOT-INF/lib/crowded.jar", Method: zip.Store})
	w.Write(inventory.DirectoryOnlyZip(1<<19+1, 1<<19+1))
	w, _ = zw.Create("META-INF/maven/org.example/app/pom.properties")
	w.Write([]byte("groupId=org.example\nartifactId=app\nversion=1.0\n"))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	var deps strings.Builder
	deps.WriteString(`{"runtimeTarget": {"name": ".NETCoreApp,Version=v8.0"}, "libraries": {"Newtonsoft.Json/13.0.1": {"type": "package"}}, "pad": "`)
	deps.WriteString(strings.Repeat("x", 11<<20))
	deps.WriteString(`"}`)

	// A dpkg file list is read by the shared facts; one not read is
	// counted with the package files.
	bigList := strings.Repeat("0123456789abcdef0123456789abcdef  usr/bin/x\n", pkgdb.MaxInfoBytes/43+1)
	bigWheel := wheel(t, header, 17)
	bigMetadata := append([]byte(strings.Replace(header, "x", "z", 1)), bytes.Repeat([]byte("Requires-Dist: a\n"), 17<<20/17+1)...)
	inv := run(t, layertest.Layer{Files: map[string]layertest.File{
		"/etc/os-release":              {Content: []byte("ID=alpine\nVERSION_ID=3.20.3\n")},
		"/lib/apk/db/installed":        {Content: []byte(apk.String())},
		"/app/crowded.jar":             {Content: inventory.DirectoryOnlyZip(1<<19+1, 1)},
		"/app/boot.jar":                {Content: outer.Bytes()},
		"/app/crowded.jar.whl":         {Content: inventory.DirectoryOnlyZip(1<<19+1, 1)},
		"/wheels/x-1-py3-none-any.whl": {Content: bigWheel},
		"/wheels/y-1-py3-none-any.whl": {Content: wheel(t, strings.Replace(header, "x", "y", 1), 1)},
		"/usr/lib/python3/site-packages/z-1.dist-info/METADATA": {Content: bigMetadata},
		"/app/bin/app.deps.json":                                {Content: []byte(deps.String())},
		"/var/lib/dpkg/info/big.md5sums":                        {Content: []byte(bigList)},
	}})
	wantErrs := []string{
		"/lib/apk/db/installed: os/apk: more than 50000 packages",
		"/app/crowded.jar: java/archive: more than 524288 entries",
		"/app/boot.jar: java/archive: app/boot.jar/BOOT-INF/lib/crowded.jar: more than 524288 entries",
		fmt.Sprintf("/wheels/x-1-py3-none-any.whl: python/wheelegg: x-1.dist-info/METADATA: %d bytes: larger than the limit of 16777216", len(header)+17*(1<<20/17)*17),
		fmt.Sprintf("/usr/lib/python3/site-packages/z-1.dist-info/METADATA: python/wheelegg: %d bytes: larger than the limit of 16777216", len(bigMetadata)),
		fmt.Sprintf("/var/lib/dpkg/info/big.md5sums: %d bytes: larger than the limit of 8388608 for a dpkg file list, not read", len(bigList)),
	}
	for _, want := range wantErrs {
		found := false
		for _, e := range inv.Errors {
			found = found || strings.HasPrefix(e, want)
		}
		if !found {
			t.Errorf("no error %q in:\n%s", want, strings.Join(inv.Errors, "\n"))
		}
	}
	// The crowded wheel is refused by the same count.
	if !strings.Contains(strings.Join(inv.Errors, "\n"), "/app/crowded.jar.whl: python/wheelegg: more than 524288 entries") {
		t.Errorf("the crowded wheel: %q", inv.Errors)
	}
	if len(inv.Errors) != len(wantErrs)+1 {
		t.Errorf("%d errors, want %d:\n%s", len(inv.Errors), len(wantErrs)+1, strings.Join(inv.Errors, "\n"))
	}
	for _, name := range []string{"p0", "x", "z"} {
		if p := find(inv.Packages, name); p != nil {
			t.Errorf("%s listed from a file not read: %+v", name, p)
		}
	}
	// What is beside them is read: the jar's own package next to the
	// crowded nested jar, a wheel of a MiB, and a .deps.json of 11 MiB,
	// which osv-scalibr's extractor alone would skip without a word.
	for _, name := range []string{"org.example:app", "y", "Newtonsoft.Json"} {
		if find(inv.Packages, name) == nil {
			t.Errorf("%s not listed: %v", name, packageList(inv))
		}
	}
}

// TestFileOverLimit: a package file larger than MaxFileBytes is not read,
// and said so: as an error when an extractor of package files wanted it,
// as skipped when only the Go and Rust binary extractors would have read
// it; an executable that is not a program is not a package file at any
// size.
func TestFileOverLimit(t *testing.T) {
	a, err := inventory.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a.MaxFileBytes = 64 << 10
	big := bytes.Repeat([]byte{0}, 100<<10)
	bigJar := append(pomJar(t, "org.example", "big", "1.0"), big...)
	bigELF := append([]byte("\x7fELF\x02\x01\x01"), big...)
	inv := runWith(t, a, layertest.Layer{Files: map[string]layertest.File{
		"/app/big.jar":   {Content: bigJar},
		"/usr/bin/big":   {Content: bigELF, Mode: 0o755},
		"/opt/model.bin": {Content: big, Mode: 0o755},
		"/app/small.jar": {Content: pomJar(t, "org.example", "small", "1.0")},
	}})
	want := []string{
		fmt.Sprintf("/app/big.jar: %d bytes: larger than the limit of 65536 for a package file, not read", len(bigJar)),
	}
	if got := inv.Errors; strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if find(inv.Packages, "org.example:small") == nil || find(inv.Packages, "org.example:big") != nil {
		t.Errorf("packages: %v", packageList(inv))
	}
	// A program too large to read: only the Go and Rust extractors would
	// have read it — skipped, and counted on P4's line.
	if want := []string{"/usr/bin/big"}; !slices.Equal(inv.Skipped, want) {
		t.Errorf("skipped = %q, want %q", inv.Skipped, want)
	}
	if c := inventory.Coverage(inv, false); !strings.Contains(c.Summary, "; 1 executable too large to read for Go or Rust build information (sections.packages.skipped)") {
		t.Errorf("P4 line: %s", c.Summary)
	}
}
