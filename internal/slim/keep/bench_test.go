package keep

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/imagetest"
	"github.com/shipshape-dev/shipshape/internal/slim/rootfs"
)

// benchFS is a 50,000-file tree shaped like a Python install: 500
// packages of 100 modules, plus docs.
func benchFS(b *testing.B) (*rootfs.FS, []string) {
	var layer imagetest.Layer
	var touched []string
	for p := 0; p < 500; p++ {
		dir := fmt.Sprintf("usr/lib/python3/dist-packages/pkg%03d", p)
		layer.Files = append(layer.Files, imagetest.Dir(dir+"/"))
		for m := 0; m < 100; m++ {
			name := fmt.Sprintf("%s/mod%03d.py", dir, m)
			if m == 0 {
				name = dir + "/__init__.py"
			}
			layer.Files = append(layer.Files, imagetest.Reg(name, "import os\n"))
			if p%10 == 0 && m == 1 {
				touched = append(touched, "/"+name)
			}
		}
	}
	fs, err := rootfs.Load(bytes.NewReader(layer.Tar()), b.TempDir())
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
