package atomicfile_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/atomicfile"
)

func TestAbortKeepsTheOldFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "profile.json")
	if err := os.WriteFile(p, []byte("old, good"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := atomicfile.Create(p, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("new, trunc")
	// An interrupted run: nothing committed.
	if err := f.Abort(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "old, good" {
		t.Errorf("after Abort the file holds %q", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("temporary file left behind: %v", ents)
	}
}

func TestCommitReplaces(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.tar")
	os.WriteFile(p, []byte("old"), 0o600)
	f, err := atomicfile.Create(p, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Abort()
	f.WriteString("new")
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Errorf("destination changed before Commit: %q", b)
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := f.Abort(); err != nil {
		t.Errorf("Abort after Commit: %v", err)
	}
	b, _ := os.ReadFile(p)
	st, _ := os.Stat(p)
	if string(b) != "new" || st.Mode().Perm() != 0o640 {
		t.Errorf("after Commit: %q %v", b, st.Mode())
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, "sub", "x"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
}
