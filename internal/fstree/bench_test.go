package fstree

import (
	"bufio"
	"bytes"
	"fmt"
	"testing"
)

// nested returns n regular files, 1000 to a directory, with their
// directories, in archive order (the shape of imagetest.NestedEntries).
func nested(n int) []*Entry {
	var es []*Entry
	for i := range n {
		dir := fmt.Sprintf("/usr/share/synth/d%04d", i/1000)
		if i%1000 == 0 {
			es = append(es, withPath(&Entry{Type: Dir, Layer: 1}, dir))
		}
		es = append(es, withPath(&Entry{Type: Regular, Size: 12, Layer: 1}, fmt.Sprintf("%s/file-%07d.txt", dir, i)))
	}
	return es
}

// BenchmarkReadEntries decodes a cached index of a million entries, the
// first step of a warm scan.
func BenchmarkReadEntries(b *testing.B) {
	var buf bytes.Buffer
	if err := WriteLayer(bufio.NewWriter(&buf), NewLayer(1, nested(1_000_000)...)); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	for b.Loop() {
		if _, err := readEntries(bufio.NewReader(bytes.NewReader(buf.Bytes())), 1); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSquash squashes one layer of a million entries.
func BenchmarkSquash(b *testing.B) {
	l := NewLayer(1, nested(1_000_000)...)
	for b.Loop() {
		if t := Squash([]*Layer{l}); t.Len() != l.Len() {
			b.Fatal(t.Len())
		}
	}
}
