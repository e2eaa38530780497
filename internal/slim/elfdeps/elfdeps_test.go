package elfdeps

import (
	"archive/tar"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/slim/rootfs"
	"github.com/shipshape-dev/shipshape/internal/testenv"
)

func TestDeps(t *testing.T) {
	gcc := testenv.Binary(t, "gcc")
	src := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(src, "a.c"), []byte("int a(void){return 1;}"), 0o644))
	must(os.WriteFile(filepath.Join(src, "b.c"), []byte("int b(void){return 2;}"), 0o644))
	must(os.WriteFile(filepath.Join(src, "m.c"), []byte("int a(void); int b(void); int main(void){return a()+b();}"), 0o644))
	gccRun := func(args ...string) {
		cmd := exec.Command(gcc, args...)
		cmd.Dir = src
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("gcc %v: %v\n%s", args, err, out)
		}
	}
	gccRun("-shared", "-fPIC", "-o", "liba.so", "a.c")
	gccRun("-shared", "-fPIC", "-o", "libb.so", "b.c")
	gccRun("-o", "main", "m.c", "-L.", "-la", "-lb", "-Wl,--enable-new-dtags,-rpath,$ORIGIN/../lib")
	read := func(p string) string {
		b, err := os.ReadFile(p)
		must(err)
		return string(b)
	}
	libc, err := os.ReadFile("/lib/x86_64-linux-gnu/libc.so.6")
	testenv.Require(t, "host glibc", err)

	files := []struct{ name, body, link string }{
		{name: "app/bin/main", body: read(filepath.Join(src, "main"))},
		{name: "app/lib/liba.so", body: read(filepath.Join(src, "liba.so"))},
		{name: "opt/b/lib/libb.so", body: read(filepath.Join(src, "libb.so"))},
		// A decoy found first on the search path that is not an ELF object.
		{name: "usr/local/lib/libb.so", body: "not elf"},
		{name: "lib/x86_64-linux-gnu/libc.so.6", body: string(libc)},
		{name: "lib64/ld-linux-x86-64.so.2", link: "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"},
		{name: "etc/ld.so.conf", body: "include ld.so.conf.d/*.conf\n"},
		{name: "etc/ld.so.conf.d/b.conf", body: "# b\n/usr/local/lib\n/opt/b/lib\n"},
		{name: "etc/ld.so.conf.d/ignored.txt", body: "/nowhere\n"},
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: 0o755, Size: int64(len(f.body)), Typeflag: tar.TypeReg}
		if f.link != "" {
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, f.link, 0
		}
		must(tw.WriteHeader(h))
		tw.Write([]byte(f.body))
	}
	must(tw.Close())
	fs, err := rootfs.Load(&buf, t.TempDir())
	must(err)
	defer fs.Close()

	r := New(fs, []string{"PATH=/bin"})
	if want := []string{"/usr/local/lib", "/opt/b/lib"}; !reflect.DeepEqual(r.confDirs, want) {
		t.Errorf("ld.so.conf dirs = %v, want %v", r.confDirs, want)
	}
	e := fs.Lookup("/app/bin/main")
	info, ok, err := Parse(fs.Open(e))
	if !ok || err != nil {
		t.Fatalf("Parse: %v %v", ok, err)
	}
	if info.Interp != "/lib64/ld-linux-x86-64.so.2" || !reflect.DeepEqual(info.RunPath, []string{"$ORIGIN/../lib"}) {
		t.Errorf("info = %+v", info)
	}
	deps, missing := r.Deps("/app/bin/main", info)
	want := []string{"/lib64/ld-linux-x86-64.so.2", "/app/lib/liba.so", "/opt/b/lib/libb.so", "/lib/x86_64-linux-gnu/libc.so.6"}
	if !reflect.DeepEqual(deps, want) || len(missing) != 0 {
		t.Errorf("Deps = %v, missing %v; want %v", deps, missing, want)
	}
	if _, ok, _ := Parse(bytes.NewReader([]byte("#!/bin/sh\n"))); ok {
		t.Error("a script parsed as ELF")
	}
}
