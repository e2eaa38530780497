package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// TestGoTool finds a program installed in GOBIN when PATH lacks it, and
// says how to install a missing one.
func TestGoTool(t *testing.T) {
	bin := t.TempDir()
	tool := filepath.Join(bin, "shipshape-fake-tool")
	if err := os.WriteFile(tool, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", t.TempDir())
	t.Setenv("GOBIN", bin)
	if p, err := goTool("shipshape-fake-tool"); err != nil || p != tool {
		t.Errorf("goTool = %q, %v; want %s", p, err, tool)
	}
	t.Setenv("GOBIN", "")
	t.Setenv("GOPATH", filepath.Dir(bin)+string(os.PathListSeparator)+t.TempDir())
	os.MkdirAll(filepath.Join(filepath.Dir(bin), "bin"), 0o755)
	gp := filepath.Join(filepath.Dir(bin), "bin", "shipshape-fake-tool")
	os.WriteFile(gp, []byte("#!/bin/sh\n"), 0o755)
	if p, err := goTool("shipshape-fake-tool"); err != nil || p != gp {
		t.Errorf("goTool via GOPATH = %q, %v; want %s", p, err, gp)
	}
	if _, err := goTool("shipshape-missing-tool"); err == nil {
		t.Error("a missing tool was found")
	}
}
