package owncode

import (
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/fstree"
)

func TestTopDirAndThirdParty(t *testing.T) {
	// The definition the allocation-free topDir must keep.
	want := func(p string) string {
		parts := strings.SplitN(strings.TrimPrefix(path.Dir(p), "/"), "/", 3)
		if len(parts) > 2 {
			parts = parts[:2]
		}
		return "/" + strings.Join(parts, "/")
	}
	for _, p := range []string{"/app/main.go", "/main.go", "/a/b/c/d.py", "/a/b/c.py", "/srv/app/x/y/z.js", "rel/x.go", "/x", "/a//b/c/d", "/a/./b/c/d", "/a/b/../c/d/e", "/a/b/c/"} {
		if got := topDir(p); got != want(p) {
			t.Errorf("topDir(%s) = %s, want %s", p, got, want(p))
		}
	}
	for p, want := range map[string]bool{
		"/app/node_modules/x/index.js": true, "/go/pkg/mod/x@v1/a.go": true, "/go/pkg/other/a.go": false,
		"/app/pkg": false, "/app/lib/x.jar": true, "/app/lib/x.py": false, "/app/src/main.py": false, "/usr/vendor/a.php": true,
	} {
		if got := thirdParty(p); got != want {
			t.Errorf("thirdParty(%s) = %v, want %v", p, got, want)
		}
	}
}

// TestDirSkip checks the per-directory memo of discover against
// thirdParty || system on every path of up to four components built from
// names the rules look at, walked in path order as discover walks them.
func TestDirSkip(t *testing.T) {
	names := []string{"usr", "lib", "local", "bin", "share", "doc", "node_modules", "pkg", "mod", "vendor", "libs",
		"dependency", "app", "python3.11", "python", "ruby", "perl5", "pip3", "go", "x.jar", "a.py", "etc", "site-packages"}
	var paths []string
	var gen func(prefix string, depth int)
	gen = func(prefix string, depth int) {
		for _, n := range names {
			p := prefix + "/" + n
			paths = append(paths, p)
			if depth > 1 {
				gen(p, depth-1)
			}
		}
	}
	gen("", 4)
	slices.SortFunc(paths, fstree.ComparePaths)
	var d, de dirSkip
	var ps fstree.Paths
	skipped := 0
	for i, p := range paths {
		want := thirdParty(p) || system(p)
		if got := d.skip(p); got != want {
			t.Errorf("skip(%s) = %v, want %v", p, got, want)
		}
		// skipEntry judges by the entry's directory and name, and must
		// agree, also when skip is called in between.
		e := &fstree.Entry{}
		ps.Set(e, p)
		if i%7 == 0 {
			de.skip("/opt/x")
		}
		if got := de.skipEntry(e); got != want {
			t.Errorf("skipEntry(%s) = %v, want %v", p, got, want)
		}
		if want {
			skipped++
		}
	}
	if skipped == 0 || skipped == len(paths) {
		t.Fatalf("%d of %d paths skipped: the corpus does not exercise the rules", skipped, len(paths))
	}
}
