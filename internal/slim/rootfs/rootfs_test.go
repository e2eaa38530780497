package rootfs

import (
	"archive/tar"
	"bytes"
	"io"
	"testing"
)

type ent struct {
	name, body, link string
	typ              byte
}

// tarOf builds a tar stream.
func tarOf(t *testing.T, ents []ent) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: 0o644, Size: int64(len(e.body))}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			io.WriteString(tw, e.body)
		}
	}
	tw.Close()
	return &buf
}

func load(t *testing.T) *FS {
	t.Helper()
	fs, err := Load(tarOf(t, []ent{
		{name: "./", typ: tar.TypeDir},
		{name: "./lib/", typ: tar.TypeDir},
		{name: "./lib/libc.so.6", body: "libc contents", typ: tar.TypeReg},
		{name: "./lib64", typ: tar.TypeSymlink, link: "lib"},
		{name: "./usr/", typ: tar.TypeDir},
		{name: "./usr/lib", typ: tar.TypeSymlink, link: "../lib"},
		{name: "./etc/", typ: tar.TypeDir},
		{name: "./etc/escape", typ: tar.TypeSymlink, link: "../../../../lib/libc.so.6"},
		{name: "./etc/abs", typ: tar.TypeSymlink, link: "/usr/lib/libc.so.6"},
		{name: "./etc/hard", typ: tar.TypeLink, link: "lib/libc.so.6"},
		{name: "./loop1", typ: tar.TypeSymlink, link: "loop2"},
		{name: "./loop2", typ: tar.TypeSymlink, link: "loop1"},
		{name: "./etc/notdir", body: "x", typ: tar.TypeReg},
		{name: "../../outside", body: "clean me", typ: tar.TypeReg},
	}), t.TempDir())
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
	b := tarOf(t, []ent{{name: "a", body: "0123456789", typ: tar.TypeReg}}).Bytes()
	if _, err := Load(bytes.NewReader(b[:515]), t.TempDir()); err == nil {
		t.Error("truncated tar: no error")
	}
}
