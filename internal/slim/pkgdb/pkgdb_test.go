package pkgdb

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/imagetest"
	"github.com/shipshape-dev/shipshape/internal/pkgdb"
	"github.com/shipshape-dev/shipshape/internal/slim/rootfs"
)

// load makes a root filesystem of files (path → content).
func load(t *testing.T, files map[string]string) *rootfs.FS {
	t.Helper()
	var layer imagetest.Layer
	for _, n := range slices.Sorted(maps.Keys(files)) {
		layer.Files = append(layer.Files, imagetest.Reg(n, files[n]))
	}
	fs, err := rootfs.Load(bytes.NewReader(layer.Tar()), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	return fs
}

// TestTrimBounds: a database the image scan would not read (too large,
// too many packages or files, a file list too large) is an error naming
// it, never trimmed from the part read; at the bounds it is trimmed.
func TestTrimBounds(t *testing.T) {
	dpkg := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "Package: p%d\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1\n\n", i)
		}
		return b.String()
	}
	apk := func(files int) string {
		var b strings.Builder
		b.WriteString("P:big\nV:1\nF:usr/share\n")
		for i := range files {
			fmt.Fprintf(&b, "R:f%d\n", i)
		}
		b.WriteString("\nP:musl\nV:1.2\nF:lib\nR:ld-musl-x86_64.so.1\n")
		return b.String()
	}
	lines := func(n int) string { return strings.Repeat("/x\n", n) }
	large := dpkg(1) + strings.Repeat("#", pkgdb.MaxDatabaseBytes)
	for _, tc := range []struct {
		name   string
		files  map[string]string
		err    string // "" when trimmed
		before int
	}{
		{"dpkg at the package limit", map[string]string{"var/lib/dpkg/status": dpkg(pkgdb.MaxPackages)}, "", pkgdb.MaxPackages},
		{"dpkg over the package limit", map[string]string{"var/lib/dpkg/status": dpkg(pkgdb.MaxPackages + 1)},
			"/var/lib/dpkg/status: more than 50000 packages", 0},
		{"dpkg too large", map[string]string{"var/lib/dpkg/status": large},
			fmt.Sprintf("/var/lib/dpkg/status: %d bytes: larger than the limit of 67108864", len(large)), 0},
		{"dpkg list too large", map[string]string{
			"var/lib/dpkg/status":        dpkg(1),
			"var/lib/dpkg/info/p0.list":  strings.Repeat("/", pkgdb.MaxInfoBytes+1),
			"usr/share/doc/p0/copyright": "x",
		}, "/var/lib/dpkg/info/p0.list: 8388609 bytes: larger than the limit of 8388608 for a dpkg file list", 0},
		{"dpkg lists naming too many files", map[string]string{
			"var/lib/dpkg/status":       dpkg(5),
			"var/lib/dpkg/info/p0.list": lines(pkgdb.MaxOwnedFiles / 4),
			"var/lib/dpkg/info/p1.list": lines(pkgdb.MaxOwnedFiles / 4),
			"var/lib/dpkg/info/p2.list": lines(pkgdb.MaxOwnedFiles / 4),
			"var/lib/dpkg/info/p3.list": lines(pkgdb.MaxOwnedFiles / 4),
			"var/lib/dpkg/info/p4.list": lines(1),
		}, fmt.Sprintf("/var/lib/dpkg/info/p4.list: the dpkg file lists name more than %d files in all", pkgdb.MaxOwnedFiles), 0},
		{"apk at the file limit", map[string]string{"lib/apk/db/installed": apk(pkgdb.MaxOwnedFiles - 1), "lib/ld-musl-x86_64.so.1": "elf"}, "", 2},
		{"apk over the file limit", map[string]string{"lib/apk/db/installed": apk(pkgdb.MaxOwnedFiles), "lib/ld-musl-x86_64.so.1": "elf"},
			fmt.Sprintf("/lib/apk/db/installed: more than %d files owned", pkgdb.MaxOwnedFiles), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Trim(load(t, tc.files), map[string]bool{"/lib/ld-musl-x86_64.so.1": true})
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("Trim: %v", err)
			case tc.err == "":
				if res.Before != tc.before {
					t.Errorf("Before = %d, want %d", res.Before, tc.before)
				}
			case err == nil:
				t.Fatalf("Trim read it (%d packages), want the error %q", res.Before, tc.err)
			case !strings.Contains(err.Error(), tc.err):
				t.Errorf("Trim error %q, want %q", err, tc.err)
			}
		})
	}
}

func TestTrim(t *testing.T) {
	files := map[string]string{
		"var/lib/dpkg/status": "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.36\n\n" +
			"Package: apt\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.6\n\n" +
			"Package: gone\nStatus: deinstall ok config-files\nArchitecture: amd64\n",
		"var/lib/dpkg/info/libc6:amd64.list": "/.\n/lib\n/lib/x86_64-linux-gnu/libc.so.6\n",
		"var/lib/dpkg/info/apt.list":         "/.\n/usr/bin/apt\n",
		"lib/x86_64-linux-gnu/libc.so.6":     "elf",
		"usr/bin/apt":                        "elf",
		"lib/apk/db/installed":               "C:Q1\nP:musl\nV:1.2\nF:lib\nR:ld-musl-x86_64.so.1\n\nC:Q2\nP:apk-tools\nV:2.14\nF:sbin\nR:apk\n",
		"lib/ld-musl-x86_64.so.1":            "elf",
		"sbin/apk":                           "elf",
	}
	fs := load(t, files)
	kept := map[string]bool{"/lib": true, "/lib/x86_64-linux-gnu/libc.so.6": true, "/lib/ld-musl-x86_64.so.1": true}
	res, err := Trim(fs, kept)
	if err != nil {
		t.Fatal(err)
	}
	status := string(res.Files["/var/lib/dpkg/status"])
	if !strings.Contains(status, "Package: libc6") || strings.Contains(status, "Package: apt") || strings.Contains(status, "Package: gone") {
		t.Errorf("dpkg status:\n%s", status)
	}
	apk := string(res.Files["/lib/apk/db/installed"])
	if !strings.Contains(apk, "P:musl") || strings.Contains(apk, "P:apk-tools") {
		t.Errorf("apk installed:\n%s", apk)
	}
	if res.Before != 4 || res.After != 2 || len(res.Keep) != 1 || res.Keep[0] != "/var/lib/dpkg/info/libc6:amd64.list" {
		t.Errorf("result: %+v", res)
	}
}
