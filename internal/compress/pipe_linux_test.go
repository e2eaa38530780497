package compress

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestSpliceFile moves sections of a file into a pipe bigger than the pipe
// holds (the writer waits for room), leaves the file's offset alone, and
// fails when the file ends before the section does.
func TestSpliceFile(t *testing.T) {
	content := mixed(3 << 20)
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, content, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, tt := range []struct {
		name    string
		off, n  int64
		wantErr error
	}{
		{name: "whole file", off: 0, n: int64(len(content))},
		{name: "middle", off: 12345, n: 2<<20 + 7},
		{name: "empty", off: 100, n: 0},
		{name: "past the end", off: int64(len(content)) - 10, n: 20, wantErr: io.ErrUnexpectedEOF},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			got := make(chan []byte)
			go func() { b, _ := io.ReadAll(r); got <- b }()
			moved, err := spliceFile(w, f, tt.off, tt.n)
			w.Close()
			out := <-got
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("spliceFile: %v, want %v", err, tt.wantErr)
			}
			want := content[tt.off:min(tt.off+tt.n, int64(len(content)))]
			if moved != int64(len(want)) || !bytes.Equal(out, want) {
				t.Errorf("moved %d bytes, read %d, want %d of the file at %d", moved, len(out), len(want), tt.off)
			}
			if pos, _ := f.Seek(0, io.SeekCurrent); pos != 0 {
				t.Errorf("the file's offset moved to %d", pos)
			}
		})
	}
}
