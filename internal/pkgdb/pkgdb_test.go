package pkgdb

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

func open(t *testing.T, name string) *os.File {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestReadDpkgStatus(t *testing.T) {
	got, err := ReadDpkgStatus(open(t, "status"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Package{
		{Name: "base-files", Version: "12.4+deb12u5", Arch: "amd64", Files: []File{
			{Path: "/etc/debian_version", Sum: "md5:8f5ed8b5e1a1e7e9a2f3c2b1d0e9f8a7"},
			{Path: "/etc/host.conf", Sum: "md5:4eb63731c9f5e30903ac4fc07a7fe3d6"},
		}},
		// removed-pkg is not installed; libc6's description mentions
		// "Conffiles:" inside a continuation line, which is not a field.
		{Name: "libc6", Version: "2.36-9+deb12u7", Arch: "amd64"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ReadDpkgStatus =\n%+v\nwant\n%+v", got, want)
	}
}

func TestReadApk(t *testing.T) {
	got, err := ReadApk(open(t, "installed"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Package{
		{Name: "busybox", Version: "1.36.1-r29", Arch: "x86_64", Files: []File{
			{Path: "/bin/busybox", Sum: "sha1:Q1Ybmr1LbUi7qAx9Vc7n+7Lyx4ds4="},
			{Path: "/bin/sh"},
			// A directory that climbs out is rooted: it stops at /.
			{Path: "/etc/passwd"},
		}},
		{Name: "musl", Version: "1.2.5-r0", Files: []File{{Path: "/lib/ld-musl-x86_64.so.1", Sum: "sha1:Q1xyz="}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ReadApk =\n%+v\nwant\n%+v", got, want)
	}
}

func TestDpkgInfo(t *testing.T) {
	for p, want := range map[string][2]string{
		"/var/lib/dpkg/info/libc6:amd64.list": {"libc6", "list"},
		"/var/lib/dpkg/info/bash.md5sums":     {"bash", "md5sums"},
		"/var/lib/dpkg/info/bash.postinst":    {"", ""},
		"/usr/share/doc/bash/copyright":       {"", ""},
	} {
		if pkg, kind := DpkgInfoPackage(p); pkg != want[0] || kind != want[1] {
			t.Errorf("DpkgInfoPackage(%s) = %s, %s; want %v", p, pkg, kind, want)
		}
	}
	files, _ := ReadDpkgMD5Sums(strings.NewReader("d41d8cd98f00b204e9800998ecf8427e  usr/bin/x\nshort  usr/bin/y\n"))
	if len(files) != 1 || files[0] != (File{Path: "/usr/bin/x", Sum: "md5:d41d8cd98f00b204e9800998ecf8427e"}) {
		t.Errorf("md5sums: %+v", files)
	}
	list, _ := ReadDpkgList(strings.NewReader("/.\n/usr\n/usr/bin/x\nnot a path\n"))
	if len(list) != 3 || list[2].Path != "/usr/bin/x" {
		t.Errorf("list: %+v", list)
	}
}

func TestLongLinesDoNotHideRecords(t *testing.T) {
	huge := "Description: " + strings.Repeat("x", 3*maxLine) + "\n"
	db := "Package: a\nStatus: install ok installed\nVersion: 1\n" + huge + "\nPackage: b\nStatus: install ok installed\nVersion: 2\n"
	got, err := ReadDpkgStatus(strings.NewReader(db))
	if err != nil || len(got) != 2 || got[1].Name != "b" {
		t.Errorf("after a huge line: %+v, %v", got, err)
	}
}
