package keep

import (
	"bytes"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/imagetest"
	"github.com/shipshape-dev/shipshape/internal/slim/rootfs"
)

// fsOf loads a tree from files, name → content: names ending in "/" are
// directories, content "->target" makes a symbolic link.
func fsOf(t *testing.T, files map[string]string) *rootfs.FS {
	t.Helper()
	var layer imagetest.Layer
	for _, n := range slices.Sorted(maps.Keys(files)) {
		body := files[n]
		switch {
		case strings.HasSuffix(n, "/"):
			layer.Files = append(layer.Files, imagetest.Dir(n))
		case strings.HasPrefix(body, "->") && len(body) > 2:
			layer.Files = append(layer.Files, imagetest.Symlink(n, body[2:]))
		default:
			layer.Files = append(layer.Files, imagetest.Reg(n, body))
		}
	}
	fs, err := rootfs.Load(bytes.NewReader(layer.Tar()), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	return fs
}

func TestCompute(t *testing.T) {
	fs := fsOf(t, map[string]string{
		"bin/":                               "",
		"bin/sh":                             "->busybox",
		"bin/busybox":                        "\x7fELF not really",
		"usr/bin/python3":                    "->python3.11",
		"usr/bin/python3.11":                 "python",
		"usr/bin/env":                        "env",
		"app/run.sh":                         "#!/bin/sh\necho hi\n",
		"app/tool.py":                        "#!/usr/bin/env python3\n",
		"app/pkg/__init__.py":                "",
		"app/pkg/sub/__init__.py":            "",
		"app/pkg/sub/used.py":                "x",
		"app/pkg/sub/lazy.py":                "y",
		"app/pkg/other.py":                   "z",
		"app/unrelated.txt":                  "u",
		"srv/node_modules/left/package.json": "{}",
		"srv/node_modules/left/index.js":     "a",
		"srv/node_modules/left/lib/pad.js":   "b",
		"srv/node_modules/left/node_modules/dep/x.js": "c",
		"usr/share/zoneinfo/UTC":                      "tz",
		"usr/share/zoneinfo/Europe/Paris":             "tz",
		"usr/share/doc/python3/README":                "doc",
		"etc/passwd":                                  "root:x:0:0::/root:/bin/sh\n",
		"proc/":                                       "",
		"proc/cpuinfo":                                "",
		"tmp/":                                        "",
		"data/":                                       "",
		"data/a/b":                                    "b",
	})
	res, err := Compute(fs, Options{
		Touched: []string{"/app/run.sh", "/app/tool.py", "/app/pkg/sub/used.py", "/srv/node_modules/left/index.js",
			"/usr/share/zoneinfo/UTC", "/proc/cpuinfo", "/nonexistent"},
		Include:    []string{"/data"},
		WorkingDir: "/app",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"/app":                                "touched",
		"/app/run.sh":                         "touched",
		"/app/tool.py":                        "touched",
		"/bin/sh":                             "interpreter",
		"/bin/busybox":                        "interpreter",
		"/usr/bin/env":                        "interpreter",
		"/usr/bin/python3":                    "interpreter",
		"/usr/bin/python3.11":                 "interpreter",
		"/app/pkg":                            "touched",
		"/app/pkg/__init__.py":                "python-package",
		"/app/pkg/sub":                        "touched",
		"/app/pkg/sub/__init__.py":            "python-package",
		"/app/pkg/sub/used.py":                "touched",
		"/app/pkg/sub/lazy.py":                "python-package",
		"/app/pkg/other.py":                   "python-package",
		"/srv":                                "touched",
		"/srv/node_modules":                   "touched",
		"/srv/node_modules/left":              "touched",
		"/srv/node_modules/left/index.js":     "touched",
		"/srv/node_modules/left/package.json": "node-package",
		"/srv/node_modules/left/lib":          "node-package",
		"/srv/node_modules/left/lib/pad.js":   "node-package",
		"/usr":                                "touched",
		"/usr/bin":                            "interpreter",
		"/usr/share":                          "touched",
		"/usr/share/zoneinfo":                 "touched",
		"/usr/share/zoneinfo/UTC":             "touched",
		"/usr/share/zoneinfo/Europe":          "tzdata",
		"/usr/share/zoneinfo/Europe/Paris":    "tzdata",
		"/etc":                                "runtime",
		"/etc/passwd":                         "runtime",
		"/tmp":                                "runtime",
		"/data":                               "include-path",
		"/data/a":                             "include-path",
		"/data/a/b":                           "include-path",
		"/bin":                                "interpreter",
	}
	if !reflect.DeepEqual(res.Reasons, want) {
		for p, r := range res.Reasons {
			if want[p] != r {
				t.Errorf("kept %s because %q, want %q", p, r, want[p])
			}
		}
		for p, r := range want {
			if _, ok := res.Reasons[p]; !ok {
				t.Errorf("not kept: %s (%s)", p, r)
			}
		}
	}
}

func TestCategory(t *testing.T) {
	for p, want := range map[string]string{
		"/usr/share/doc/x/copyright":          "docs",
		"/usr/share/man/man1/ls.1.gz":         "docs",
		"/usr/include/stdio.h":                "headers",
		"/var/cache/apt/archives/x.deb":       "caches",
		"/app/__pycache__/a.cpython-311.pyc":  "caches",
		"/var/lib/dpkg/status":                "package-managers",
		"/usr/bin/apt-get":                    "package-managers",
		"/sbin/apk":                           "package-managers",
		"/bin/bash":                           "shells",
		"/usr/bin/dash":                       "shells",
		"/usr/lib/x86_64-linux-gnu/libz.so.1": "other",
	} {
		if got := Category(p); got != want {
			t.Errorf("Category(%s) = %s, want %s", p, got, want)
		}
	}
}

func TestLocaltimeDoesNotKeepEveryZone(t *testing.T) {
	fs := fsOf(t, map[string]string{
		"etc/localtime":                   "->/usr/share/zoneinfo/Etc/UTC",
		"usr/share/zoneinfo/Etc/UTC":      "utc",
		"usr/share/zoneinfo/Europe/Paris": "paris",
	})
	res, err := Compute(fs, Options{Touched: []string{"/etc/localtime"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := res.Reasons["/usr/share/zoneinfo/Etc/UTC"]; !ok {
		t.Error("the zone /etc/localtime points to was not kept")
	}
	if _, ok := res.Reasons["/usr/share/zoneinfo/Europe/Paris"]; ok {
		t.Error("reading /etc/localtime kept every zone")
	}
	res, _ = Compute(fs, Options{Touched: []string{"/usr/share/zoneinfo/Etc/UTC"}})
	if _, ok := res.Reasons["/usr/share/zoneinfo/Europe/Paris"]; !ok {
		t.Error("opening a zone by name did not keep the others")
	}
}
