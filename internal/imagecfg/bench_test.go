package imagecfg

import (
	"archive/tar"
	"fmt"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// BenchmarkParseAPK parses an installed database of 2000 packages with 20
// files each.
func BenchmarkParseAPK(b *testing.B) {
	var sb strings.Builder
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(&sb, "C:Q1abc=\nP:pkg%d\nV:1.%d-r0\nA:x86_64\nF:usr/bin\n", i, i)
		for j := 0; j < 20; j++ {
			fmt.Fprintf(&sb, "R:file%d-%d\na:0:0:755\nZ:Q1xyz=\n", i, j)
		}
		sb.WriteString("\n")
	}
	db := sb.String()
	b.SetBytes(int64(len(db)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		parseAPK(strings.NewReader(db))
	}
}

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
