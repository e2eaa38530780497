// Package keep decides which files of an image a slimmed image keeps: the
// files the application touched, the ELF closure of every kept executable
// and library, the symbolic links and directories on the way to them,
// explicitly included paths, and the language-aware closures applications
// load lazily (Python packages, Node package trees), plus CA certificates,
// timezone data and name-service files when the application used them.
package keep

import (
	"archive/tar"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/shipshape-dev/shipshape/internal/slim/elfdeps"
	"github.com/shipshape-dev/shipshape/internal/slim/rootfs"
)

// Options are the inputs of a keep-set computation.
type Options struct {
	Touched     []string // paths the sensor saw used
	Include     []string // --include-path: kept with everything below
	IncludeBins []string // --include-bin: kept with their ELF closure
	Preserve    []string // --preserve-path: kept unchanged, whole
	Env         []string // the image's environment (LD_LIBRARY_PATH)
	WorkingDir  string
}

// Result is a keep set.
type Result struct {
	// Reasons maps each kept path to why it was kept.
	Reasons map[string]string
	// MissingLibs maps ELF files to libraries they need that the image
	// does not have.
	MissingLibs map[string][]string
}

// Paths returns the kept paths in sorted order.
func (r *Result) Paths() []string {
	out := make([]string, 0, len(r.Reasons))
	for p := range r.Reasons {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

type item struct {
	path, reason string
	whole        bool
	skipNodeMods bool
}

type computer struct {
	fs      *rootfs.FS
	elf     *elfdeps.Resolver
	res     *Result
	queue   []item
	done    map[string]bool // processed (path, whole) pairs
	wholeOK map[string]bool
}

// Groups of files an application needs all of once it uses one of them.
var groups = []struct {
	reason   string
	triggers []string // path prefixes (ending in /) or exact paths
	keep     []string // kept whole
}{
	{"ca-certificates",
		[]string{"/etc/ssl/", "/etc/pki/", "/usr/share/ca-certificates/", "/etc/ca-certificates/", "/usr/local/share/ca-certificates/", "/etc/ca-certificates.conf"},
		[]string{"/etc/ssl", "/etc/pki", "/usr/share/ca-certificates", "/etc/ca-certificates", "/usr/local/share/ca-certificates", "/etc/ca-certificates.conf"}},
	{"tzdata",
		[]string{"/usr/share/zoneinfo/", "/etc/timezone"},
		[]string{"/usr/share/zoneinfo", "/etc/localtime", "/etc/timezone"}},
	{"name-service",
		[]string{"/etc/passwd", "/etc/group", "/etc/nsswitch.conf", "/etc/hosts", "/etc/host.conf", "/etc/gai.conf", "/etc/resolv.conf", "/etc/services"},
		[]string{"/etc/passwd", "/etc/group", "/etc/nsswitch.conf", "/etc/host.conf", "/etc/gai.conf", "/etc/services", "/etc/protocols"}},
}

// Compute returns the keep set of fs.
func Compute(fs *rootfs.FS, o Options) (*Result, error) {
	c := &computer{
		fs: fs, elf: elfdeps.New(fs, o.Env),
		res:  &Result{Reasons: map[string]string{}, MissingLibs: map[string][]string{}},
		done: map[string]bool{}, wholeOK: map[string]bool{},
	}
	for _, p := range o.Touched {
		c.push(item{path: p, reason: "touched"})
	}
	for _, p := range o.Include {
		c.push(item{path: p, reason: "include-path", whole: true})
	}
	for _, p := range o.Preserve {
		c.push(item{path: p, reason: "preserve-path", whole: true})
	}
	for _, p := range o.IncludeBins {
		c.push(item{path: p, reason: "include-bin"})
	}
	// The engine resolves USER names itself before starting the image.
	for _, p := range []string{"/etc/passwd", "/etc/group", "/tmp", "/var/tmp", o.WorkingDir} {
		if p != "" {
			c.push(item{path: p, reason: "runtime"})
		}
	}
	// Scanners identify the distribution (and so its advisories) by these.
	for _, p := range []string{"/etc/os-release", "/usr/lib/os-release", "/etc/alpine-release", "/etc/debian_version",
		"/etc/redhat-release", "/etc/system-release", "/etc/lsb-release"} {
		c.push(item{path: p, reason: "distro-id"})
	}
	for len(c.queue) > 0 {
		it := c.queue[0]
		c.queue = c.queue[1:]
		if err := c.process(it); err != nil {
			return nil, err
		}
	}
	// Every kept path needs its parent directories.
	for _, p := range c.res.Paths() {
		for d := path.Dir(p); d != "/"; d = path.Dir(d) {
			if _, ok := c.res.Reasons[d]; ok {
				break
			}
			if e := fs.Lookup(d); e != nil {
				c.res.Reasons[d] = "parent"
			}
		}
	}
	return c.res, nil
}

func (c *computer) push(it item) {
	key := fmt.Sprintf("%s\x00%t", it.path, it.whole)
	if c.done[key] {
		return
	}
	c.done[key] = true
	c.queue = append(c.queue, it)
}

// ignored are paths the engine provides at run time.
func ignored(p string) bool {
	for _, d := range []string{"/proc/", "/sys/", "/dev/"} {
		if strings.HasPrefix(p, d) {
			return true
		}
	}
	return p == "/.dockerenv"
}

func (c *computer) keep(e *rootfs.Entry, reason string) {
	if e.Path == "/" || ignored(e.Path) {
		return
	}
	if _, ok := c.res.Reasons[e.Path]; !ok {
		c.res.Reasons[e.Path] = reason
	}
}

func (c *computer) process(it item) error {
	if !strings.HasPrefix(it.path, "/") || ignored(path.Clean(it.path)) {
		return nil
	}
	real, e, err := c.fs.Resolve(it.path, func(x *rootfs.Entry) {
		c.keep(x, it.reason)
		if x.Header.Typeflag == tar.TypeSymlink {
			c.keep(x, "symlink")
		}
	})
	if err != nil || e == nil {
		return nil // dangling or missing: nothing to keep
	}
	switch e.Header.Typeflag {
	case tar.TypeDir:
		if it.whole && !c.wholeOK[real] {
			c.wholeOK[real] = true
			for _, p := range c.fs.Under(real) {
				if it.skipNodeMods && strings.Contains(strings.TrimPrefix(p, real)+"/", "/node_modules/") {
					continue
				}
				sub := c.fs.Lookup(p)
				c.keep(sub, it.reason)
				switch sub.Header.Typeflag {
				case tar.TypeSymlink:
					c.push(item{path: p, reason: "symlink"})
				case tar.TypeReg:
					c.push(item{path: p, reason: it.reason})
				}
			}
		}
	case tar.TypeReg:
		c.keep(e, it.reason)
		c.fileClosure(real, e)
		c.groupClosure(path.Clean(it.path))
	}
	return nil
}

// fileClosure queues what a kept regular file brings along.
func (c *computer) fileClosure(p string, e *rootfs.Entry) {
	if info, ok, err := elfdeps.Parse(c.fs.Open(e)); ok && err == nil {
		deps, missing := c.elf.Deps(p, info)
		for _, d := range deps {
			c.push(item{path: d, reason: "elf-closure"})
		}
		if len(missing) > 0 {
			c.res.MissingLibs[p] = missing
		}
		// glibc's loader finds ld.so.conf directories through this cache.
		if strings.Contains(info.Interp, "ld-linux") {
			c.push(item{path: "/etc/ld.so.cache", reason: "elf-closure"})
		}
	}
	for _, interp := range c.shebang(e) {
		c.push(item{path: interp, reason: "interpreter"})
	}
	if top := c.pythonPackage(p); top != "" {
		c.push(item{path: top, reason: "python-package", whole: true})
	}
	if pkg := c.nodePackage(p); pkg != "" {
		c.push(item{path: pkg, reason: "node-package", whole: true, skipNodeMods: true})
	}
}

// groupClosure keeps a whole group (all CA certificates, all zones …) when
// the application named one of its files. It looks at the path as named:
// /etc/localtime resolving into /usr/share/zoneinfo does not pull in every
// zone, opening /usr/share/zoneinfo/Europe/Paris does.
func (c *computer) groupClosure(p string) {
	for _, g := range groups {
		for _, t := range g.triggers {
			if p == t || (strings.HasSuffix(t, "/") && strings.HasPrefix(p, t)) {
				for _, k := range g.keep {
					c.push(item{path: k, reason: g.reason, whole: true})
				}
				break
			}
		}
	}
}

// shebang returns the interpreter of a script ("#!/bin/sh"): the kernel
// opens it without a system call the sensor can see. For "#!/usr/bin/env
// NAME" it returns NAME in every usual PATH directory.
func (c *computer) shebang(e *rootfs.Entry) []string {
	var head [256]byte
	n, _ := c.fs.Open(e).ReadAt(head[:], 0)
	if n < 3 || string(head[:2]) != "#!" {
		return nil
	}
	line, _, _ := strings.Cut(string(head[2:n]), "\n")
	f := strings.Fields(line)
	if len(f) == 0 || !strings.HasPrefix(f[0], "/") {
		return nil
	}
	out := []string{f[0]}
	if path.Base(f[0]) == "env" {
		for _, arg := range f[1:] {
			if strings.HasPrefix(arg, "-") {
				continue
			}
			for _, d := range []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"} {
				out = append(out, d+"/"+arg)
			}
			break
		}
	}
	return out
}

// pythonPackage returns the top-level package directory of a Python
// module file: the highest ancestor chain of directories with __init__.py.
func (c *computer) pythonPackage(p string) string {
	switch path.Ext(p) {
	case ".py", ".pyc", ".so", ".pyi":
	default:
		return ""
	}
	d := path.Dir(p)
	if path.Base(d) == "__pycache__" {
		d = path.Dir(d)
	}
	top := ""
	for d != "/" && (c.fs.Lookup(d+"/__init__.py") != nil || c.fs.Lookup(d+"/__init__.pyc") != nil) {
		top = d
		d = path.Dir(d)
	}
	return top
}

// nodePackage returns the directory of the nearest package.json above a
// JavaScript module file.
func (c *computer) nodePackage(p string) string {
	switch path.Ext(p) {
	case ".js", ".mjs", ".cjs", ".node", ".json":
	default:
		return ""
	}
	for d := path.Dir(p); d != "/"; d = path.Dir(d) {
		if path.Base(d) == "node_modules" {
			return ""
		}
		if e := c.fs.Lookup(d + "/package.json"); e != nil && e.Header.Typeflag == tar.TypeReg {
			return d
		}
	}
	return ""
}

// Category names the kind of file a removed path is, for the report.
func Category(p string) string {
	base := path.Base(p)
	switch {
	case strings.HasPrefix(p, "/usr/share/doc/"), strings.HasPrefix(p, "/usr/share/man/"), strings.HasPrefix(p, "/usr/share/info/"),
		strings.HasPrefix(p, "/usr/share/locale/"), strings.HasPrefix(p, "/usr/share/i18n/"), strings.HasPrefix(p, "/usr/share/lintian/"):
		return "docs"
	case strings.HasPrefix(p, "/usr/include/"), strings.HasSuffix(p, ".h"), strings.HasSuffix(p, ".a"):
		return "headers"
	case strings.HasPrefix(p, "/var/cache/"), strings.HasPrefix(p, "/var/lib/apt/lists/"), strings.Contains(p, "/__pycache__/"),
		strings.Contains(p, "/.cache/"), strings.Contains(p, "/.npm/"):
		return "caches"
	case strings.HasPrefix(p, "/var/lib/dpkg/"), strings.HasPrefix(p, "/var/lib/apt/"), strings.HasPrefix(p, "/lib/apk/"), strings.HasPrefix(p, "/etc/apk/"),
		strings.HasPrefix(p, "/var/lib/rpm/"), strings.HasPrefix(p, "/etc/apt/"), strings.HasPrefix(p, "/etc/dpkg/"), strings.HasPrefix(p, "/usr/lib/apt/"),
		strings.HasPrefix(p, "/usr/lib/dpkg/"), strings.HasPrefix(p, "/usr/share/dpkg/"):
		return "package-managers"
	}
	switch base {
	case "apt", "apt-get", "apt-cache", "apt-config", "apt-key", "apt-mark", "dpkg", "dpkg-deb", "dpkg-query", "dpkg-divert", "dpkg-split",
		"apk", "yum", "dnf", "rpm", "microdnf", "pip", "pip3", "npm", "npx", "gem":
		return "package-managers"
	case "sh", "bash", "dash", "ash", "zsh", "ksh", "busybox", "rbash":
		if strings.Contains(p, "/bin/") {
			return "shells"
		}
	}
	return "other"
}
