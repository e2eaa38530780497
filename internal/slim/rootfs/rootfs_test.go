package rootfs

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/imagetest"
)

// tarOf is a tar stream of files.
func tarOf(files ...imagetest.File) *bytes.Reader {
	return bytes.NewReader(imagetest.Layer{Files: files}.Tar())
}

func load(t *testing.T) *FS {
	t.Helper()
	fs, err := Load(tarOf(
		imagetest.Dir("./"),
		imagetest.Dir("./lib/"),
		imagetest.Reg("./lib/libc.so.6", "libc contents"),
		imagetest.Symlink("./lib64", "lib"),
		imagetest.Dir("./usr/"),
		imagetest.Symlink("./usr/lib", "../lib"),
		imagetest.Dir("./etc/"),
		imagetest.Symlink("./etc/escape", "../../../../lib/libc.so.6"),
		imagetest.Symlink("./etc/abs", "/usr/lib/libc.so.6"),
		imagetest.Hardlink("./etc/hard", "lib/libc.so.6"),
		imagetest.Symlink("./loop1", "loop2"),
		imagetest.Symlink("./loop2", "loop1"),
		imagetest.Reg("./etc/notdir", "x"),
		imagetest.Reg("../../outside", "clean me"),
	), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	return fs
}

func TestResolve(t *testing.T) {
	fs := load(t)
	for _, tc := range []struct {
		in, want string
		found    bool
		links    int
	}{
		{"/lib/libc.so.6", "/lib/libc.so.6", true, 0},
		{"/lib64/libc.so.6", "/lib/libc.so.6", true, 1},
		{"/usr/lib/libc.so.6", "/lib/libc.so.6", true, 1},
		{"/etc/escape", "/lib/libc.so.6", true, 1},
		{"/etc/abs", "/lib/libc.so.6", true, 2},
		{"/etc/../../lib/./libc.so.6", "/lib/libc.so.6", true, 0},
		{"/lib/missing.so", "/lib/missing.so", false, 0},
		{"/etc/notdir/x", "/etc/notdir/x", false, 0},
	} {
		links := 0
		got, e, err := fs.Resolve(tc.in, func(x *Entry) {
			if x.Header.Typeflag == tar.TypeSymlink {
				links++
			}
		})
		if err != nil || got != tc.want || (e != nil) != tc.found || links != tc.links {
			t.Errorf("Resolve(%q) = %q, found %v, %d links, %v; want %q, %v, %d links", tc.in, got, e != nil, links, err, tc.want, tc.found, tc.links)
		}
	}
	if _, _, err := fs.Resolve("/loop1", nil); err == nil {
		t.Error("symlink loop: no error")
	}
}

func TestContentAndHardLinks(t *testing.T) {
	fs := load(t)
	for _, p := range []string{"/lib/libc.so.6", "/etc/hard"} {
		e := fs.Lookup(p)
		if e == nil || e.Header.Typeflag != tar.TypeReg {
			t.Fatalf("%s: %+v", p, e)
		}
		b, err := io.ReadAll(fs.Open(e))
		if err != nil || string(b) != "libc contents" {
			t.Errorf("%s: %q %v", p, b, err)
		}
	}
	if e := fs.Lookup("/outside"); e == nil {
		t.Error("a name with .. was not cleaned into the root")
	} else if b, _ := io.ReadAll(fs.Open(e)); string(b) != "clean me" {
		t.Errorf("/outside = %q", b)
	}
	if got := fs.Under("/etc"); len(got) != 4 {
		t.Errorf("Under(/etc) = %v", got)
	}
	if fs.Bytes() != int64(2*len("libc contents")+len("x")+len("clean me")) {
		t.Errorf("Bytes = %d", fs.Bytes())
	}
}

func TestLoadTruncated(t *testing.T) {
	b := imagetest.Layer{Files: []imagetest.File{imagetest.Reg("a", "0123456789")}}.Tar()
	if _, err := Load(bytes.NewReader(b[:515]), t.TempDir()); err == nil {
		t.Error("truncated tar: no error")
	}
}

func TestLoadLayersWhiteouts(t *testing.T) {
	l1 := imagetest.Layer{Files: []imagetest.File{
		imagetest.Dir("a/"), imagetest.Reg("a/keep", "1"), imagetest.Reg("a/gone", "2"),
		imagetest.Dir("o/"), imagetest.Reg("o/old", "3"),
		imagetest.Dir("d/"), imagetest.Reg("d/x", "4"),
	}}.Tar()
	l2 := imagetest.Layer{Files: []imagetest.File{
		imagetest.Whiteout("a/gone"),
		imagetest.Opaque("o/"), imagetest.Reg("o/new", "5"),
		imagetest.Reg("d", "now a file"),
	}}.Tar()
	open := func(b []byte) func() (io.ReadCloser, error) {
		return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	fs, err := LoadLayers([]func() (io.ReadCloser, error){open(l1), open(l2)}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	got := fs.Paths()
	want := []string{"/", "/a", "/a/keep", "/d", "/o", "/o/new"}
	if len(got) != len(want) {
		t.Fatalf("paths = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("paths = %v, want %v", got, want)
		}
	}
	if b, _ := io.ReadAll(fs.Open(fs.Lookup("/d"))); string(b) != "now a file" {
		t.Errorf("/d = %q", b)
	}
	if b, _ := io.ReadAll(fs.Open(fs.Lookup("/a/keep"))); string(b) != "1" {
		t.Errorf("/a/keep = %q", b)
	}
}

func TestExtract(t *testing.T) {
	fs := load(t)
	dir := t.TempDir()
	if err := fs.Extract(fs.Paths(), dir, false); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "usr/lib/libc.so.6")) // through the extracted ../lib link
	if err != nil || string(b) != "libc contents" {
		t.Errorf("usr/lib/libc.so.6: %q %v", b, err)
	}
	if l, err := os.Readlink(filepath.Join(dir, "etc/escape")); err != nil || l != "../../../../lib/libc.so.6" {
		t.Errorf("etc/escape: %q %v", l, err)
	}
	// Nothing was written outside dir.
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "outside")); err == nil {
		t.Error("a file escaped the extraction directory")
	}
}

func TestExtractNeverCrossesLinks(t *testing.T) {
	// "/x" is a link to the host's /tmp, and a later entry claims /x/pwned.
	fs, err := Load(tarOf(
		imagetest.Symlink("x", "/tmp"),
		imagetest.Reg("x/pwned", "no"),
	), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	dir := t.TempDir()
	if err := fs.Extract(fs.Paths(), dir, false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat("/tmp/pwned"); err == nil {
		t.Fatal("extraction followed a symlink out of the root")
	}
}
