package pkgdb

import (
	"fmt"
	"io"
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

// records is n database records written by one, concatenated.
func records(n int, one func(i int) string) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(one(i))
	}
	return b.String()
}

// TestDatabaseBounds: a database of more packages, or more owned files,
// than any real system has is an error with no packages; one at the
// limit is read whole.
func TestDatabaseBounds(t *testing.T) {
	dpkg := func(i int) string {
		return fmt.Sprintf("Package: p%d\nStatus: install ok installed\nVersion: 1\n\n", i)
	}
	apk := func(i int) string { return fmt.Sprintf("P:p%d\nV:1\n\n", i) }
	oneApk := "P:big\nV:1\nF:usr\n" + strings.Repeat("R:a\n", MaxOwnedFiles+1)
	tests := []struct {
		name    string
		read    func(io.Reader) ([]Package, error)
		db      string
		want    int
		wantErr string
	}{
		{"dpkg at the limit", ReadDpkgStatus, records(MaxPackages, dpkg), MaxPackages, ""},
		{"dpkg over", ReadDpkgStatus, records(MaxPackages+1, dpkg), 0, "more than 50000 packages"},
		{"apk at the limit", ReadApk, records(MaxPackages, apk), MaxPackages, ""},
		{"apk over", ReadApk, records(MaxPackages+1, apk), 0, "more than 50000 packages"},
		{"apk package owning too many files", ReadApk, oneApk, 0, fmt.Sprintf("more than %d files owned", MaxOwnedFiles)},
		{"apk files over the limit in all", ReadApk, records(3, func(i int) string {
			return fmt.Sprintf("P:p%d\nV:1\n", i) + strings.Repeat("R:a\n", MaxOwnedFiles/2) + "\n"
		}), 0, fmt.Sprintf("more than %d files owned", MaxOwnedFiles)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.read(strings.NewReader(tt.db))
			if len(got) != tt.want || (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("%d packages, error %v; want %d, %q", len(got), err, tt.want, tt.wantErr)
			}
			// The cheap count agrees, and stops one past the limit.
			n, err := CountPackages(strings.NewReader(tt.db), MaxPackages)
			if err != nil || n != min(strings.Count("\n"+tt.db, "\nP:")+strings.Count("\n"+tt.db, "\nPackage:"), MaxPackages+1) {
				t.Errorf("CountPackages = %d, %v", n, err)
			}
			// The cheap check refuses what the reader refuses, saying so.
			if cerr := CheckPackages(strings.NewReader(tt.db)); (cerr != nil) != (tt.wantErr != "") || (cerr != nil && !strings.Contains(cerr.Error(), tt.wantErr)) {
				t.Errorf("CheckPackages = %v, want %q", cerr, tt.wantErr)
			}
		})
	}
	if err := TooLarge(MaxDatabaseBytes + 1); !strings.Contains(err.Error(), "larger than the limit of 67108864") {
		t.Errorf("TooLarge = %v", err)
	}
}
