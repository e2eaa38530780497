package inventory_test

import (
	"bytes"
	"compress/zlib"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
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
	content := withDepInfo(t, []byte(`{"packages":[
	 {"name":"app","version":"0.1.0","source":"local","kind":"runtime","dependencies":[1],"root":true},
	 {"name":"time","version":"0.1.43","source":"crates.io","kind":"runtime","dependencies":[]}]}`))
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

// withDepInfo is a small Go program with a cargo-auditable ".dep-v0"
// section holding json, zlib-compressed, added by objcopy.
func withDepInfo(t *testing.T, json []byte) []byte {
	t.Helper()
	objcopy := testenv.Binary(t, "objcopy")
	dir := t.TempDir()
	bin := filepath.Join(dir, "app")
	if err := os.WriteFile(bin, buildGo(t, "package main\nfunc main() {}\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestSpeed)
	zw.Write(json)
	zw.Close()
	sec := filepath.Join(dir, "dep")
	os.WriteFile(sec, z.Bytes(), 0o644)
	if out, err := exec.Command(objcopy, "--add-section", ".dep-v0="+sec, bin).CombinedOutput(); err != nil {
		t.Fatalf("objcopy: %v\n%s", err, out)
	}
	content, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	return content
}

// TestCargoAuditableBomb: a crate list that inflates to 32 MiB (from a
// small section) is not read — the file says why — and never held in
// memory.
func TestCargoAuditableBomb(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds a Go binary (CI runs without -short, so it always runs there)")
	}
	content := withDepInfo(t, append([]byte(`{"packages":[`), bytes.Repeat([]byte(" "), 32<<20)...))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	inv := run(t, layertest.Layer{Files: map[string]layertest.File{"/usr/bin/app": {Content: content, Mode: 0o755}}})
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 24<<20 {
		t.Errorf("allocated %d MiB reading a %d KiB binary: the crate list was inflated into memory", alloc>>20, len(content)>>10)
	}
	want := "/usr/bin/app: rust/cargoauditable: cargo-auditable section inflates to more than 16777216 bytes: not read"
	if !slices.Contains(inv.Errors, want) {
		t.Errorf("errors %q, want %q", inv.Errors, want)
	}
	// The Go extractor still reads the same binary.
	if find(inv.Packages, "stdlib") == nil {
		t.Error("Go toolchain of the binary missing")
	}
}
