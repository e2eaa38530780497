package atomicfile_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/atomicfile"
	"github.com/shipshape-dev/shipshape/internal/testenv"
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

// TestNotARegularFile: a fifo (like /dev/null or /dev/stdout, a
// destination that is not a regular file) is written in place, never
// replaced by a file; a directory is refused.
func TestNotARegularFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		testenv.Require(t, "mkfifo (a fifo to write to)", err)
	}
	got := make(chan []byte)
	go func() {
		b, _ := os.ReadFile(fifo)
		got <- b
	}()
	f, err := atomicfile.Create(fifo, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("report")); err != nil {
		t.Fatal(err)
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	if b := <-got; string(b) != "report" {
		t.Errorf("the reader got %q", b)
	}
	fi, err := os.Lstat(fifo)
	if err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the fifo was replaced: %v %v", fi.Mode(), err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
	if _, err := atomicfile.Create(dir, 0o644); err == nil {
		t.Error("a directory as the destination: no error")
	}
}
