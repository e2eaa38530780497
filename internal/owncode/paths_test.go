package owncode

import (
	"fmt"
	"path"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/analyze"
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

// TestDiscoverInParts holds discover, which searches a big tree in one
// part per core, to one search of the whole tree: the same own files, in
// the same order, of the same classes, whatever the split.
func TestDiscoverInParts(t *testing.T) {
	var es []*fstree.Entry
	add := func(typ fstree.Type, p string) {
		e := &fstree.Entry{Type: typ, Size: 1, Layer: 1}
		e.SetPath(p)
		es = append(es, e)
	}
	dirs := []string{"/app/src", "/app/node_modules/x", "/usr/lib/python3/dist-packages", "/srv/web/dist", "/srv/web/build", "/opt/tool/lib"}
	exts := []string{".go", ".py", ".js", ".min.js", ".jar", ".so", ".txt", ""}
	for d := range 3000 {
		dir := fmt.Sprintf("%s/d%04d", dirs[d%len(dirs)], d)
		add(fstree.Dir, dir)
		for i := range 25 {
			add(fstree.Regular, fmt.Sprintf("%s/f%02d%s", dir, i, exts[(d+i)%len(exts)]))
		}
	}
	tree := fstree.Squash([]*fstree.Layer{fstree.NewLayer(1, es...)})
	if tree.Len() < splitAt {
		t.Fatalf("%d final entries: too few to be searched in parts", tree.Len())
	}
	exec := map[string]string{"/app/src/d0000/f00.go": "go", "/opt/tool/lib/d0005/f05.so": "elf"}
	in := &analyze.Input{Tree: tree}
	type file struct {
		path string
		class
	}
	list := func(o *ownFiles) []file {
		var fs []file
		for f := range o.all() {
			fs = append(fs, file{f.e.Path(), *f.class})
		}
		return fs
	}
	want := list(&ownFiles{parts: []*ownList{discoverRange(in, exec, 0, 0, tree.Len())}})
	if len(want) < 10_000 {
		t.Fatalf("only %d own files", len(want))
	}
	for _, procs := range []int{1, 2, 3, 4} {
		old := runtime.GOMAXPROCS(procs)
		got := list((&Analyzer{}).discover(in, exec))
		runtime.GOMAXPROCS(old)
		if !slices.Equal(got, want) {
			t.Errorf("GOMAXPROCS %d: %d own files differ from one search's %d", procs, len(got), len(want))
		}
	}
	// And by parts: any cut gives the same files.
	for _, cut := range []int{1, 12_345, 40_000, tree.Len() - 1} {
		parts := &ownFiles{parts: []*ownList{discoverRange(in, exec, 0, 0, cut), discoverRange(in, exec, 0, cut, tree.Len())}}
		if got := list(parts); !slices.Equal(got, want) {
			t.Errorf("cut at %d: %d own files differ from one search's %d", cut, len(got), len(want))
		}
	}
}
