package imagecfg

import (
	"archive/tar"
	"fmt"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// BenchmarkScan runs the whole analyzer (layer pass and Finish) over a
// two-layer image of 20000 files.
func BenchmarkScan(b *testing.B) {
	var files []file
	for i := 0; i < 20000; i++ {
		files = append(files, file{name: fmt.Sprintf("usr/share/d%d/f%d", i/100, i), body: "x", mode: 0o644})
	}
	img := synthetic(b, v1.Config{User: "app"}, nil, baseLayer(), append(files, file{name: "usr/bin/su", body: "x", mode: 0o4755, typ: tar.TypeReg}))
	a := &Analyzer{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out := run(b, a, img)
		if len(find(out, "SS-P2-004")) != 1 {
			b.Fatal("setuid not found")
		}
	}
}
