package pkgdb

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkReadApk parses an installed database of 2000 packages with 20
// files each.
func BenchmarkReadApk(b *testing.B) {
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
		ReadApk(strings.NewReader(db))
	}
}
