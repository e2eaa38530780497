package owncode

import (
	"path"
	"strings"
	"testing"
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
