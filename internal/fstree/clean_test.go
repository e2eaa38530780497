package fstree

import (
	"path"
	"strings"
	"testing"
)

func isCleanRef(p string) bool { return path.Clean(p) == p && strings.HasPrefix(p, "/") }

func TestIsClean(t *testing.T) {
	for _, p := range []string{"/", "/a", "/a/b", "a", "", "/a/", "//a", "/a/./b", "/a/../b", "/.", "/..", "/a//b",
		"/a.b/c..d", "/a/.", "/a/..", "/.a", "/..a", "/a/.b/..c", "/...", "/a/...", "//", "/./", ".", ".."} {
		if got, want := IsClean(p), isCleanRef(p); got != want {
			t.Errorf("IsClean(%q) = %v, want %v", p, got, want)
		}
	}
}

// FuzzIsClean checks IsClean against path.Clean on any input.
func FuzzIsClean(f *testing.F) {
	for _, p := range []string{"/a/./b", "/a/..", "/.a/b..", "//"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if got, want := IsClean(p), isCleanRef(p); got != want {
			t.Errorf("IsClean(%q) = %v, want %v", p, got, want)
		}
	})
}
