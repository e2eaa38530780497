package inventory_test

import (
	"bytes"
	"compress/zlib"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/layertest"
	"github.com/shipshape-dev/shipshape/internal/testenv"
)

// TestCargoAuditable adds a cargo-auditable ".dep-v0" section (zlib JSON)
// to a real ELF binary with objcopy and checks the crates are listed.
func TestCargoAuditable(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	objcopy := testenv.Binary(t, "objcopy")
	dir := t.TempDir()
	bin := filepath.Join(dir, "app")
	if err := os.WriteFile(bin, buildGo(t, "package main\nfunc main() {}\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write([]byte(`{"packages":[
	 {"name":"app","version":"0.1.0","source":"local","kind":"runtime","dependencies":[1],"root":true},
	 {"name":"time","version":"0.1.43","source":"crates.io","kind":"runtime","dependencies":[]}]}`))
	zw.Close()
	sec := filepath.Join(dir, "dep")
	os.WriteFile(sec, z.Bytes(), 0o644)
	if out, err := exec.Command(objcopy, "--add-section", ".dep-v0="+sec, bin).CombinedOutput(); err != nil {
		t.Fatalf("objcopy: %v\n%s", err, out)
	}
	content, _ := os.ReadFile(bin)
	inv := run(t, layertest.Layer{Files: map[string]layertest.File{"/usr/bin/app": {Content: content, Mode: 0o755}}})
	p := find(inv.Packages, "time")
	if p == nil || p.Version != "0.1.43" || p.Ecosystem != "crates.io" || p.PURL != "pkg:cargo/time@0.1.43" {
		t.Errorf("time crate = %+v (all: %+v)", p, inv.Packages)
	}
	// The same binary is a Go binary too: its toolchain is listed.
	if find(inv.Packages, "stdlib") == nil {
		t.Error("Go toolchain of the binary missing")
	}
}
