package inventory

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/fstree"
	"github.com/shipshape-dev/shipshape/internal/image"
)

// TestBigFileBufferNotKept reads a Go binary of several megabytes (this
// test's own) through a layer scanner: its modules are found, and the
// buffer it needed is not kept for the rest of the layer.
func TestBigFileBufferNotKept(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) <= keepBuffer {
		t.Fatalf("test binary is only %d bytes", len(b))
	}
	a, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := a.NewLayer(&image.Layer{Index: 1}).(*layerScanner)
	e := &fstree.Entry{Type: fstree.Regular, Size: int64(len(b))}
	e.SetPath("/app/server")
	e.SetMode(0o755)
	if err := s.File(context.Background(), e, bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	if len(s.facts.Files) == 0 || len(s.facts.Files[0].Packages) == 0 {
		t.Fatalf("no packages found in the Go binary: %+v", s.facts)
	}
	if c := cap(s.buf); c > keepBuffer {
		t.Errorf("the layer scanner keeps a %d-byte buffer after the file, want at most %d", c, keepBuffer)
	}
}
