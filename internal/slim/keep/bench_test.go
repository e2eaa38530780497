package keep

import (
	"archive/tar"
	"bytes"
	"fmt"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/slim/rootfs"
)

// benchFS is a 50,000-file tree shaped like a Python install: 500
// packages of 100 modules, plus docs.
func benchFS(b *testing.B) (*rootfs.FS, []string) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	var touched []string
	for p := 0; p < 500; p++ {
		dir := fmt.Sprintf("usr/lib/python3/dist-packages/pkg%03d", p)
		tw.WriteHeader(&tar.Header{Name: dir + "/", Typeflag: tar.TypeDir, Mode: 0o755})
		for m := 0; m < 100; m++ {
			name := fmt.Sprintf("%s/mod%03d.py", dir, m)
			if m == 0 {
				name = dir + "/__init__.py"
			}
			body := []byte("import os\n")
			tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))})
			tw.Write(body)
			if p%10 == 0 && m == 1 {
				touched = append(touched, "/"+name)
			}
		}
	}
	tw.Close()
	fs, err := rootfs.Load(&buf, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { fs.Close() })
	return fs, touched
}

func BenchmarkCompute(b *testing.B) {
	fs, touched := benchFS(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Compute(fs, Options{Touched: touched}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoad(b *testing.B) {
	for i := 0; i < b.N; i++ {
		benchFS(b)
	}
}
