package elfdeps

import (
	"archive/tar"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/imagetest"
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

	exe := func(name, body string) imagetest.File {
		return imagetest.File{Name: name, Content: []byte(body), Mode: 0o755}
	}
	layer := imagetest.Layer{Files: []imagetest.File{
		exe("app/bin/main", read(filepath.Join(src, "main"))),
		exe("app/lib/liba.so", read(filepath.Join(src, "liba.so"))),
		exe("opt/b/lib/libb.so", read(filepath.Join(src, "libb.so"))),
		// A decoy found first on the search path that is not an ELF object.
		exe("usr/local/lib/libb.so", "not elf"),
		exe("lib/x86_64-linux-gnu/libc.so.6", string(libc)),
		{Name: "lib64/ld-linux-x86-64.so.2", Type: tar.TypeSymlink, Linkname: "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", Mode: 0o755},
		exe("etc/ld.so.conf", "include ld.so.conf.d/*.conf\n"),
		exe("etc/ld.so.conf.d/b.conf", "# b\n/usr/local/lib\n/opt/b/lib\n"),
		exe("etc/ld.so.conf.d/ignored.txt", "/nowhere\n"),
	}}
	fs, err := rootfs.Load(bytes.NewReader(layer.Tar()), t.TempDir())
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
