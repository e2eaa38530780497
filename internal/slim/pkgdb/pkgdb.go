// Package pkgdb trims the package databases of a slimmed image (dpkg's
// status file, apk's installed database) to the packages that still have a
// file in it, so that inventories and vulnerability scanners see what the
// slimmed image really holds: neither every package of the original nor —
// as when the database is simply deleted — nothing at all.
package pkgdb

import (
	"archive/tar"
	"bufio"
	"bytes"
	"io"
	"path"
	"strings"

	"github.com/shipshape-dev/shipshape/internal/slim/rootfs"
)

// maxDB bounds a package database read into memory.
const maxDB = 256 << 20

// Result is the trimmed databases.
type Result struct {
	// Files are new contents by path.
	Files map[string][]byte
	// Keep are further paths to keep (dpkg's per-package file lists).
	Keep []string
	// Before and After count installed packages.
	Before, After int
}

// Trim rewrites the package databases of fs for the kept paths.
func Trim(fs *rootfs.FS, kept map[string]bool) (*Result, error) {
	res := &Result{Files: map[string][]byte{}}
	if err := trimDpkg(fs, kept, res); err != nil {
		return nil, err
	}
	if err := trimApk(fs, kept, res); err != nil {
		return nil, err
	}
	return res, nil
}

func read(fs *rootfs.FS, p string) ([]byte, bool) {
	e := fs.Lookup(p)
	if e == nil || e.Header.Typeflag != tar.TypeReg {
		return nil, false
	}
	b, err := io.ReadAll(io.LimitReader(fs.Open(e), maxDB))
	return b, err == nil
}

// stanzas splits an RFC 822-style database on blank lines.
func stanzas(b []byte) [][]byte {
	var out [][]byte
	for _, s := range bytes.Split(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")), []byte("\n\n")) {
		if len(bytes.TrimSpace(s)) > 0 {
			out = append(out, bytes.TrimRight(s, "\n"))
		}
	}
	return out
}

func field(stanza []byte, name string) string {
	sc := bufio.NewScanner(bytes.NewReader(stanza))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func trimDpkg(fs *rootfs.FS, kept map[string]bool, res *Result) error {
	const status = "/var/lib/dpkg/status"
	b, ok := read(fs, status)
	if !ok {
		return nil
	}
	var out bytes.Buffer
	for _, st := range stanzas(b) {
		name, arch := field(st, "Package"), field(st, "Architecture")
		if name == "" || !strings.Contains(field(st, "Status"), "installed") {
			continue
		}
		res.Before++
		for _, list := range []string{"/var/lib/dpkg/info/" + name + ".list", "/var/lib/dpkg/info/" + name + ":" + arch + ".list"} {
			lb, ok := read(fs, list)
			if !ok || !anyKept(fs, kept, strings.Split(string(lb), "\n")) {
				continue
			}
			out.Write(st)
			out.WriteString("\n\n")
			res.After++
			res.Keep = append(res.Keep, list)
			break
		}
	}
	res.Files[status] = out.Bytes()
	return nil
}

func trimApk(fs *rootfs.FS, kept map[string]bool, res *Result) error {
	const installed = "/lib/apk/db/installed"
	b, ok := read(fs, installed)
	if !ok {
		return nil
	}
	var out bytes.Buffer
	for _, st := range stanzas(b) {
		if field(st, "P") == "" {
			continue
		}
		res.Before++
		var files []string
		dir := ""
		for _, line := range strings.Split(string(st), "\n") {
			switch {
			case strings.HasPrefix(line, "F:"):
				dir = line[2:]
			case strings.HasPrefix(line, "R:"):
				files = append(files, path.Join("/", dir, line[2:]))
			}
		}
		if anyKept(fs, kept, files) {
			out.Write(st)
			out.WriteString("\n\n")
			res.After++
		}
	}
	res.Files[installed] = out.Bytes()
	return nil
}

// anyKept reports whether a regular file or link among paths is kept.
func anyKept(fs *rootfs.FS, kept map[string]bool, paths []string) bool {
	for _, p := range paths {
		p = strings.TrimSpace(p)
		if p == "" || !kept[path.Clean(p)] {
			continue
		}
		if e := fs.Lookup(p); e != nil && e.Header.Typeflag != tar.TypeDir {
			return true
		}
	}
	return false
}
