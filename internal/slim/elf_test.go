package slim_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/slim"
	"github.com/shipshape-dev/shipshape/internal/slim/runner"
	"github.com/shipshape-dev/shipshape/internal/testenv"
)

const helloC = `#include <stdio.h>
const char *greet(void);
const char *vendor(void);
int main(void) { printf("%s and %s\n", greet(), vendor()); return 0; }
`

// TestSlimELFClosure slims an image whose traced run never starts the C
// program; the program is kept with --include-bin, so its libraries —
// one through DT_RUNPATH $ORIGIN/../lib, one through /etc/ld.so.conf.d and
// ld.so.cache, glibc through the default directory and the /lib64 link to
// the loader — can only come from the ELF closure.
func TestSlimELFClosure(t *testing.T) {
	if testing.Short() {
		t.Skip("runs containers")
	}
	cli := testenv.Docker(t)
	gcc := testenv.Binary(t, "gcc")
	ldconfig := testenv.Binary(t, "ldconfig")
	src := t.TempDir()
	root := t.TempDir()
	for _, d := range []string{"app/bin", "app/lib", "opt/vendor/lib", "etc/ld.so.conf.d", "lib/x86_64-linux-gnu", "lib64"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(src, "greet.c"), `const char *greet(void) { return "greetings from libgreet"; }`)
	write(filepath.Join(src, "vendor.c"), `const char *vendor(void) { return "libvendor"; }`)
	write(filepath.Join(src, "hello.c"), helloC)
	write(filepath.Join(src, "idle.c"), `int main(void) { return 0; }`)
	run(t, src, gcc, "-shared", "-fPIC", "-o", filepath.Join(root, "app/lib/libgreet.so"), "greet.c")
	run(t, src, gcc, "-shared", "-fPIC", "-o", filepath.Join(root, "opt/vendor/lib/libvendor.so"), "vendor.c")
	run(t, src, gcc, "-o", filepath.Join(root, "app/bin/hello"), "hello.c",
		"-L"+filepath.Join(root, "app/lib"), "-L"+filepath.Join(root, "opt/vendor/lib"), "-lgreet", "-lvendor",
		"-Wl,--enable-new-dtags,-rpath,$ORIGIN/../lib")
	run(t, src, gcc, "-static", "-o", filepath.Join(root, "idle"), "idle.c")
	// glibc from the host, as a distribution image would ship it.
	for _, lib := range []string{"libc.so.6", "ld-linux-x86-64.so.2", "libm.so.6", "libresolv.so.2"} {
		b, err := os.ReadFile(filepath.Join("/lib/x86_64-linux-gnu", lib))
		testenv.Require(t, "host glibc", err)
		if err := os.WriteFile(filepath.Join(root, "lib/x86_64-linux-gnu", lib), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Symlink("/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", filepath.Join(root, "lib64/ld-linux-x86-64.so.2"))
	write(filepath.Join(root, "etc/ld.so.conf"), "include /etc/ld.so.conf.d/*.conf\n")
	write(filepath.Join(root, "etc/ld.so.conf.d/vendor.conf"), "# vendor libraries\n/opt/vendor/lib\n")
	run(t, root, ldconfig, "-r", root)

	var files []file
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			files = append(files, file{name: rel, link: target})
		case fi.IsDir():
			files = append(files, file{name: rel, dir: true})
		default:
			b, _ := os.ReadFile(p)
			files = append(files, file{name: rel, body: string(b), mode: int64(fi.Mode().Perm())})
		}
		return nil
	})
	name := prefix + "elf:1"
	importImage(t, cli, name, "", files, `CMD ["/idle"]`)
	tag := prefix + "elf-slim:1"
	t.Cleanup(func() { removeImage(cli, tag) })
	o := options(t, name)
	o.IncludeBins = []string{"/app/bin/hello"}
	o.Tag = tag
	res, err := slim.Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/app/lib/libgreet.so", "/opt/vendor/lib/libvendor.so", "/lib/x86_64-linux-gnu/libc.so.6"} {
		for _, r := range res.Probes {
			if strings.Contains(r.Name, p) {
				t.Fatalf("the probe touched %s itself", p)
			}
		}
	}
	t.Logf("elf: before %d files %d bytes, after %d files %d bytes (%.1fx), %v", res.Before.Files, res.Before.Bytes, res.After.Files, res.After.Bytes, res.Reduction, res.Seconds)
	if res.KeptBecause["elf-closure"] < 4 {
		t.Errorf("kept because: %v", res.KeptBecause)
	}
	if res.Removed["other"].Files == 0 {
		t.Errorf("nothing removed (libm and libresolv are unused): %v", res.Removed)
	}
	c, err := runner.Start(context.Background(), cli, runner.Spec{Image: tag, Name: prefix + "elf-run", Entrypoint: []string{"/app/bin/hello"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Remove(context.Background())
	if code := c.Wait(context.Background(), 30e9); code != 0 {
		t.Fatalf("hello in the slimmed image exited %d: %s", code, c.Logs(context.Background()))
	}
	if out := c.Logs(context.Background()); out != "greetings from libgreet and libvendor" {
		t.Errorf("hello printed %q", out)
	}
}
