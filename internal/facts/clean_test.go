package facts

import (
	"path"
	"strings"
	"testing"
)

func TestCleanAbs(t *testing.T) {
	for _, p := range []string{"/", "/a", "/a/b", "a", "", "/a/", "//a", "/a/./b", "/a/../b", "/.", "/..", "/a//b", "/a.b/c..d"} {
		if got, want := cleanAbs(p), path.Clean(p) == p && strings.HasPrefix(p, "/"); got != want {
			t.Errorf("cleanAbs(%q) = %v, want %v", p, got, want)
		}
	}
}
